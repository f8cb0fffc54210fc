#pragma once
// Content hashes of cache files. A downstream artefact's key holds the sha256 of its inputs' bytes,
// so a file rewritten in place (retrained, recomputed by other code, copied over) gives every
// artefact made from it a new key. Hashing a 150 MB embedding file for every cell that reads it would
// cost more than reading it, so the hash is remembered beside the file, in `<path>.sha256`, with the
// file's size, inode, mtime and ctime at hashing time. The remembered hash is used only while all four
// are unchanged and the ctime lies more than 2 s before the moment of hashing (a write in the same
// clock tick as the hashing would otherwise go unseen: git's "racily clean" rule). ctime cannot be set
// back by any tool (touch, cp -p and rsync -t set mtime only), so no rewrite passes; anything else is
// a rehash, and the sidecar is rewritten.
#include <cstdint>
#include <string>

namespace dq {

// sha256 (64 hex digits) of the file's bytes. Throws dq::Error naming the file if it cannot be read.
// A sidecar that cannot be written is not an error (the next call hashes again).
std::string file_content_sha256(const std::string& path);

// The sidecar path of `path`: `<path>.sha256`.
std::string content_hash_sidecar(const std::string& path);

// An artefact a cell used or made: what it records (harness/README.md, table cell_artefacts). Per-class
// artefacts (KNN graphs, bins) are reported once per class and folded into one record per kind.
struct ArtefactUse {
  std::string kind;         // "dataset", "extractor_network", "embeddings", "knn_graph", "bins", ...
  std::string key;          // the cache key it has (or would have, without a cache folder)
  std::string sha256;       // sha256 of its bytes (for a file: the file's bytes)
  int64_t bytes = -1;       // its size; -1 when unknown
  bool from_cache = false;  // read from the cache rather than made by this cell
};

}  // namespace dq
