#pragma once
// The BGFDQ paper's (CVPR 2026) published numbers, in one place, each with the table it comes from.
// The tables put ours beside these. Datasets use report/labels.h's keys ("cifar10", "cifar100",
// "imagenet1k", "fakeddit"); rows use the paper's row labels.
#include <optional>
#include <span>
#include <string>

namespace dq {

struct PaperNumber {
  const char* source;   // "Table 1", "Table 4", "Table 5", "text (cross-architecture)"
  const char* dataset;  // paper dataset key
  double ratio;         // coreset ratio (Table 5: samples / 50,000; cross-architecture: 0 = not stated)
  const char* row;      // "Random", "DQ", "DQAS", "ADQ", "BGFDQ w/o SPD", "BGFDQ w/ SPD", "RS", ...
  const char* column;   // "top1" (%), "bin_gen_s", "neighbour_id_s", "patch_drop_s", "total_s",
                        // or a target architecture for cross-architecture ("vit")
  double value;         // meaningless when `status` is set
  const char* status;   // "" = a number; "OOM" = the paper reports out of memory; "–" = not reported
};

std::span<const PaperNumber> paper_numbers();

// The entry for (source, dataset, ratio, row, column); ratios compare to 1e-9.
std::optional<PaperNumber> find_paper_number(const std::string& source, const std::string& dataset, double ratio,
                                             const std::string& row, const std::string& column);

// "87.1", "OOM", "–" (digits after the point: `digits`); "" when there is no entry.
std::string paper_cell(const std::optional<PaperNumber>& number, int digits = 1);

}  // namespace dq
