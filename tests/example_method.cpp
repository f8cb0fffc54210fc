// The worked example of methods/README.md ("Adding a method"): a complete selection method in one
// file. It is compiled into the tests and exercised by test_example_method.cpp, so the README's
// example always builds and works. To add a real method, put a file like this in methods/.
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/param_table.h"
#include "methods/method.h"

namespace dq {
namespace {

// The method's parameters: each member's initialiser is the parameter's default.
struct FarthestOptions {
  double theta = 0.0;  // fixed patch-drop ratio
};

// Each parameter declared once: its row (name, help, bounds) bound to its member.
const ParamTable<FarthestOptions>& farthest_params() {
  static const ParamTable<FarthestOptions> table{{
      field({.name = "theta", .help = "fixed patch-drop ratio (storage accounting)", .min = 0, .max = 0.95},
            &FarthestOptions::theta),
  }};
  return table;
}

// Farthest-from-the-class-mean first: a (deliberately simple) "hard examples" heuristic.
class FarthestFromMean final : public PerClassMethod {
 public:
  explicit FarthestFromMean(const FarthestOptions& options) : theta_(options.theta) {}

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
  return {.name = "example_farthest",
          .description = "Worked example: samples farthest from their class mean first.",
          .params = farthest_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            return std::make_unique<FarthestFromMean>(farthest_params().parse(p));  // validated, then bound
          },
          // What the harness asks instead of guessing from parameter names. It keeps 1 - theta of each
          // image, so the experiment's `patches:` section is part of its cells' ids:
          .drops_patches = always_drops_patches,
          // and it reserves M doubles at its peak (`dqbench run --dry-run` shows the estimate):
          .peak_bytes = [](const Params&, const SelectionSizes& s) {
            return PeakBytes{.bytes = s.largest_class * 8, .model = "distances M*8"};
          }};
}

}  // namespace
DQ_REGISTER_METHOD(make_farthest_from_mean_info);  // the one registration line
}  // namespace dq
