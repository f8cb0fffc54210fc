#pragma once
// The patch stage of a cell (DESIGN stage 4): for every selected image whose kept fraction is below 1,
// rank its patches (GradCAM++ on a network of the cell, or at random), drop the lowest-ranked ones,
// and reconstruct them (per-channel dataset mean, or a masked autoencoder). Selections that ask for
// semantic-offset patch dropping (BGFDQ w/ SPD) get their theta* and their final length here. The
// stored fraction of every image is counted from the mask actually applied. LibTorch-free: the
// networks come in through PatchBackend (models/ implements it), so the stage is tested with fakes.
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/content_hash.h"
#include "core/image_set.h"
#include "core/param_table.h"
#include "core/params.h"
#include "core/stage_timer.h"
#include "methods/method.h"
#include "patching/patches.h"

namespace dq {

// How the patches to drop are chosen: the lowest GradCAM++ scores, or uniformly at random.
enum class PatchDrop { GradCamPP, Random };
// What fills a dropped patch: the per-channel dataset mean, or a masked autoencoder.
enum class PatchFill { Mean, Mae };
// The network GradCAM++ explains: the cell's extractor (proxy kind), or a TorchScript file (cam_path).
enum class CamNetwork { Extractor, TorchScript };
// The class whose score GradCAM++ explains: the network's own prediction (DQ's code) or the label.
enum class CamTarget { Predicted, Label };
// The patch stage's forward passes: fp32, or bf16 autocast (models/compute_mode.h).
enum class PatchPrecision { Fp32, Bf16 };
// Their names in the `patches:` section (the table's choices; exported and keyed as such).
const char* patch_drop_name(PatchDrop drop);
const char* patch_fill_name(PatchFill fill);
const char* cam_network_name(CamNetwork network);
const char* cam_target_name(CamTarget target);
const char* patch_precision_name(PatchPrecision precision);

// The in-project MAE of reconstruct: mae (the `patches:` keys mae_*; models/mae.h reads them).
struct MaeOptions {
  std::string path;              // mae_path: a TorchScript MAE; empty: train the in-project one
  int64_t epochs = 10;           // training epochs over the training split
  int64_t dim = 128;             // encoder width
  int64_t depth = 4;             // encoder blocks
  int64_t decoder_dim = 96;      // decoder width
  int64_t decoder_depth = 2;     // decoder blocks
  int64_t heads = 4;             // attention heads (divides both widths)
  double mask_ratio = 0.5;       // share of patches masked per training image
  double lr = 1.5e-3;            // AdamW learning rate
  int64_t batch = 128;           // training batch
  int64_t train_samples = 0;     // train on the first N training images (0 = all)
  int64_t seed = 0;              // initialisation and masking seed
};

// The YAML `patches:` section (experiments/README.md), parsed once by patch_table(): every key is a
// row there, bound to a member here. The cam_*, mae_* and precision members are read by models/
// (make_patch_backend, make_mae); the rest by the stage.
struct PatchOptions {
  int64_t patch_size = 0;                   // px; 0 = PatchGrid's default for the resolution
  PatchDrop drop = PatchDrop::GradCamPP;
  PatchFill reconstruct = PatchFill::Mean;
  int64_t batch = 64;                       // images per network call
  CamNetwork cam_network = CamNetwork::Extractor;
  std::string cam_path;                     // TorchScript file for cam_network: torchscript
  CamTarget cam_target = CamTarget::Predicted;
  MaeOptions mae;
  PatchPrecision precision = PatchPrecision::Fp32;
  // Whether a network is needed for these selections (ranking, MAE or SPD).
  bool needs_backend(std::span<const ClassSelection> selections) const;
};

// The section's table: one row per key (type, default, bounds, help), in listing order.
const ParamTable<PatchOptions>& patch_table();
std::vector<ParamSpec> patch_specs();             // patch_table().specs()
PatchOptions parse_patch_options(const Params& validated);  // patch_table().parse, owner "patches"
// The MAE's widths (models/mae.h: its attention splits a width over mae_heads, its 2-D sin-cos position
// embedding a width in four): mae_dim and mae_decoder_dim must each be a multiple of 4 and of mae_heads.
// Throws dq::Error "<where(key)>patches.mae_dim = 130 must be a multiple of 4 and of mae_heads (4)", with
// `where` given the offending width's key ("mae_dim") to locate it ("" for no location).
void check_mae_widths(const MaeOptions& mae, const std::function<std::string(const std::string& key)>& where);
// The options as the section's named values (owner "patches"): the text cell ids and cache keys are
// made of, the same as the values they were parsed from.
Params patch_params(const PatchOptions& options);

// The networks the stage calls. Every image is uint8 C x H x W, images contiguous.
class PatchBackend {
 public:
  virtual ~PatchBackend() = default;
  // Identity of the ranking network (the content hash of its bytes), its options and the ranking
  // code (core/code_identity.h); the ranking cache is keyed on it.
  virtual std::string ranking_key() const = 0;
  // GradCAM++ patch scores in [0, 1] of n = labels.size() images: n x grid.count(), row-major patches.
  virtual std::vector<float> patch_scores(const uint8_t* images, std::span<const int64_t> labels,
                                          const PatchGrid& grid) = 0;
  // Fills the dropped patches (masks: n x grid.count(), 1 = kept) of n images in place; kept pixels
  // must come back bit-identical.
  virtual void reconstruct(uint8_t* images, int64_t n, std::span<const uint8_t> masks, const PatchGrid& grid) = 0;
  // Embeds n images with the cell's extractor (same network and preprocessing as the embed stage):
  // n x dim floats, dim returned through `dim`.
  virtual std::vector<float> embed(const uint8_t* images, int64_t n, int64_t& dim) = 0;
  // What the backend wants recorded with the stage (MAE training time and reconstruction error).
  virtual std::map<std::string, double> metrics() const { return {}; }
  // The artefacts it used beyond the cell's extractor network (a TorchScript GradCAM++ network, the
  // MAE), for the cell's record (core/content_hash.h).
  virtual std::vector<ArtefactUse> artefacts() const { return {}; }
};

struct PatchStageInput {
  const ImageSet& train;
  PatchOptions options;
  PatchBackend* backend = nullptr;  // may be null when options.needs_backend() is false
  StageTimer& timer;
  uint64_t seed = 0;                // random-drop masks
  std::string cache_dir;            // ranking cache folder root ("" = no cache)
};

struct PatchStageResult {
  std::vector<int64_t> ids;    // dataset ids of the stored images, classes in order, picks in order
  std::vector<float> keep;     // kept patch fraction of each, from its applied mask
  PatchGrid grid;              // the grid the masks are cut on
  std::vector<uint8_t> masks;  // ids.size() x grid.count() bytes, 1 = kept: the masks applied (stored with the cell)
  ImageSet images;             // row i: the reconstructed image of train sample ids[i], its label
  std::map<std::string, double> metrics;
  // What the stage used: the GradCAM++ scores (kind "patch_scores") and the backend's networks beyond
  // the extractor (PatchBackend::artefacts), for the cell's record.
  std::vector<ArtefactUse> artefacts;
};

// Runs ranking, SPD (for selections that request it: their ids/keep are cut to the stored prefix, their
// diagnostics become those of the prefix (ClassSelection::prefix_diagnostics) and gain theta*
// statistics; the kept-patch counts SPD chose are the masks applied), dropping and reconstruction.
// Selections that carry their own masks (ClassSelection::masks) are dropped with those; masks of
// another patch count than the grid's are a dq::Error. Every selection's keep fractions become those of
// its applied masks. Sub-stages are timed as ranking, spd, dropping, reconstruction under the caller's
// open scope.
PatchStageResult run_patch_stage(std::vector<ClassSelection>& selections, const PatchStageInput& input);

}  // namespace dq
