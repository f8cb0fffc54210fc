// ADQ, Adaptive Dataset Quantization (Li et al., AAAI 2025): DQ's bins, then per-bin budgets from
// importance instead of DQ's equal fraction. Per global bin n (classes pooled, as the released code
// scores them): representativeness Rep_n = mean texture level of its images, diversity Div_n from
// a fixed-seed projection head over the embeddings, share r_n = alpha * I_n + (1 - alpha) N_n/sum N.
// Each class then splits its own budget round(ratio * M_c / (1 - theta)) over its bins by r_n
// (largest remainders, capped by the class's bin sizes, overflow to the other bins), so classes
// stay balanced (decision A10), and samples uniformly inside each bin.
// Without training images there is no texture level: the method fails with dq::Error, but only
// after bin generation, so that at scale it ends as OOM exactly where DQ does.
#include <fmt/format.h>

#include "core/error.h"
#include "core/image_set.h"
#include "methods/adq_scores.h"
#include "methods/dq_common.h"

namespace dq {
namespace {

constexpr int64_t kProjectionBlock = 1024;  // rows projected per BLAS call

struct AdqOptions {
  DqFamilyConfig dq;
  double alpha = 0.65;    // weight of importance against bin size in r_n
  int64_t head_seed = 0;  // seed of the untrained diversity projection head
};

const ParamTable<AdqOptions>& adq_params() {
  static const ParamTable<AdqOptions> table{
      dq_family_fields(&AdqOptions::dq),
      {field({.name = "alpha", .help = "weight of importance vs bin size in the per-bin share r_n", .min = 0, .max = 1},
             &AdqOptions::alpha),
       field({.name = "head_seed", .help = "seed of the (untrained) diversity projection head", .min = 0},
             &AdqOptions::head_seed)}};
  return table;
}

class AdqMethod final : public SelectionMethod {
 public:
  explicit AdqMethod(const AdqOptions& options)
      : config_(options.dq), alpha_(options.alpha), head_seed_(static_cast<uint64_t>(options.head_seed)) {}

  bool produces_bins() const override { return true; }
  bool needs_images() const override { return true; }

  std::vector<ClassSelection> select(std::span<const ClassView> classes, const SelectContext& ctx) override {
    std::vector<BinsResult> bins;
    for (const auto& cls : classes) bins.push_back(graphcut_bins_for_class(cls, config_.bins, ctx));
    const std::vector<double> shares = score_bins(classes, bins, ctx);

    auto stage = ctx.timer.scope("bin_sampling");
    std::vector<ClassSelection> out;
    for (size_t c = 0; c < classes.size(); ++c) {
      const ClassView& cls = classes[c];
      std::vector<int64_t> caps;
      for (const auto& bin : bins[c].bins) caps.push_back(static_cast<int64_t>(bin.size()));
      const auto counts = apportion(config_.class_budget(ctx.ratio, cls.size()), shares, caps);
      ClassSelection sel = select_from_bins(cls, bins[c].bins, counts, config_.theta,
                                            derive_seed(ctx.seed, static_cast<uint64_t>(cls.label)));
      sel.diagnostics["bin_cache_hit"] = bins[c].from_cache ? 1.0 : 0.0;
      sel.diagnostics["alpha"] = alpha_;
      for (size_t n = 0; n < shares.size(); ++n) sel.diagnostics[fmt::format("adq_share_bin{}", n)] = shares[n];
      out.push_back(std::move(sel));
    }
    return out;
  }

 private:
  std::vector<double> score_bins(std::span<const ClassView> classes, const std::vector<BinsResult>& bins,
                                 const SelectContext& ctx) const {
    const ImageSet* images = ctx.resources.train_images;
    if (images == nullptr || images->n == 0)
      throw Error(
          "method 'adq': needs the training images (texture level of each bin), but this dataset provides "
          "embeddings only; use dq or bgfdq on embedding-level data");
    auto stage = ctx.timer.scope("bin_scoring");
    const auto nbins = static_cast<size_t>(config_.bins.bins);
    std::vector<double> rep(nbins, 0.0), div(nbins, 0.0);
    std::vector<int64_t> count(nbins, 0);
    std::vector<std::vector<double>> unit_sum(nbins, std::vector<double>(ProjectionHead::kOut, 0.0));
    std::optional<ProjectionHead> head;
    std::vector<float> block, projected;

    for (size_t c = 0; c < classes.size(); ++c) {
      const ClassView& cls = classes[c];
      if (!head) head.emplace(cls.d, head_seed_);
      DQ_ASSERT(head->in_dim() == cls.d, "ADQ: classes with different embedding widths");
      for (size_t n = 0; n < nbins; ++n) {
        const auto& members = bins[c].bins[n];
        for (int64_t p : members) {
          const int64_t id = cls.ids[static_cast<size_t>(p)];
          if (id < 0 || id >= images->n)
            throw Error(fmt::format("method 'adq': sample id {} is outside the training images (0..{})", id,
                                    images->n - 1));
          rep[n] += texture_level(images->image(id), images->channels, images->height, images->width);
        }
        count[n] += static_cast<int64_t>(members.size());
        for (size_t start = 0; start < members.size(); start += kProjectionBlock) {
          const size_t rows = std::min<size_t>(kProjectionBlock, members.size() - start);
          block.resize(rows * static_cast<size_t>(cls.d));
          projected.resize(rows * ProjectionHead::kOut);
          for (size_t r = 0; r < rows; ++r)
            std::copy_n(cls.row(members[start + r]), cls.d, block.begin() + static_cast<int64_t>(r) * cls.d);
          head->project(block.data(), static_cast<int64_t>(rows), projected.data());
          for (size_t r = 0; r < rows; ++r)
            for (int64_t k = 0; k < ProjectionHead::kOut; ++k)
              unit_sum[n][static_cast<size_t>(k)] += projected[r * ProjectionHead::kOut + static_cast<size_t>(k)];
        }
      }
    }
    for (size_t n = 0; n < nbins; ++n) {
      if (count[n] > 0) rep[n] /= static_cast<double>(count[n]);
      div[n] = diversity_from_sum(unit_sum[n], count[n]);
    }
    return adq_bin_shares(rep, div, count, alpha_);
  }

  DqFamilyConfig config_;
  double alpha_;
  uint64_t head_seed_;
};

MethodInfo make_adq_info() {
  return {.name = "adq",
          .description = "Adaptive Dataset Quantization: DQ bins, per-bin budgets from texture level and diversity "
                         "(alpha), fixed patch drop theta. Needs training images.",
          .params = adq_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            return std::make_unique<AdqMethod>(adq_params().parse(p));
          },
          .drops_patches = always_drops_patches,  // theta
          .peak_bytes = [](const Params& p, const SelectionSizes& sizes) {
            return dq_family_peak_bytes(adq_params().parse(p).dq, sizes);
          }};
}

}  // namespace
DQ_REGISTER_METHOD(make_adq_info);
}  // namespace dq
