// Random: per class, round(ratio * M_c) samples uniformly without replacement (DeepCore's Uniform
// with balance=True). No patch dropping: every pick keeps the whole image.
#include <numeric>

#include "core/rng.h"
#include "methods/method.h"

namespace dq {
namespace {

class RandomMethod final : public PerClassMethod {
 public:
  explicit RandomMethod(const Params&) {}
  bool needs_embeddings() const override { return false; }

  ClassSelection select_class(const ClassView& cls, uint64_t seed, const SelectContext& ctx) override {
    const int64_t m = cls.size();
    const int64_t count = budget_count(ctx.ratio, m);
    // Partial Fisher-Yates: the first `count` positions become a uniform sample, in pick order.
    std::vector<int64_t> order(static_cast<size_t>(m));
    std::iota(order.begin(), order.end(), 0);
    Rng rng(seed);
    ClassSelection out;
    out.ids.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i + static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(m - i)));
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
      out.ids.push_back(cls.ids[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    }
    out.keep.assign(out.ids.size(), 1.0f);
    return out;
  }
};

MethodInfo make_random_info() {
  return {.name = "random",
          .description = "Uniform sampling without replacement, round(ratio * M_c) per class; no patch dropping.",
          .params = {},
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> { return std::make_unique<RandomMethod>(p); },
          .peak_bytes = [](const Params&, const SelectionSizes&) { return PeakBytes{.bytes = 0, .model = "nothing declared"}; }};
}

}  // namespace
DQ_REGISTER_METHOD(make_random_info);
}  // namespace dq
