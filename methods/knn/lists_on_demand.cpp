// Exact lists of chosen rows, asked for in batches (search.h, ExactListsOnDemand): the class is
// prepared for the tiles once, each batch is one one-sided tiled search of its rows against it.
#include <algorithm>

#include "core/error.h"
#include "methods/knn/internal/prepared_rows.h"
#include "methods/knn/internal/tiled_search.h"
#include "methods/knn/search.h"
#include "methods/size_limits.h"

namespace dq {

struct ExactListsOnDemand::Impl {
  RowMatrix z;
  ExactSearchOptions options;
  std::vector<float> mean;
  detail::PreparedRows prepared;
  int64_t rows_listed = 0;
};

ExactListsOnDemand::ExactListsOnDemand(RowMatrix z, const ExactSearchOptions& options, MemoryBudget& memory)
    : impl_(std::make_unique<Impl>()) {
  check_search_rows(z.rows, "the exact KNN search's base");
  impl_->z = z;
  impl_->options = options;
  impl_->mean = detail::column_mean(z);
  impl_->prepared =
      detail::prepare_rows(z, impl_->mean.data(), memory, "knn rows for lists on demand", options.nomination, detail::Bf16Use::Panels);
}

ExactListsOnDemand::~ExactListsOnDemand() = default;

NeighbourLists ExactListsOnDemand::lists_of(std::span<const int64_t> rows, MemoryBudget& memory) {
  const RowMatrix z = impl_->z;
  const int64_t d = z.cols, nq = static_cast<int64_t>(rows.size());
  for (const int64_t r : rows) DQ_ASSERT(r >= 0 && r < z.rows, "a row outside the class");
  auto reservation = memory.reserve(static_cast<uint64_t>(nq) * static_cast<uint64_t>(d) * sizeof(float), "knn rows asked for");
  std::vector<float> queries(static_cast<size_t>(nq * d));
  for (int64_t q = 0; q < nq; ++q) std::copy_n(z.row(rows[static_cast<size_t>(q)]), d, queries.data() + q * d);
  detail::TiledSearch s;
  s.queries = RowMatrix{queries.data(), nq, d};
  s.base = z;
  s.prepared_base = &impl_->prepared;
  s.base_mean = impl_->mean.data();
  s.self_in_base = rows;
  s.options = impl_->options;
  impl_->rows_listed += nq;
  return detail::tiled_search(s, memory).lists;
}

Nomination ExactListsOnDemand::nomination() const { return impl_->prepared.nomination; }
int64_t ExactListsOnDemand::rows_listed() const { return impl_->rows_listed; }

}  // namespace dq
