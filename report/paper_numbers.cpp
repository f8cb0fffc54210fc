#include "report/paper_numbers.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace dq {

namespace {
constexpr double kNone = 0;
// Table 1: validation top-1 (%), ResNet-18 as extractor and target.
// Table 4: runtime in seconds on CIFAR-10 at 20% (one RTX 4070 SUPER); accuracy repeats Table 1.
// Table 5: selection strategy without patch dropping, CIFAR-10, ResNet-18; 5K/10K/15K of 50,000.
// Text: cross-architecture, CIFAR-100 on ViT (ratio not stated).
constexpr std::array kNumbers = {
    PaperNumber{"Table 1", "cifar10", 0.2, "Random", "top1", 87.1, ""},
    PaperNumber{"Table 1", "cifar10", 0.2, "DQ", "top1", 87.6, ""},
    PaperNumber{"Table 1", "cifar10", 0.2, "DQAS", "top1", 90.2, ""},
    PaperNumber{"Table 1", "cifar10", 0.2, "ADQ", "top1", 89.3, ""},
    PaperNumber{"Table 1", "cifar10", 0.2, "BGFDQ w/o SPD", "top1", 90.5, ""},
    PaperNumber{"Table 1", "cifar10", 0.2, "BGFDQ w/ SPD", "top1", 91.6, ""},
    PaperNumber{"Table 1", "cifar100", 0.2, "Random", "top1", 60.5, ""},
    PaperNumber{"Table 1", "cifar100", 0.2, "DQ", "top1", 60.4, ""},
    PaperNumber{"Table 1", "cifar100", 0.2, "DQAS", "top1", 61.0, ""},
    PaperNumber{"Table 1", "cifar100", 0.2, "ADQ", "top1", 59.1, ""},
    PaperNumber{"Table 1", "cifar100", 0.2, "BGFDQ w/o SPD", "top1", 62.8, ""},
    PaperNumber{"Table 1", "cifar100", 0.2, "BGFDQ w/ SPD", "top1", 66.0, ""},
    PaperNumber{"Table 1", "cifar100", 0.1, "Random", "top1", 52.6, ""},
    PaperNumber{"Table 1", "cifar100", 0.1, "DQ", "top1", 52.9, ""},
    PaperNumber{"Table 1", "cifar100", 0.1, "DQAS", "top1", 52.6, ""},
    PaperNumber{"Table 1", "cifar100", 0.1, "ADQ", "top1", 52.7, ""},
    PaperNumber{"Table 1", "cifar100", 0.1, "BGFDQ w/o SPD", "top1", 53.6, ""},
    PaperNumber{"Table 1", "cifar100", 0.1, "BGFDQ w/ SPD", "top1", 55.2, ""},
    PaperNumber{"Table 1", "imagenet1k", 0.2, "Random", "top1", 48.7, ""},
    PaperNumber{"Table 1", "imagenet1k", 0.2, "DQ", "top1", 49.1, ""},
    PaperNumber{"Table 1", "imagenet1k", 0.2, "DQAS", "top1", kNone, "–"},
    PaperNumber{"Table 1", "imagenet1k", 0.2, "ADQ", "top1", 49.2, ""},
    PaperNumber{"Table 1", "imagenet1k", 0.2, "BGFDQ w/o SPD", "top1", 49.4, ""},
    PaperNumber{"Table 1", "imagenet1k", 0.2, "BGFDQ w/ SPD", "top1", 49.5, ""},
    PaperNumber{"Table 1", "fakeddit", 0.01, "Random", "top1", 83.3, ""},
    PaperNumber{"Table 1", "fakeddit", 0.01, "DQ", "top1", kNone, "OOM"},
    PaperNumber{"Table 1", "fakeddit", 0.01, "DQAS", "top1", kNone, "OOM"},
    PaperNumber{"Table 1", "fakeddit", 0.01, "ADQ", "top1", kNone, "OOM"},
    PaperNumber{"Table 1", "fakeddit", 0.01, "BGFDQ w/o SPD", "top1", 83.4, ""},
    PaperNumber{"Table 1", "fakeddit", 0.01, "BGFDQ w/ SPD", "top1", 83.8, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "DQ", "bin_gen_s", 441, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "DQ", "neighbour_id_s", kNone, "–"},
    PaperNumber{"Table 4", "cifar10", 0.2, "DQ", "patch_drop_s", 806, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "DQ", "total_s", 1248, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "DQ", "top1", 87.6, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "ADQ", "bin_gen_s", 441, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "ADQ", "neighbour_id_s", kNone, "–"},
    PaperNumber{"Table 4", "cifar10", 0.2, "ADQ", "patch_drop_s", 806, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "ADQ", "total_s", 1640, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "ADQ", "top1", 89.3, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/o SPD", "bin_gen_s", kNone, "–"},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/o SPD", "neighbour_id_s", 155, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/o SPD", "patch_drop_s", 806, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/o SPD", "total_s", 1052, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/o SPD", "top1", 90.5, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/ SPD", "bin_gen_s", kNone, "–"},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/ SPD", "neighbour_id_s", 155, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/ SPD", "patch_drop_s", 2219, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/ SPD", "total_s", 2465, ""},
    PaperNumber{"Table 4", "cifar10", 0.2, "BGFDQ w/ SPD", "top1", 91.6, ""},
    PaperNumber{"Table 5", "cifar10", 0.1, "RS", "top1", 75.7, ""},
    PaperNumber{"Table 5", "cifar10", 0.2, "RS", "top1", 87.1, ""},
    PaperNumber{"Table 5", "cifar10", 0.3, "RS", "top1", 90.2, ""},
    PaperNumber{"Table 5", "cifar10", 0.1, "BG+RS", "top1", 75.9, ""},
    PaperNumber{"Table 5", "cifar10", 0.2, "BG+RS", "top1", 87.0, ""},
    PaperNumber{"Table 5", "cifar10", 0.3, "BG+RS", "top1", 90.1, ""},
    PaperNumber{"Table 5", "cifar10", 0.1, "NI+NCS", "top1", 76.4, ""},
    PaperNumber{"Table 5", "cifar10", 0.2, "NI+NCS", "top1", 87.6, ""},
    PaperNumber{"Table 5", "cifar10", 0.3, "NI+NCS", "top1", 90.5, ""},
    PaperNumber{"text (cross-architecture)", "cifar100", 0, "BGFDQ w/ SPD", "vit", 35.7, ""},
    PaperNumber{"text (cross-architecture)", "cifar100", 0, "ADQ", "vit", 30.9, ""},
};
}  // namespace

std::span<const PaperNumber> paper_numbers() { return kNumbers; }

std::optional<PaperNumber> find_paper_number(const std::string& source, const std::string& dataset, double ratio,
                                             const std::string& row, const std::string& column) {
  for (const auto& p : kNumbers)
    if (source == p.source && dataset == p.dataset && std::fabs(ratio - p.ratio) < 1e-9 && row == p.row &&
        column == p.column)
      return p;
  return std::nullopt;
}

std::string paper_cell(const std::optional<PaperNumber>& p, int digits) {
  if (!p) return "";
  if (*p->status) return p->status;
  return fmt::format("{:.{}f}", p->value, digits);
}

}  // namespace dq
