#pragma once
// The on-disk KNN graph cache (internal to methods/knn/).
#include <cstdint>
#include <optional>
#include <string>

#include "methods/knn/knn.h"

namespace dq::detail {

// <cache_dir>/knn/<sha256 of the embeddings' content hash, class label, size, dim, ids hash, options but
// k, and methods/knn/'s code identity>/: one entry per class and options, holding one file per k
// ("k<K>.bin").
std::string graph_cache_entry(const ClassView& cls, const KnnGraphOptions& options, const CellResources& resources);
std::string graph_cache_file(const std::string& entry, int64_t k);
// The graph stored at `path` for n rows and k neighbours; nullopt when missing, truncated or not that.
std::optional<KnnGraph> read_cached_graph(const std::string& path, int64_t n, int64_t k);
// The graph of the smallest k' > k stored in `entry` that reads whole, cut to the first k slots of
// every row (computed_k = k'); nullopt when there is none.
std::optional<KnnGraph> read_cached_prefix(const std::string& entry, int64_t n, int64_t k);
// The first k entries of every row of an exact graph with lists of length >= k (computed_k, lambda_C
// and the rest unchanged: none of them depends on k).
KnnGraph cut_to_prefix(KnnGraph graph, int64_t k);
// Written through core/atomic_file.h (concurrent cells never read half a graph; a failed write is a
// warning).
void write_cached_graph(const std::string& path, const KnnGraph& graph);
// sha256 of the bytes write_cached_graph writes for `graph` (the graph's content hash, whether or not
// it reaches the disk).
std::string graph_content_sha256(const KnnGraph& graph);

}  // namespace dq::detail
