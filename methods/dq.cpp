// DQ, Dataset Quantization (Zhou et al., ICCV 2023): per class, GraphCut bins over the remaining
// pool, then the same fraction drawn uniformly from every bin. With fixed patch dropping at theta
// the sample count is round(ratio * M_c / (1 - theta)) and each pick keeps 1 - theta of its image
// (the paper's weighted ratio). The per-class count is split over the bins in proportion to their
// sizes by largest remainders, so it is exact (the released code rounds every bin on its own).
#include "methods/dq_common.h"

namespace dq {
namespace {

struct DqOptions {
  DqFamilyConfig dq;
};

const ParamTable<DqOptions>& dq_params() {
  static const ParamTable<DqOptions> table{dq_family_fields(&DqOptions::dq)};
  return table;
}

class DqMethod final : public PerClassMethod {
 public:
  explicit DqMethod(const DqOptions& options) : config_(options.dq) {}

  bool produces_bins() const override { return true; }

  ClassSelection select_class(const ClassView& cls, uint64_t seed, const SelectContext& ctx) override {
    BinsResult bins = graphcut_bins_for_class(cls, config_.bins, ctx);
    auto stage = ctx.timer.scope("bin_sampling");
    std::vector<int64_t> sizes;
    std::vector<double> weights;
    for (const auto& bin : bins.bins) {
      sizes.push_back(static_cast<int64_t>(bin.size()));
      weights.push_back(static_cast<double>(bin.size()));
    }
    const std::vector<int64_t> counts = apportion(config_.class_budget(ctx.ratio, cls.size()), weights, sizes);
    ClassSelection out = select_from_bins(cls, bins.bins, counts, config_.theta, seed);
    out.diagnostics["bin_cache_hit"] = bins.from_cache ? 1.0 : 0.0;
    return out;
  }

 private:
  DqFamilyConfig config_;
};

MethodInfo make_dq_info() {
  return {.name = "dq",
          .description =
              "Dataset Quantization: per-class GraphCut bins, uniform sampling inside each bin, fixed patch drop theta.",
          .params = dq_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            return std::make_unique<DqMethod>(dq_params().parse(p));
          },
          .drops_patches = always_drops_patches,  // theta
          .peak_bytes = [](const Params& p, const SelectionSizes& sizes) {
            return dq_family_peak_bytes(dq_params().parse(p).dq, sizes);
          }};
}

}  // namespace
DQ_REGISTER_METHOD(make_dq_info);
}  // namespace dq
