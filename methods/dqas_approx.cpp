// DQAS-approx: an approximation of DQ with Active-learning-based Adaptive Sampling (Zhao et al.,
// ECCV 2024), whose code was never released. What is kept: DQ's bins, class-adaptive budgets at
// the same total, decided by a short active-learning loop on a proxy classifier; what is
// approximated: the proxy (a classifier on the frozen embeddings instead of trained networks) and
// the reordered pipeline (bins are built on the embeddings we are given, not on embeddings of
// patch-dropped reconstructions). Report it as "DQAS-approx".
//
// Loop (all counts exact): B_total = sum_c round(ratio * M_c / (1 - theta)). 10% of each class is
// held out as validation (never selected; shrunk where a class needs more than the rest). An
// initial beta * B_total is split equally over classes; the remaining budget comes in `rounds`
// equal increments, each given to classes in proportion to their expected error reduction per
// added sample (round 1: the validation error itself) plus a small floor. New samples of a class
// are drawn round-robin over its bins, uniformly inside each bin.
#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "methods/dq_common.h"
#include "methods/dqas_proxy.h"

namespace dq {
namespace {

// A class's candidates: each bin's non-validation members in a seeded random order, drawn
// round-robin over the bins.
class BinRoundRobin {
 public:
  BinRoundRobin(const ClassBins& bins, const std::vector<char>& is_validation, uint64_t seed) {
    for (size_t b = 0; b < bins.size(); ++b) {
      std::vector<int64_t> members;
      for (int64_t p : bins[b])
        if (!is_validation[static_cast<size_t>(p)]) members.push_back(p);
      Rng rng(derive_seed(seed, static_cast<uint64_t>(b)));
      queues_.push_back(uniform_sample(members, static_cast<int64_t>(members.size()), rng));
      available_ += static_cast<int64_t>(members.size());
    }
    heads_.assign(queues_.size(), 0);
  }
  int64_t available() const { return available_; }
  void draw(int64_t count, std::vector<int64_t>& out) {
    DQ_ASSERT(count <= available_, "DQAS: drawing more samples than a class has left");
    for (; count > 0; next_ = (next_ + 1) % queues_.size()) {
      if (heads_[next_] == queues_[next_].size()) continue;
      out.push_back(queues_[next_][heads_[next_]++]);
      --available_;
      --count;
    }
  }

 private:
  std::vector<std::vector<int64_t>> queues_;
  std::vector<size_t> heads_;
  size_t next_ = 0;
  int64_t available_ = 0;
};

struct DqasOptions {
  DqFamilyConfig dq;
  double beta = 0.5;          // share of the total budget split equally before active learning
  int64_t rounds = 5;         // active-learning rounds
  double val_fraction = 0.1;  // share of each class held out for the proxy's validation error
  std::string proxy = "ncm";  // dqas_proxy_names()
};

const ParamTable<DqasOptions>& dqas_params() {
  static const ParamTable<DqasOptions> table{
      dq_family_fields(&DqasOptions::dq),
      {field({.name = "beta", .help = "share of the total budget split equally before active learning", .min = 0, .max = 1},
             &DqasOptions::beta),
       field({.name = "rounds", .help = "active-learning rounds", .min = 1, .max = 1000}, &DqasOptions::rounds),
       field({.name = "val_fraction",
              .help = "share of each class held out (from train) for the proxy's validation error",
              .min = 0,
              .max = 0.5},
             &DqasOptions::val_fraction),
       field({.name = "proxy",
              .help = "proxy classifier on the embeddings: ncm (nearest class mean) or logreg",
              .choices = dqas_proxy_names()},
             &DqasOptions::proxy)}};
  return table;
}

class DqasApprox final : public SelectionMethod {
 public:
  explicit DqasApprox(const DqasOptions& options)
      : config_(options.dq),
        beta_(options.beta),
        rounds_(options.rounds),
        val_fraction_(options.val_fraction),
        proxy_name_(options.proxy) {}

  bool produces_bins() const override { return true; }

  std::vector<ClassSelection> select(std::span<const ClassView> classes, const SelectContext& ctx) override {
    const size_t nc = classes.size();
    std::vector<BinsResult> bins;
    for (const auto& cls : classes) bins.push_back(graphcut_bins_for_class(cls, config_.bins, ctx));

    auto stage = ctx.timer.scope("active_learning");
    std::vector<int64_t> budget(nc), picked_before(nc, 0);
    std::vector<std::vector<const float*>> validation(nc);
    std::vector<BinRoundRobin> candidates;
    for (size_t c = 0; c < nc; ++c) {
      const ClassView& cls = classes[c];
      budget[c] = config_.class_budget(ctx.ratio, cls.size());
      const uint64_t seed = derive_seed(ctx.seed, static_cast<uint64_t>(cls.label));
      const int64_t n_val = std::min<int64_t>(std::llround(val_fraction_ * static_cast<double>(cls.size())), cls.size() - budget[c]);
      std::vector<int64_t> all(static_cast<size_t>(cls.size()));
      std::iota(all.begin(), all.end(), 0);
      Rng rng(derive_seed(seed, "dqas_validation"));
      std::vector<char> is_val(all.size(), 0);
      for (int64_t p : uniform_sample(all, n_val, rng)) {
        is_val[static_cast<size_t>(p)] = 1;
        validation[c].push_back(cls.row(p));
      }
      candidates.emplace_back(bins[c].bins, is_val, derive_seed(seed, "dqas_bins"));
    }
    const int64_t total = std::accumulate(budget.begin(), budget.end(), int64_t{0});
    std::vector<std::vector<int64_t>> picks(nc);
    auto draw = [&](const std::vector<int64_t>& counts) {
      for (size_t c = 0; c < nc; ++c) candidates[c].draw(counts[c], picks[c]);
    };
    auto capacities = [&] {
      std::vector<int64_t> caps;
      for (const auto& cand : candidates) caps.push_back(cand.available());
      return caps;
    };

    // Class-wise initialisation: beta * B_total split equally.
    const int64_t initial = std::llround(beta_ * static_cast<double>(total));
    draw(apportion(initial, std::vector<double>(nc, 1.0), capacities()));

    // Active-learning rounds.
    const int64_t rest = total - initial;
    std::unique_ptr<DqasProxy> proxy = make_dqas_proxy(proxy_name_);
    std::vector<double> last_error(nc, 0.0);
    std::vector<int64_t> last_added(nc, 0);
    for (int64_t t = 1; t <= rounds_; ++t) {
      const int64_t increment = rest * t / rounds_ - rest * (t - 1) / rounds_;
      fit(*proxy, classes, picks, ctx.memory);
      const std::vector<double> error = per_class_error(*proxy, validation);
      std::vector<double> gain(nc);
      for (size_t c = 0; c < nc; ++c)
        gain[c] = t == 1 ? error[c]
                         : std::max(last_error[c] - error[c], 0.0) / static_cast<double>(std::max<int64_t>(1, last_added[c]));
      const double mean_gain = std::accumulate(gain.begin(), gain.end(), 0.0) / static_cast<double>(nc);
      // A floor of 5% of the mean keeps every class in play; no signal at all means equal shares.
      for (auto& g : gain) g = mean_gain > 0 ? g + 0.05 * mean_gain : 1.0;
      const std::vector<int64_t> alloc = apportion(increment, gain, capacities());
      draw(alloc);
      last_error = error;
      last_added = alloc;
    }

    std::vector<ClassSelection> out(nc);
    for (size_t c = 0; c < nc; ++c) {
      ClassSelection& sel = out[c];
      for (int64_t p : picks[c]) sel.ids.push_back(classes[c].ids[static_cast<size_t>(p)]);
      sel.keep.assign(sel.ids.size(), static_cast<float>(1.0 - config_.theta));
      sel.bins = bins_as_ids(classes[c], bins[c].bins);
      sel.diagnostics["theta"] = config_.theta;
      sel.diagnostics["bins"] = static_cast<double>(config_.bins.bins);
      sel.diagnostics["bin_cache_hit"] = bins[c].from_cache ? 1.0 : 0.0;
      sel.diagnostics["dqas_equal_budget"] = static_cast<double>(budget[c]);
      sel.diagnostics["dqas_validation_size"] = static_cast<double>(validation[c].size());
      sel.diagnostics["dqas_last_validation_error"] = last_error[c];
      sel.diagnostics["approximation"] = 1.0;
    }
    return out;
  }

 private:
  static void fit(DqasProxy& proxy, std::span<const ClassView> classes, const std::vector<std::vector<int64_t>>& picks,
                  MemoryBudget& memory) {
    std::vector<const float*> rows;
    std::vector<int32_t> labels;
    for (size_t c = 0; c < classes.size(); ++c)
      for (int64_t p : picks[c]) {
        rows.push_back(classes[c].row(p));
        labels.push_back(static_cast<int32_t>(c));
      }
    proxy.fit(rows, labels, classes.empty() ? 0 : classes[0].d, static_cast<int64_t>(classes.size()), memory);
  }

  DqFamilyConfig config_;
  double beta_;
  int64_t rounds_;
  double val_fraction_;
  std::string proxy_name_;
};

MethodInfo make_dqas_approx_info() {
  return {.name = "dqas_approx",
          .description = "DQAS-approx (no released code): DQ bins, class budgets moved by an active-learning loop on a "
                         "proxy classifier, round-robin draws over bins, fixed patch drop theta.",
          .params = dqas_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            return std::make_unique<DqasApprox>(dqas_params().parse(p));
          },
          .drops_patches = always_drops_patches,  // theta
          .peak_bytes = [](const Params& p, const SelectionSizes& sizes) {
            return dq_family_peak_bytes(dqas_params().parse(p).dq, sizes);
          }};
}

}  // namespace
DQ_REGISTER_METHOD(make_dqas_approx_info);
}  // namespace dq
