#pragma once
// A coreset as files, the form Python users trade coresets in (DataComp's sorted id arrays): the
// folder `dqbench export` writes (harness/coreset_export.h) and the `indices` method reads
// (methods/indices.cpp), with the checks a coreset made elsewhere must pass before it is evaluated.
//
// Folder layout (row i of every array belongs to dataset id indices[i]):
//   indices.npy   int64 (n,)     training-split dataset ids, ascending, each once
//   labels.npy    int64 (n,)     the class of each id
//   keep.npy      float32 (n,)   kept share of each image's patches, in (0, 1]
//   masks.npy     bool (n, P)    kept patches (True = kept), row-major on the grid named in the manifest
//   manifest.json                where the coreset came from (cell, method, ratio, seed, hashes)
//   images.npy    uint8 (n, H, W, C)  the images as trained on (optional), or images/<class>/<id>.png
//   bins.npy, bin_ranks.npy      DQ family: each training sample's bin and its rank in it (optional)
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dq {

namespace coreset_file {
inline constexpr const char* kIndices = "indices.npy";
inline constexpr const char* kLabels = "labels.npy";
inline constexpr const char* kKeep = "keep.npy";
inline constexpr const char* kMasks = "masks.npy";
inline constexpr const char* kManifest = "manifest.json";
inline constexpr const char* kImages = "images.npy";
inline constexpr const char* kImageFolder = "images";
inline constexpr const char* kBins = "bins.npy";
inline constexpr const char* kBinRanks = "bin_ranks.npy";
inline constexpr const char* kTestImages = "test_images.npy";
inline constexpr const char* kTestLabels = "test_labels.npy";
inline constexpr const char* kFormat = "dqbench-coreset";
inline constexpr int kFormatVersion = 1;
}  // namespace coreset_file

// The files one coreset is read from: `file` is a folder (a dqbench export: its indices.npy and, where
// present, keep.npy, masks.npy and labels.npy) or a .npy of ids, with `keep` and `masks` files given
// separately ("" = none; a folder's own files win only where these are empty). Throws dq::Error naming
// `where` for a path that does not exist.
struct CoresetSource {
  std::string indices, keep, masks, labels;  // "" = absent
  static CoresetSource resolve(const std::string& file, const std::string& keep, const std::string& masks,
                               const std::string& where);
  // sha256 over each file read (its role and its content's sha256): the coreset's identity.
  std::string content_sha256() const;
};

// A coreset read back and checked row by row against the training split.
struct CoresetRows {
  std::vector<int64_t> ids;    // file order
  std::vector<float> keep;     // 1 where no keep or masks file was given
  std::vector<uint8_t> masks;  // ids.size() x patches bytes (1 = kept); empty without a masks file
  int64_t patches = 0;         // P, or 0 without masks
};

// Reads `source` and checks: ids are int64 1-D, each a training sample (`owner_label[id]` >= 0) and
// unique; keep is float32 of the same length in (0, 1]; masks are bool or uint8 0/1 of shape (n, P)
// with at least one kept patch, and where keep is also given keep[i] is row i's kept share (k / P); a
// labels file, where present, agrees with the dataset. Every violation is a dq::Error naming the file,
// the row and the value. `owner_label[id]` is the class of training sample id, or -1 for an id the
// cell does not select from.
CoresetRows read_coreset(const CoresetSource& source, std::span<const int64_t> owner_label);

}  // namespace dq
