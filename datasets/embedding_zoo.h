#pragma once
// The neighbour-search zoo (issue 24): named settings of the synthetic_embeddings kind that stress a
// KNN search in different ways, so that every NI benchmark and the scale experiment report time and
// recall per distribution instead of on one. bench/bench_knn.cpp reads them from here;
// experiments/scale/zoo_scale.yaml spells the same settings out (a test compares the two). Real
// CIFAR-10 embeddings join them in the benchmarks through DQ_BENCH_EMBEDDINGS / DQ_BENCH_LABELS.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dq {

struct ZooMember {
  std::string name;
  std::string description;
  std::map<std::string, std::string> params;  // synthetic_embeddings parameters (text, as in YAML)
  int64_t rows_per_cluster = 0;               // > 0: clusters_per_class = per_class / rows_per_cluster
};

// mixture (the synthetic_embeddings defaults), tight_clusters, powerlaw_anisotropic, student_t,
// manifold, near_duplicates.
const std::vector<ZooMember>& embedding_zoo();
const ZooMember& find_zoo_member(const std::string& name);  // dq::Error naming the members otherwise

// The member's synthetic_embeddings parameters for `classes` x `per_class` rows of `dim` dimensions.
std::map<std::string, std::string> zoo_params(const ZooMember& member, int64_t classes, int64_t per_class, int64_t dim);

}  // namespace dq
