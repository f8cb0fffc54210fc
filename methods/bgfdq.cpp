// BGFDQ: neighbour identification (the K nearest intra-class
// neighbours, exact or through a FAISS index) followed by neighbour-aware coreset selection, with a
// fixed patch-drop ratio theta entering the sample count as it does for DQ, or (spd=on) semantic-offset
// patch dropping: NCS continues past the budget to give a candidate priority order, and the patch
// stage (patching/patch_stage.h, patching/spd.h) picks theta* per candidate and cuts the order where the
// kept fractions reach ratio * M_c. Decisions and usage: methods/docs/bgfdq.md.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "core/error.h"
#include "core/param_table.h"
#include "methods/knn/knn.h"
#include "methods/method.h"
#include "methods/ncs.h"
#include "methods/size_limits.h"

namespace dq {
namespace {

// NCS's counters over its first n picks (SPD keeps a prefix of the order): refills, removals and
// removals per pick, as cell diagnostics.
std::map<std::string, double> ncs_counts(const NcsResult& r, size_t n) {
  n = std::min(n, r.picks.size());
  const int64_t removals = n == 0 ? 0 : r.removals_through[n - 1];
  const int64_t refills = n == 0 ? 0 : r.refills_before[n - 1];
  return {{"refills", static_cast<double>(refills)},
          {"removals", static_cast<double>(removals)},
          {"removals_per_pick", n == 0 ? 0.0 : static_cast<double>(removals) / static_cast<double>(n)}};
}

struct BgfdqOptions {
  KnnGraphOptions knn;      // k, the search and its settings (methods/knn/knn.h)
  double alpha = 1;         // removal strength in NCS
  double theta = 0.25;      // fixed patch-drop ratio (unused with spd)
  bool spd = false;         // semantic-offset patch dropping
  double lambda_scale = 1;  // SPD threshold as a multiple of lambda_C
  bool lazy_ni = false;     // ni=lazy: only the picks' lists, searched exactly as NCS needs them
};

// The search's tile size is held in bytes and given in MiB.
const ParamCodec<uint64_t, int64_t> kMebibytes{[](const uint64_t& bytes) { return static_cast<int64_t>(bytes >> 20); },
                                               [](const int64_t& mib) { return static_cast<uint64_t>(mib) << 20; }};

const ParamTable<BgfdqOptions>& bgfdq_params() {
  using O = BgfdqOptions;
  using K = KnnGraphOptions;
  static const ParamTable<O> table{{
      field({.name = "k", .help = "neighbours per sample", .min = 1, .max = 1000}, &O::knn, &K::k),
      field({.name = "alpha",
             .help = "removal strength: neighbour k leaves the pool with probability exp(-ratio*alpha*k); a huge alpha "
                     "gives Random",
             .min = 0},
            &O::alpha),
      field({.name = "theta",
             .help = "fixed patch-drop ratio: round(ratio*M_c/(1-theta)) picks per class, each keeping 1-theta (unused "
                     "with spd=on)",
             .min = 0,
             .max = 0.95},
            &O::theta),
      field({.name = "spd",
             .help = "semantic-offset patch dropping: theta* per sample from {0.1..0.9}, the largest whose offset "
                     "||f(x)-f(x_theta)||^2 is below lambda_scale*lambda_C"},
            named_values({false, true}, [](bool on) { return on ? "on" : "off"; }), &O::spd),
      field({.name = "lambda_scale", .help = "SPD threshold as a multiple of the class's lambda_C", .min = 0},
            &O::lambda_scale),
      field({.name = "knn",
             .help = "'exact' (tiled GEMM, exact ranking), 'clustered' (k-means cells, each searched exactly against its "
                     "nprobe nearest cells), 'auto' (exact up to 10,000 rows per class, clustered above) or a FAISS "
                     "index_factory string, e.g. 'PCA128,IVF1024,Flat', 'HNSW32'"},
            ParamCodec<KnnMode, std::string>{[](const KnnMode& m) { return m.text(); }, KnnMode::parse}, &O::knn,
            &K::knn),
      field({.name = "nlist", .help = "cells for knn=clustered (0: round(sqrt(M_c)))", .min = 0}, &O::knn, &K::nlist),
      field({.name = "nprobe",
             .help = "cells probed (knn=clustered, 0: 8) or IVF probes (FAISS, 0: index default)",
             .min = 0},
            &O::knn, &K::nprobe),
      field({.name = "ef_search", .help = "HNSW efSearch for approximate search (0: index default)", .min = 0}, &O::knn,
            &K::ef_search),
      field({.name = "rerank",
             .help = "approximate search asks for ceil(rerank*k) candidates and keeps the k exactly nearest",
             .min = 1,
             .max = 100},
            &O::knn, &K::rerank),
      field({.name = "recall_sample",
             .help = "query rows on which approximate search is checked against exact (recall@k); 0 skips",
             .min = 0},
            &O::knn, &K::recall_sample),
      field({.name = "tile_mb", .help = "size of one float distance tile in exact search (MiB)", .min = 1}, kMebibytes,
            &O::knn, &K::tile_bytes),
      field({.name = "recall_target",
             .help = "approximate search: below this sampled recall@k, knn=clustered raises nprobe (then searches "
                     "exactly) and a FAISS index is replaced by the exact search; 0 only records the recall",
             .min = 0,
             .max = 1,
             .omit_at_default = true},
            &O::knn, &K::recall_target),
      field({.name = "recall_bound",
             .help = "what recall_target holds: 'estimate' (the sampled recall@k) or 'lower95' (its one-sided 95% "
                     "lower confidence bound over the sampled rows: the class's recall meets the target with about "
                     "95% confidence, at more search)",
             .omit_at_default = true},
            named_values({false, true}, [](bool lower) { return lower ? "lower95" : "estimate"; }), &O::knn,
            &K::recall_lower_bound),
      field({.name = "ni",
             .help = "'graph' (every row's neighbours, searched as knn says and cached) or 'lazy' (exact lists of "
                     "only the rows NCS picks, searched in batches as it needs them; picks follow a seeded shuffle, "
                     "so they differ from ni=graph's for the same seed; needs knn=exact or auto and spd=off: "
                     "lambda_C needs every pair)",
             .omit_at_default = true},
            named_values({false, true}, [](bool lazy) { return lazy ? "lazy" : "graph"; }), &O::lazy_ni),
  }};
  return table;
}

class BgfdqMethod final : public PerClassMethod {
 public:
  explicit BgfdqMethod(const BgfdqOptions& options)
      : knn_(options.knn),
        alpha_(options.alpha),
        theta_(options.theta),
        spd_(options.spd),
        lambda_scale_(options.lambda_scale),
        lazy_ni_(options.lazy_ni) {}

  // SPD reconstructs and re-embeds the picked images in the patch stage.
  bool needs_images() const override { return spd_; }

  ClassSelection select_class(const ClassView& cls, uint64_t seed, const SelectContext& ctx) override {
    if (lazy_ni_) return select_class_lazily(cls, seed, ctx);
    KnnGraph graph;
    {
      auto stage = ctx.timer.scope("neighbour_id");
      graph = build_knn_graph(cls, knn_, ctx.memory, ctx.resources, &ctx.timer);
    }
    auto held = ctx.memory.reserve(graph.lists.ids.size() * (sizeof(int32_t) + sizeof(float)), "bgfdq knn graph");
    // With SPD the keep fractions are unknown until the patch stage, so NCS runs on to a candidate order
    // long enough for theta* = 0.9 everywhere (keep >= 1/20 at any grid of 10 or more patches).
    const int64_t count = spd_ ? std::min<int64_t>(cls.size(), static_cast<int64_t>(std::ceil(20 * ctx.ratio * cls.size())))
                               : budget_count(ctx.ratio, cls.size(), theta_);
    NcsResult ncs;
    {
      auto stage = ctx.timer.scope("coreset_selection");
      ncs = neighbour_aware_selection(graph.lists, count, ctx.ratio, alpha_, seed);
    }
    ClassSelection out;
    out.ids.reserve(ncs.picks.size());
    for (int64_t row : ncs.picks) out.ids.push_back(cls.ids[static_cast<size_t>(row)]);
    out.keep.assign(out.ids.size(), spd_ ? 1.0f : static_cast<float>(1.0 - theta_));
    if (spd_)
      out.spd = SpdRequest{.threshold = lambda_scale_ * graph.lambda_c, .budget = ctx.ratio * static_cast<double>(cls.size())};
    auto& diag = out.diagnostics;
    diag["lambda_c"] = graph.lambda_c;
    diag["lambda_c_exact"] = graph.lambda_exact ? 1 : 0;
    if (!std::isnan(graph.recall)) diag["knn_recall_at_k"] = graph.recall;
    if (!graph.exact_search) {
      // What keeping the recall took, and whether it was kept (a cell below its target says so:
      // harness/status.cpp and the scale table read knn_recall_below_target).
      diag["knn_recall_target"] = graph.recall_target;
      if (!std::isnan(graph.search.recall_lower)) diag["knn_recall_lower95"] = graph.search.recall_lower;
      diag["knn_recall_below_target"] = graph.below_target() ? 1 : 0;
      diag["knn_nprobe_used"] = static_cast<double>(graph.search.nprobe);
      diag["knn_search_rounds"] = static_cast<double>(graph.search.rounds);
      diag["knn_refine_rounds"] = static_cast<double>(graph.search.refine_rounds);
      diag["knn_exact_fallback"] = graph.search.exact_fallback ? 1 : 0;
      if (graph.search.cells > 0) {
        diag["knn_cells"] = static_cast<double>(graph.search.cells);
        diag["knn_largest_cell"] = static_cast<double>(graph.search.largest_cell);
        diag["knn_work_ratio"] = graph.search.work_ratio;
      }
    }
    diag["knn_bf16"] = graph.nomination == Nomination::Bf16 ? 1 : 0;
    diag["knn_on_device"] = graph.on_device ? 1 : 0;
    diag["knn_cache_hit"] = graph.from_cache ? 1 : 0;
    diag["knn_graph_k"] = static_cast<double>(graph.computed_k);  // > k: served as a prefix of a larger graph
    diag["knn_exact"] = graph.exact_search ? 1 : 0;
    diag["duplicates"] = static_cast<double>(graph.duplicates);
    for (const auto& [k, v] : ncs_counts(ncs, ncs.picks.size())) diag[k] = v;
    if (spd_) {  // SPD stores a prefix of the candidate order: its counts, not those of the whole order
      auto shared = std::make_shared<const NcsResult>(std::move(ncs));
      out.prefix_diagnostics = [shared](size_t n) { return ncs_counts(*shared, n); };
    }
    return out;
  }

 private:
  // ni=lazy: NCS asks for the lists of its next picks in batches, each searched exactly against the
  // whole class (the lists are those of the exact graph's rows); NCS reads nothing else (Eq. 5). The
  // search and the selection interleave: both are timed as neighbour_id.
  ClassSelection select_class_lazily(const ClassView& cls, uint64_t seed, const SelectContext& ctx) {
    check_class_search_size(cls.label, cls.size(), cls.d);
    const int64_t count = budget_count(ctx.ratio, cls.size(), theta_);
    const int64_t k = std::min<int64_t>(knn_.k, std::max<int64_t>(cls.size() - 1, 0));
    NcsResult ncs;
    Nomination nomination = Nomination::Fp32;
    {
      auto stage = ctx.timer.scope("neighbour_id");
      ExactListsOnDemand search(RowMatrix{cls.z, cls.size(), cls.d},
                                ExactSearchOptions{.k = k, .tile_bytes = knn_.tile_bytes, .nomination = knn_.nomination},
                                ctx.memory);
      auto held = ctx.memory.reserve(static_cast<uint64_t>(cls.size()) * static_cast<uint64_t>(k) * sizeof(int32_t),
                                     "bgfdq lists of the picks");
      ncs = neighbour_aware_selection_on_demand(
          cls.size(), k, [&](std::span<const int64_t> rows) { return search.lists_of(rows, ctx.memory); }, count,
          ctx.ratio, alpha_, seed, kLazyBatch);
      nomination = search.nomination();
    }
    ClassSelection out;
    out.ids.reserve(ncs.picks.size());
    for (int64_t row : ncs.picks) out.ids.push_back(cls.ids[static_cast<size_t>(row)]);
    out.keep.assign(out.ids.size(), static_cast<float>(1.0 - theta_));
    auto& diag = out.diagnostics;
    diag["knn_exact"] = 1;
    diag["knn_bf16"] = nomination == Nomination::Bf16 ? 1 : 0;
    diag["ni_rows_listed"] = static_cast<double>(ncs.rows_listed);
    for (const auto& [k, v] : ncs_counts(ncs, ncs.picks.size())) diag[k] = v;
    return out;
  }
  // Rows per batch of ni=lazy: on a CIFAR-10 class of 5,000 x 256, 1,600 rows searched with exact_knn
  // (which prepares the class again for every batch) took 0.047 s in batches of 32, 0.030 s in 64 and
  // 0.021 s in 128, the whole graph 0.040 s; more rows per batch are more rows that a removal takes
  // out before their turn (28% of the rows listed at ratio 0.2, for 27% picked).
  static constexpr int64_t kLazyBatch = 128;

  KnnGraphOptions knn_;
  double alpha_;
  double theta_;
  bool spd_;
  double lambda_scale_;
  bool lazy_ni_;
};

// Its peak for a class of M rows of d dims: the KNN lists M*k*8 at the k the graph is built at (a
// sweep's largest), one distance tile (at most the full M x M) and the padded copy of the class.
PeakBytes bgfdq_peak_bytes(const Params& p, const SelectionSizes& s) {
  const KnnGraphOptions knn = bgfdq_params().parse(p).knn;
  const int64_t m = s.largest_class, d = s.dim, k = std::max(knn.k, s.shared_size);
  const int64_t tile = static_cast<int64_t>(knn.tile_bytes), copy = m * (d + 3) * 4;
  return {.bytes = m * k * 8 + std::min<int64_t>(tile, 4 * m * m) + copy,
          .model = fmt::format("KNN lists M*k*8 (k={}) + tile + padded copy", k)};
}

// A K sweep shares its KNN graph: cells with the same search mode build it once, at their largest k
// (ni=lazy builds none).
std::optional<SharedArtefact> bgfdq_knn_graph(const Params& p) {
  const BgfdqOptions options = bgfdq_params().parse(p);
  if (options.lazy_ni) return std::nullopt;
  return SharedArtefact{.key = options.knn.knn.text(), .size = options.knn.k};
}

MethodInfo make_bgfdq_info() {
  return {.name = "bgfdq",
          .description =
              "Bin-generation-free DQ: K nearest intra-class neighbours (exact tiled search or a FAISS index), then "
              "neighbour-aware coreset selection; fixed patch drop theta (round(ratio*M_c/(1-theta)) picks per class), "
              "or bgfdq(spd=on): per-sample theta* by semantic offset below lambda_scale*lambda_C, picks until the kept "
              "fractions reach ratio*M_c. bgfdq(ni=lazy): exact lists of only the rows NCS picks (another pick order).",
          .params = bgfdq_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            const BgfdqOptions options = bgfdq_params().parse(p);
            options.knn.check("method 'bgfdq'");
            if (options.lazy_ni && options.spd)
              throw Error("method 'bgfdq': ni=lazy lists only the picks' neighbours, and spd=on needs lambda_C, the "
                          "class's 50 smallest pair distances: use ni=graph with spd=on");
            if (options.lazy_ni && options.knn.knn.search != KnnSearch::Exact && options.knn.knn.search != KnnSearch::Auto)
              throw Error(fmt::format("method 'bgfdq': ni=lazy searches exactly; knn={} asks for another search (use "
                                      "knn=exact or auto, or ni=graph)",
                                      options.knn.knn.text()));
            return std::make_unique<BgfdqMethod>(options);
          },
          .drops_patches = always_drops_patches,  // theta, or SPD
          .peak_bytes = bgfdq_peak_bytes,
          .shared_artefact = bgfdq_knn_graph};
}

}  // namespace
DQ_REGISTER_METHOD(make_bgfdq_info);
}  // namespace dq
