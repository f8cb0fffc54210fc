#pragma once
// A filter over an experiment's cells, for `run --force FILTER`: space- or comma-separated terms
// `key=value`, all of which must match. Keys: dataset (the experiment's name for it), method (name,
// canonical spec, or the label tables show), ratio, seed, id (a prefix of the cell id). `all` matches
// every cell. Also `dqbench export --cells FILTER`.
// Example: --force "method=dq,ratio=0.1".
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "harness/experiment.h"

namespace dq {

struct CellFilter {
  std::vector<std::pair<std::string, std::string>> terms;  // empty: every cell
  bool matches(const CellConfig& cell) const;
};

// Throws dq::Error naming `where` for an unknown key or a term without '='.
CellFilter parse_cell_filter(const std::string& text, const std::string& where);

}  // namespace dq

namespace dq {
// "K/N" (1 <= K <= N) -> {K-1, N}: the shard of `run --shard`. Throws dq::Error otherwise.
std::pair<int64_t, int64_t> parse_shard(const std::string& text);
}  // namespace dq
