// The zoo's members (datasets/embedding_zoo.h). Each is a plausible embedding distribution that has
// broken, or could break, a clustered or low-precision neighbour search: cells of very unequal size,
// elongated clusters split across cells, rows far from every cluster, curved low-dimensional
// structure, and many near-equal rows.
#include "datasets/embedding_zoo.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace dq {

const std::vector<ZooMember>& embedding_zoo() {
  static const std::vector<ZooMember> zoo = {
      {"mixture", "synthetic_embeddings as it is: 64 tight clusters per class, decaying spectrum, 5% near-duplicates", {}},
      {"tight_clusters",
       "many small tight clusters: ~100 rows each, centres N(0, 1) isotropic, within-cluster spread 0.5 (issue 24's "
       "first row)",
       {{"cluster_spread", "0.5"}, {"spectrum_decay", "0"}, {"near_duplicates", "0"}},
       100},
      {"powerlaw_anisotropic",
       "200 clusters per class with power-law sizes (weight (k+1)^-1.2) and per-cluster log-normal spreads per "
       "dimension (exp(N(0, 1)))",
       {{"clusters_per_class", "200"}, {"cluster_spread", "0.3"}, {"cluster_size_power", "1.2"}, {"anisotropy", "1"},
        {"near_duplicates", "0"}}},
      {"student_t",
       "heavy-tailed rows: 64 clusters with multivariate Student-t noise (3 degrees of freedom), spread 0.3",
       {{"cluster_spread", "0.3"}, {"student_t_dof", "3"}, {"near_duplicates", "0"}}},
      {"manifold", "a smooth 6-dimensional manifold per class embedded in the full dimension, noise 0.02",
       {{"manifold_dim", "6"}, {"cluster_spread", "0.02"}, {"near_duplicates", "0"}}},
      {"near_duplicates", "near-duplicate heavy: 60% of rows copy an earlier row plus noise 0.01 x spread",
       {{"near_duplicates", "0.6"}, {"duplicate_noise", "0.01"}}},
  };
  return zoo;
}

const ZooMember& find_zoo_member(const std::string& name) {
  const auto& zoo = embedding_zoo();
  const auto it = std::find_if(zoo.begin(), zoo.end(), [&](const ZooMember& m) { return m.name == name; });
  if (it != zoo.end()) return *it;
  std::string names;
  for (const auto& m : zoo) names += (names.empty() ? "" : ", ") + m.name;
  throw Error(fmt::format("no zoo member '{}' (members: {})", name, names));
}

std::map<std::string, std::string> zoo_params(const ZooMember& member, int64_t classes, int64_t per_class, int64_t dim) {
  std::map<std::string, std::string> p = member.params;
  p["classes"] = std::to_string(classes);
  p["per_class"] = std::to_string(per_class);
  p["dim"] = std::to_string(dim);
  if (member.rows_per_cluster > 0) p["clusters_per_class"] = std::to_string(std::max<int64_t>(1, per_class / member.rows_per_cluster));
  return p;
}

}  // namespace dq
