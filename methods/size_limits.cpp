// Size limits a user can reach (methods/size_limits.h).
#include "methods/size_limits.h"

#include <fmt/format.h>

#include "core/error.h"

namespace dq {

void check_search_rows(int64_t rows, const std::string& what) {
  if (rows > kMaxSearchRows)
    throw Error(fmt::format("{}: {} samples exceed the nearest-neighbour search's int32 ids (at most {} samples "
                            "per class); split the class or sample it first",
                            what, rows, kMaxSearchRows));
}

void check_search_dims(int64_t dims, const std::string& what) {
  if (dims < 1 || dims > kMaxSearchDims)
    throw Error(fmt::format("{}: {}-dimensional embeddings are outside the nearest-neighbour search's range "
                            "(1 to {} dimensions, where its error bound is proven)",
                            what, dims, kMaxSearchDims));
}

void check_class_search_size(int64_t label, int64_t rows, int64_t dims) {
  const std::string what = fmt::format("class {}", label);
  check_search_rows(rows, what);
  check_search_dims(dims, what);
}

}  // namespace dq
