// A method plugin: the same contract as a built-in method (methods/README.md), compiled on its own
// into a shared library that dqbench loads at run time:
//   {name: plugin, library: path/libplugin_random.so}           (method: plugin_random is implied)
// It mirrors the built-in `random` (methods/random.cpp) step for step, so for the same seed its picks
// are the same; tests/test_external_plugin.cpp checks that.
#include <numeric>
#include <vector>

#include "core/rng.h"
#include "methods/method.h"

namespace {

class PluginRandom final : public dq::PerClassMethod {
 public:
  explicit PluginRandom(const dq::Params&) {}
  bool needs_embeddings() const override { return false; }

  dq::ClassSelection select_class(const dq::ClassView& cls, uint64_t seed, const dq::SelectContext& ctx) override {
    const int64_t m = cls.size();
    const int64_t count = dq::budget_count(ctx.ratio, m);  // the shared rounding rule, from dqbench
    std::vector<int64_t> order(static_cast<size_t>(m));
    std::iota(order.begin(), order.end(), 0);
    dq::Rng rng(seed);  // the class's seed and dqbench's generator: the same draws as the built-in method
    dq::ClassSelection out;
    for (int64_t i = 0; i < count; ++i) {  // partial Fisher-Yates
      const int64_t j = i + static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(m - i)));
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
      out.ids.push_back(cls.ids[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    }
    out.keep.assign(out.ids.size(), 1.0f);
    return out;
  }
};

dq::MethodInfo make_plugin_random_info() {
  return {"plugin_random", "Example plugin: uniform sampling per class, as the built-in random.", {},
          [](const dq::Params& p) -> std::unique_ptr<dq::SelectionMethod> { return std::make_unique<PluginRandom>(p); }};
}

}  // namespace

DQ_REGISTER_METHOD(make_plugin_random_info);
