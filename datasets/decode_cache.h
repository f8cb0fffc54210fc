#pragma once
// Decode once, reload fast: a decoded Dataset is stored as one flat binary file keyed by the
// loader's fingerprint (source paths, sizes, mtimes + the options that change the data) and the
// decoding code's identity (core/code_identity.h), so a changed source, option or loader gives a new
// key. The header holds the content hash (Dataset::content_sha256) that downstream keys use. Files are written atomically (tmp + rename); on reload
// the file is memory-mapped and every section is checked (size, CRC-32), so a truncated or
// corrupt cache file is detected, reported and rebuilt instead of being trusted.
//
// Layout (native little-endian: a cache is local to the machine that wrote it):
// "DQDSET01", u64 header length, JSON header (kind, fingerprint, content sha256, class names, load report,
// split shapes, sections with offset/bytes/crc32, file size), then the sections, 64-byte aligned:
// train pixels, train labels (int64 LE), test pixels, test labels, train features (float32).
#include <optional>
#include <string>

#include "core/params.h"
#include "datasets/dataset.h"

namespace dq {

struct LoadedDataset {
  Dataset dataset;
  bool from_cache = false;
  double seconds = 0;      // wall time of this call (decode or cache reload, plus fingerprinting)
  std::string cache_path;  // empty when no cache is used
};

// Loads dataset `kind` with `params`, through the cache in `cache_dir` (empty = no cache).
// `where` locates the dataset's definition for error messages (e.g. "x.yaml:4:3 dataset 'cifar10'").
// Sets dataset.fingerprint (the loader's fingerprint and the decoding code's identity) and
// dataset.content_sha256.
LoadedDataset load_dataset(const std::string& kind, const Params& params, const std::string& cache_dir,
                           const std::string& where);

// The cache file that would hold dataset `kind` with this fingerprint.
std::string dataset_cache_path(const std::string& cache_dir, const std::string& kind, const std::string& fingerprint);

void write_dataset_cache(const Dataset& dataset, const std::string& path);

// The cached dataset, or nullopt (with the reason in *why_not) when the file is missing, truncated,
// corrupt or holds another fingerprint.
std::optional<Dataset> read_dataset_cache(const std::string& path, const std::string& expected_fingerprint,
                                          std::string* why_not);

}  // namespace dq
