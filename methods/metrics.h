#pragma once
// Selection quality in embedding space (paper Eq. 6-7), computed per class with squared Euclidean
// distance in tiles (no M x M buffer), then summarised over classes.
#include <map>
#include <span>
#include <string>

#include "methods/method.h"

namespace dq {

// Keys (all doubles): "coverage_mean", "coverage_max" (R(S) = max_x min_s d(x,s), lower is better),
// "redundancy_mean", "redundancy_min" (Gamma(S) = min_{s != s'} d(s,s'), higher is better),
// "nearest_selected_mean" (mean over x of min_s d(x,s)), "realised_sample_ratio" (sum |S_c| / sum M_c),
// "realised_storage_ratio" (sum of keep fractions / sum M_c), "selected_nn_mean" (mean over picks of
// the distance to the nearest other pick: informative where duplicates make Gamma 0),
// "classes_without_selection" (classes left out of coverage; classes with < 2 picks have no Gamma).
// A summary with nothing to summarise (no class with a pick, or none with two) is left out of the
// map, never NaN: every value is finite for finite embeddings (the store refuses anything else).
std::map<std::string, double> selection_metrics(std::span<const ClassView> classes,
                                                std::span<const ClassSelection> selections, MemoryBudget& memory);

}  // namespace dq
