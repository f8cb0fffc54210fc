// BGFDQ: neighbour identification (the K nearest intra-class
// neighbours, exact or through a FAISS index) followed by neighbour-aware coreset selection, with a
// fixed patch-drop ratio theta entering the sample count as it does for DQ, or (spd=on) semantic-offset
// patch dropping: NCS continues past the budget to give a candidate priority order, and the patch
// stage (methods/patch_stage.h, methods/spd.h) picks theta* per candidate and cuts the order where the
// kept fractions reach ratio * M_c. Decisions and usage: methods/docs/bgfdq.md.
#include <algorithm>
#include <cmath>

#include "methods/knn/knn.h"
#include "methods/method.h"
#include "methods/ncs.h"

namespace dq {
namespace {

class BgfdqMethod final : public PerClassMethod {
 public:
  explicit BgfdqMethod(const Params& p) {
    knn_.knn = p.get_string("knn");
    knn_.k = p.get_int("k");
    knn_.nlist = p.get_int("nlist");
    knn_.nprobe = p.get_int("nprobe");
    knn_.ef_search = p.get_int("ef_search");
    knn_.rerank = p.get_double("rerank");
    knn_.recall_sample = p.get_int("recall_sample");
    knn_.tile_bytes = static_cast<uint64_t>(p.get_int("tile_mb")) << 20;
    alpha_ = p.get_double("alpha");
    theta_ = p.get_double("theta");
    spd_ = p.get_string("spd") == "on";
    lambda_scale_ = p.get_double("lambda_scale");
  }

  // SPD reconstructs and re-embeds the picked images in the patch stage.
  bool needs_images() const override { return spd_; }

  ClassSelection select_class(const ClassView& cls, uint64_t seed, const SelectContext& ctx) override {
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
    if (spd_) {
      out.spd = true;
      out.spd_threshold = lambda_scale_ * graph.lambda_c;
      out.spd_budget = ctx.ratio * static_cast<double>(cls.size());
    }
    auto& diag = out.diagnostics;
    diag["lambda_c"] = graph.lambda_c;
    diag["lambda_c_exact"] = graph.lambda_exact ? 1 : 0;
    if (!std::isnan(graph.recall)) diag["knn_recall_at_k"] = graph.recall;
    diag["knn_cache_hit"] = graph.from_cache ? 1 : 0;
    diag["knn_graph_k"] = static_cast<double>(graph.computed_k);  // > k: served as a prefix of a larger graph
    diag["knn_exact"] = graph.exact_search ? 1 : 0;
    diag["duplicates"] = static_cast<double>(graph.duplicates);
    diag["refills"] = static_cast<double>(ncs.refills);
    diag["removals"] = static_cast<double>(ncs.removals);
    diag["removals_per_pick"] = ncs.picks.empty() ? 0.0 : static_cast<double>(ncs.removals) / static_cast<double>(ncs.picks.size());
    return out;
  }

 private:
  KnnGraphOptions knn_;
  double alpha_ = 1;
  double theta_ = 0.25;
  bool spd_ = false;
  double lambda_scale_ = 1;
};

MethodInfo make_bgfdq_info() {
  return {"bgfdq",
          "Bin-generation-free DQ: K nearest intra-class neighbours (exact tiled search or a FAISS index), then "
          "neighbour-aware coreset selection; fixed patch drop theta (round(ratio*M_c/(1-theta)) picks per class), or "
          "bgfdq(spd=on): per-sample theta* by semantic offset below lambda_scale*lambda_C, picks until the kept "
          "fractions reach ratio*M_c.",
          {
              {"k", ParamType::Int, int64_t{20}, "neighbours per sample", {}, 1.0, 1000.0},
              {"alpha", ParamType::Double, 1.0, "removal strength: neighbour k leaves the pool with probability exp(-ratio*alpha*k)",
               {}, 0.0, {}},
              {"theta", ParamType::Double, 0.25, "fixed patch-drop ratio; keep fraction is 1-theta (unused with spd=on)", {},
               0.0, 0.95},
              {"spd", ParamType::String, std::string("off"),
               "semantic-offset patch dropping: theta* per sample from {0.1..0.9}, the largest whose offset "
               "||f(x)-f(x_theta)||^2 is below lambda_scale*lambda_C",
               {"off", "on"}, {}, {}},
              {"lambda_scale", ParamType::Double, 1.0, "SPD threshold as a multiple of the class's lambda_C", {}, 0.0, {}},
              {"knn", ParamType::String, std::string("exact"),
               "'exact' (tiled GEMM, exact ranking), 'clustered' (k-means cells, each searched exactly against its nprobe "
               "nearest cells), 'auto' (exact up to 10,000 rows per class, clustered above) or a FAISS index_factory "
               "string, e.g. 'PCA128,IVF1024,Flat', 'HNSW32'",
               {}, {}, {}},
              {"nlist", ParamType::Int, int64_t{0}, "cells for knn=clustered (0: round(sqrt(M_c)))", {}, 0.0, {}},
              {"nprobe", ParamType::Int, int64_t{0}, "cells probed (knn=clustered, 0: 8) or IVF probes (FAISS, 0: index default)",
               {}, 0.0, {}},
              {"ef_search", ParamType::Int, int64_t{0}, "HNSW efSearch for approximate search (0: index default)", {}, 0.0, {}},
              {"rerank", ParamType::Double, 2.0,
               "approximate search asks for ceil(rerank*k) candidates and keeps the k exactly nearest", {}, 1.0, 100.0},
              {"recall_sample", ParamType::Int, int64_t{1000},
               "query rows on which approximate search is checked against exact (recall@k); 0 skips", {}, 0.0, {}},
              {"tile_mb", ParamType::Int, int64_t{256}, "size of one float distance tile in exact search (MiB)", {}, 1.0, {}},
          },
          [](const Params& p) -> std::unique_ptr<SelectionMethod> { return std::make_unique<BgfdqMethod>(p); }};
}

}  // namespace
DQ_REGISTER_METHOD(make_bgfdq_info);
}  // namespace dq
