// Size limits a user can reach (methods/size_limits.h) are dq::Errors naming the class and the size,
// reached here through the public entry points with sizes that are never allocated: every check
// runs before its input is read or any buffer reserved (the row pointers are null).
#include <catch2/catch.hpp>

#include <vector>

#include "core/error.h"
#include "core/memory_budget.h"
#include "methods/duplicate_rows.h"
#include "methods/knn/knn.h"
#include "methods/knn/search.h"
#include "methods/metrics.h"
#include "methods/size_limits.h"

using namespace dq;

TEST_CASE("size limits: the bounds themselves, with the class and the size in the message", "[limits]") {
  CHECK(kMaxSearchRows == 2147483646);
  CHECK(kMaxSearchDims == 8388607);
  CHECK_NOTHROW(check_search_rows(kMaxSearchRows, "class 3"));
  CHECK_THROWS_AS(check_search_rows(kMaxSearchRows + 1, "class 3"), Error);
  CHECK_THROWS_WITH(check_search_rows(kMaxSearchRows + 1, "class 3"),
                    Catch::StartsWith("class 3: 2147483647 samples exceed") && Catch::Contains("at most 2147483646"));
  CHECK_NOTHROW(check_search_dims(1, "class 3"));
  CHECK_NOTHROW(check_search_dims(kMaxSearchDims, "class 3"));
  CHECK_THROWS_WITH(check_search_dims(kMaxSearchDims + 1, "class 3"),
                    Catch::StartsWith("class 3: 8388608-dimensional embeddings"));
  CHECK_THROWS_WITH(check_search_dims(0, "class 3"), Catch::StartsWith("class 3: 0-dimensional"));
  CHECK_THROWS_WITH(check_class_search_size(7, 10, kMaxSearchDims + 1), Catch::StartsWith("class 7: 8388608-dim"));
  CHECK_THROWS_WITH(check_class_search_size(-2, kMaxSearchRows + 5, 4), Catch::StartsWith("class -2: 2147483651 samples"));
}

TEST_CASE("size limits: a class too large or too wide is an error at each entry, not an assert", "[limits]") {
  MemoryBudget memory(1ull << 20);  // nothing may be reserved before the checks
  const int64_t too_many = kMaxSearchRows + 1;
  // GraphCut's and KNN's duplicate grouping (group ids are int32).
  CHECK_THROWS_WITH(duplicate_groups(nullptr, too_many, 3), Catch::StartsWith("duplicate rows: 2147483647 samples"));
  // The public exact searches.
  const std::vector<float> one_row(4, 0.0f);
  CHECK_THROWS_WITH(exact_self_knn(RowMatrix{nullptr, too_many, 4}, 0, ExactSearchOptions{}, memory),
                    Catch::Contains("2147483647 samples exceed"));
  CHECK_THROWS_WITH(exact_knn(RowMatrix{one_row.data(), 1, 4}, RowMatrix{nullptr, too_many, 4}, {}, ExactSearchOptions{}, memory),
                    Catch::StartsWith("the exact KNN search's base: 2147483647 samples"));
  // BGFDQ's graph and the selection metrics name the class.
  const std::vector<int64_t> ids = {10, 11};
  const ClassView wide{.label = 5, .ids = ids, .z = nullptr, .d = kMaxSearchDims + 1};
  CHECK_THROWS_WITH(build_knn_graph(wide, KnnGraphOptions{}, memory, CellResources{}, nullptr),
                    Catch::StartsWith("class 5: 8388608-dimensional embeddings"));
  ClassSelection picked;
  picked.ids = {10};
  picked.keep = {1.0f};
  CHECK_THROWS_WITH(selection_metrics(std::span<const ClassView>(&wide, 1), std::span<const ClassSelection>(&picked, 1), memory),
                    Catch::StartsWith("class 5: 8388608-dimensional embeddings"));
  CHECK(memory.peak() == 0);
}
