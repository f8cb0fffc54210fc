// A method plugin with parameters, for the test of `dqbench methods --plugin` (tests/cli/methods_plugin.sh):
// the listing shows a plugin's methods with their parameters, as it shows the built-in ones.
#include <numeric>
#include <vector>

#include "core/param_table.h"
#include "methods/method.h"

namespace {

enum class Order { First, Last };
const char* order_name(Order o) { return o == Order::First ? "first" : "last"; }

struct StrideOptions {
  int64_t stride = 2;
  Order order = Order::First;
};

const dq::ParamTable<StrideOptions>& stride_params() {
  static const dq::ParamTable<StrideOptions> table{{
      dq::field({.name = "stride", .help = "take every stride-th sample of a class", .min = 1, .max = 100},
                &StrideOptions::stride),
      dq::field({.name = "order", .help = "which end of the class to start from"},
                dq::named_values({Order::First, Order::Last}, order_name), &StrideOptions::order),
  }};
  return table;
}

class Stride final : public dq::PerClassMethod {
 public:
  explicit Stride(const StrideOptions& o) : o_(o) {}
  bool needs_embeddings() const override { return false; }
  dq::ClassSelection select_class(const dq::ClassView& cls, uint64_t, const dq::SelectContext& ctx) override {
    dq::ClassSelection out;
    const int64_t m = cls.size(), count = dq::budget_count(ctx.ratio, m);
    for (int64_t i = 0; i < m && static_cast<int64_t>(out.ids.size()) < count; i += o_.stride)
      out.ids.push_back(cls.ids[static_cast<size_t>(o_.order == Order::First ? i : m - 1 - i)]);
    out.keep.assign(out.ids.size(), 1.0f);
    return out;
  }

 private:
  StrideOptions o_;
};

dq::MethodInfo make_stride_info() {
  return {.name = "test_stride",
          .description = "Test plugin: every stride-th sample of each class.",
          .params = stride_params().specs(),
          .make = [](const dq::Params& p) -> std::unique_ptr<dq::SelectionMethod> {
            return std::make_unique<Stride>(stride_params().parse(p));
          }};
}

}  // namespace

DQ_REGISTER_METHOD(make_stride_info);
