// The worked example of methods/README.md ("Adding a method"): a complete selection method in one
// file. It is compiled into the tests and exercised by test_example_method.cpp, so the README's
// example always builds and works. To add a real method, put a file like this in methods/.
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "methods/method.h"

namespace dq {
namespace {

// Farthest-from-the-class-mean first: a (deliberately simple) "hard examples" heuristic.
class FarthestFromMean final : public PerClassMethod {
 public:
  explicit FarthestFromMean(const Params& params) : theta_(params.get_double("theta")) {}

  ClassSelection select_class(const ClassView& cls, uint64_t /*seed: unused, no randomness*/, const SelectContext& ctx) override {
    auto timer = ctx.timer.scope("scoring");  // recorded as select/scoring
    const int64_t m = cls.size();
    // Large buffers declare themselves first, so an oversized class ends as OOM, not as a crash.
    auto reservation = ctx.memory.reserve(static_cast<uint64_t>(m) * sizeof(double), "farthest: distances");
    std::vector<double> mean(static_cast<size_t>(cls.d), 0.0), dist(static_cast<size_t>(m), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < cls.d; ++k) mean[static_cast<size_t>(k)] += cls.row(i)[k] / static_cast<double>(m);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < cls.d; ++k) {
        const double diff = cls.row(i)[k] - mean[static_cast<size_t>(k)];
        dist[static_cast<size_t>(i)] += diff * diff;
      }
    std::vector<int64_t> order(static_cast<size_t>(m));
    std::iota(order.begin(), order.end(), 0);
    // Farthest first; ties to the lower position, so the result never depends on the sort.
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return dist[static_cast<size_t>(a)] > dist[static_cast<size_t>(b)]; });
    const int64_t count = budget_count(ctx.ratio, m, theta_);  // the shared rounding rule
    ClassSelection out;
    for (int64_t i = 0; i < count; ++i) out.ids.push_back(cls.ids[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    out.keep.assign(out.ids.size(), static_cast<float>(1.0 - theta_));
    out.diagnostics["max_distance"] = m ? dist[static_cast<size_t>(order[0])] : 0.0;
    return out;
  }

 private:
  double theta_;
};

MethodInfo make_farthest_from_mean_info() {
  return {"example_farthest",
          "Worked example: samples farthest from their class mean first.",
          {{"theta", ParamType::Double, 0.0, "fixed patch-drop ratio (storage accounting)", {}, 0.0, 0.95}},
          [](const Params& p) -> std::unique_ptr<SelectionMethod> { return std::make_unique<FarthestFromMean>(p); }};
}

}  // namespace
DQ_REGISTER_METHOD(make_farthest_from_mean_info);  // the one registration line
}  // namespace dq
