#pragma once
// The on-disk KNN graph cache (internal to methods/knn/).
#include <cstdint>
#include <optional>
#include <string>

#include "methods/knn/knn.h"

namespace dq::detail {

// <cache_dir>/knn/<sha256 of embedding key, class label, size, dim, ids hash, options>.bin
std::string graph_cache_path(const ClassView& cls, const KnnGraphOptions& options, const Services& services);
// The graph stored at `path` for n rows and k neighbours; nullopt when missing, truncated or not that.
std::optional<KnnGraph> read_cached_graph(const std::string& path, int64_t n, int64_t k);
// Written to a temporary file and renamed into place (concurrent cells never read half a graph).
void write_cached_graph(const std::string& path, const KnnGraph& graph);

}  // namespace dq::detail
