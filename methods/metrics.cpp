// Selection quality per class through the exact tiled search of methods/knn/search.h: the nearest selected
// sample of every class member (coverage, mean nearest-selected distance) and the nearest other
// selected sample of every pick (redundancy). Classes without picks have no coverage and classes with
// fewer than two picks no redundancy; they are left out of those summaries and counted.
#include "methods/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/error.h"
#include "methods/knn/search.h"
#include "methods/size_limits.h"

namespace dq {

std::map<std::string, double> selection_metrics(std::span<const ClassView> classes,
                                                std::span<const ClassSelection> selections, MemoryBudget& memory) {
  DQ_ASSERT(classes.size() == selections.size(), "one selection per class");
  const double inf = std::numeric_limits<double>::infinity();
  double coverage_sum = 0, coverage_max = -inf, nearest_sum = 0;
  double redundancy_sum = 0, redundancy_min = inf, selected_nn_sum = 0;
  int64_t covered_classes = 0, covered_samples = 0, redundancy_classes = 0, selected_nn_count = 0;
  int64_t total = 0, picked = 0;
  double kept = 0;

  for (size_t c = 0; c < classes.size(); ++c) {
    const ClassView& cls = classes[c];
    const ClassSelection& sel = selections[c];
    total += cls.size();
    picked += static_cast<int64_t>(sel.ids.size());
    for (float w : sel.keep) kept += w;
    if (sel.ids.empty()) continue;
    check_class_search_size(cls.label, cls.size(), cls.d);

    std::unordered_map<int64_t, int64_t> row_of;
    row_of.reserve(cls.ids.size());
    for (size_t i = 0; i < cls.ids.size(); ++i) row_of.emplace(cls.ids[i], static_cast<int64_t>(i));
    const int64_t s = static_cast<int64_t>(sel.ids.size());
    auto reservation = memory.reserve(static_cast<uint64_t>(s * cls.d) * sizeof(float), "metrics selected rows");
    std::vector<float> chosen(static_cast<size_t>(s * cls.d));
    for (int64_t t = 0; t < s; ++t) {
      auto it = row_of.find(sel.ids[static_cast<size_t>(t)]);
      DQ_ASSERT(it != row_of.end(), "a method selected a sample outside its class");
      std::copy_n(cls.row(it->second), cls.d, chosen.data() + t * cls.d);
    }
    const RowMatrix all{cls.z, cls.size(), cls.d};
    const RowMatrix picks{chosen.data(), s, cls.d};
    const ExactSearchOptions nearest_one{1, 256ull << 20};

    const NeighbourLists to_selection = exact_knn(all, picks, {}, nearest_one, memory);
    double class_max = 0;
    for (int64_t i = 0; i < cls.size(); ++i) {
      const double d = to_selection.dist_of(i)[0];
      class_max = std::max(class_max, d);
      nearest_sum += d;
    }
    coverage_sum += class_max;
    coverage_max = std::max(coverage_max, class_max);
    covered_samples += cls.size();
    ++covered_classes;

    if (s < 2) continue;
    std::vector<int64_t> self(static_cast<size_t>(s));
    std::iota(self.begin(), self.end(), 0);
    const NeighbourLists within = exact_knn(picks, picks, self, nearest_one, memory);
    double class_min = inf;
    for (int64_t t = 0; t < s; ++t) {
      const double d = within.dist_of(t)[0];
      class_min = std::min(class_min, d);
      selected_nn_sum += d;
    }
    selected_nn_count += s;
    redundancy_sum += class_min;
    redundancy_min = std::min(redundancy_min, class_min);
    ++redundancy_classes;
  }

  // A summary over nothing is undefined: it is left out (never NaN), so what is stored is a number.
  std::map<std::string, double> m;
  if (covered_classes) {
    m["coverage_mean"] = coverage_sum / static_cast<double>(covered_classes);
    m["coverage_max"] = coverage_max;
    m["nearest_selected_mean"] = nearest_sum / static_cast<double>(covered_samples);
  }
  if (redundancy_classes) {
    m["redundancy_mean"] = redundancy_sum / static_cast<double>(redundancy_classes);
    m["redundancy_min"] = redundancy_min;
    m["selected_nn_mean"] = selected_nn_sum / static_cast<double>(selected_nn_count);
  }
  m["classes_without_selection"] = static_cast<double>(classes.size()) - static_cast<double>(covered_classes);
  if (total) {
    m["realised_sample_ratio"] = static_cast<double>(picked) / static_cast<double>(total);
    m["realised_storage_ratio"] = kept / static_cast<double>(total);
  }
  return m;
}

}  // namespace dq
