#pragma once
// The one generator of synthetic clustered embeddings: class-conditional mixtures of tight Gaussian
// clusters. The synthetic_embeddings dataset kind (the scale experiment: the paper's Fakeddit row
// needs 200k+ samples per class), the tests and the micro-benchmarks all draw from it.
//
// With s_j the per-dimension standard deviation (variance (j+1)^-spectrum_decay, scaled to mean 1;
// decay 0 gives s = 1) and N a fresh standard normal vector each time:
//   class centre    m_c  = class_spread * s * N                      (class c)
//   cluster centre  mu_ck = m_c + s * N                               (k < clusters_per_class)
//   row             x    = mu_ck + cluster_spread * s * N             (k uniform over the class's clusters)
// A fraction near_duplicates of the rows (never a class's first row) instead copy the closest earlier
// original of their class, plus duplicate_noise * cluster_spread * s * N (an exact copy at 0).
// Rows are class-major: row r belongs to class r / per_class.
//
// The neighbour-search zoo (issue 24; datasets/embedding_zoo.h names its members) varies the model; each
// option at its default draws nothing extra, so the bytes above stay as they were:
//   cluster_size_power a > 0: cluster k is picked with probability proportional to (k+1)^-a
//   anisotropy b > 0: cluster k spreads dimension j by exp(b * N) more (a fixed draw per cluster)
//   student_t_dof v > 0: the within-cluster noise is multivariate Student-t: the Gaussian draw times
//     sqrt(v / chi2_v), one chi2_v per row (heavy-tailed rows, some far from every cluster)
//   manifold_dim m > 0: no clusters; rows lie on a smooth m-dimensional manifold of the class,
//     x = m_c + s * A_c sin(W_c t + b_c) with t ~ N(0, I_m), 64 random features W_c ~ N(0, 1),
//     b_c ~ U[0, 2 pi), A_c ~ N(0, 2 / 64) (unit variance per dimension), plus the cluster_spread noise
// Determinism: centres draw from streams derived from (seed, class), each row from its own stream
// derive_seed(seed, row), so the bytes do not depend on the number of OpenMP threads, and a spec
// always gives the same bytes (tests/test_bgfdq_synthetic.cpp pins them for the dataset kind).
#include <cstdint>
#include <vector>

namespace dq {

// Sizes have no defaults (say what you want); the rest default to one plain isotropic mixture
// without copies. The dataset kind passes every field from its parameters (datasets/README.md).
struct ClusteredGaussianSpec {
  int64_t classes = 1;
  int64_t per_class = 0;           // rows per class, >= 1
  int64_t dim = 0;                 // >= 1
  int64_t clusters_per_class = 0;  // >= 1
  double cluster_spread = 0;       // within-cluster std, in units of the spread of cluster centres
  double class_spread = 0;         // spread of class centres, same unit (0: every class centred at 0)
  double spectrum_decay = 0;       // per-dimension variance falls as (j+1)^-decay (0: isotropic)
  double near_duplicates = 0;      // fraction of rows that copy another row of their class, in [0, 1]
  double duplicate_noise = 0;      // noise on a copy, in units of cluster_spread (0: exact copies)
  uint64_t seed = 0;
  double cluster_size_power = 0;   // zoo: power-law cluster sizes (0: uniform)
  double anisotropy = 0;           // zoo: per-cluster log-normal spread per dimension (0: round clusters)
  int64_t student_t_dof = 0;       // zoo: Student-t noise with this many degrees of freedom (0: Gaussian)
  int64_t manifold_dim = 0;        // zoo: rows on an m-dimensional manifold instead of clusters (0: clusters)
};

struct ClusteredGaussian {
  std::vector<float> features;  // (classes * per_class) x dim, row-major
  std::vector<int64_t> labels;  // classes * per_class: r / per_class
  int64_t near_duplicates = 0;  // rows that are copies of an earlier row
};

// Broken sizes (< 1) are a DQ_ASSERT: callers validate user parameters first (the dataset kind does).
ClusteredGaussian generate_clustered_gaussian(const ClusteredGaussianSpec& spec);

}  // namespace dq
