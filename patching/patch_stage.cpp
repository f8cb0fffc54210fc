#include "patching/patch_stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "core/rng.h"
#include "patching/spd.h"

namespace dq {

const char* patch_drop_name(PatchDrop drop) { return drop == PatchDrop::GradCamPP ? "gradcampp" : "random"; }
const char* patch_fill_name(PatchFill fill) { return fill == PatchFill::Mean ? "mean" : "mae"; }
const char* cam_network_name(CamNetwork network) { return network == CamNetwork::Extractor ? "extractor" : "torchscript"; }
const char* cam_target_name(CamTarget target) { return target == CamTarget::Predicted ? "predicted" : "label"; }
const char* patch_precision_name(PatchPrecision precision) { return precision == PatchPrecision::Fp32 ? "fp32" : "bf16"; }

const ParamTable<PatchOptions>& patch_table() {
  using O = PatchOptions;
  using M = MaeOptions;
  static const ParamTable<PatchOptions> table{{
      field({.name = "patch_size",
             .help = "patch side in px; 0 = 4 px below 112 px (32 px: 8 x 8 patches), 16 px above (224 px: 14 x 14)",
             .min = 0, .max = 1024},
            &O::patch_size),
      field({.name = "drop",
             .help = "which patches go: the lowest GradCAM++ scores, or uniformly random ones (the DQ paper's ablation)"},
            named_values({PatchDrop::GradCamPP, PatchDrop::Random}, patch_drop_name), &O::drop),
      field({.name = "reconstruct", .help = "fill for dropped patches: the per-channel dataset mean, or a masked autoencoder"},
            named_values({PatchFill::Mean, PatchFill::Mae}, patch_fill_name), &O::reconstruct),
      field({.name = "batch", .help = "images per network call (ranking, reconstruction, SPD)", .min = 1, .max = 4096},
            &O::batch),
      field({.name = "cam_network",
             .help = "GradCAM++ network: the cell's extractor (proxy kind), or a TorchScript file (cam_path) whose forward "
                     "returns (last spatial activation N x K x h x w, class scores N x classes)"},
            named_values({CamNetwork::Extractor, CamNetwork::TorchScript}, cam_network_name), &O::cam_network),
      field({.name = "cam_path", .help = "TorchScript file for cam_network: torchscript"}, &O::cam_path),
      field({.name = "cam_target",
             .help = "class whose score GradCAM++ explains: the network's own prediction (DQ's code) or the dataset label"},
            named_values({CamTarget::Predicted, CamTarget::Label}, cam_target_name), &O::cam_target),
      field({.name = "mae_path",
             .help = "TorchScript MAE: forward(images N x C x H x W in [0,1], mask N x P float, 1 = kept) -> images in [0,1]; "
                     "empty: train the small in-project MAE"},
            &O::mae, &M::path),
      field({.name = "mae_epochs", .help = "in-project MAE: training epochs over the training split", .min = 1, .max = 10000},
            &O::mae, &M::epochs),
      field({.name = "mae_dim", .help = "in-project MAE: encoder width", .min = 8, .max = 4096}, &O::mae, &M::dim),
      field({.name = "mae_depth", .help = "in-project MAE: encoder blocks", .min = 1, .max = 64}, &O::mae, &M::depth),
      field({.name = "mae_decoder_dim", .help = "in-project MAE: decoder width", .min = 8, .max = 4096}, &O::mae,
            &M::decoder_dim),
      field({.name = "mae_decoder_depth", .help = "in-project MAE: decoder blocks", .min = 1, .max = 64}, &O::mae,
            &M::decoder_depth),
      field({.name = "mae_heads", .help = "in-project MAE: attention heads (divides both widths)", .min = 1, .max = 64},
            &O::mae, &M::heads),
      field({.name = "mae_mask_ratio", .help = "in-project MAE: share of patches masked per training image", .min = 0.05,
             .max = 0.95},
            &O::mae, &M::mask_ratio),
      field({.name = "mae_lr", .help = "in-project MAE: AdamW learning rate", .min = 0, .max = 1}, &O::mae, &M::lr),
      field({.name = "mae_batch", .help = "in-project MAE: training batch", .min = 1, .max = 4096}, &O::mae, &M::batch),
      field({.name = "mae_train_samples", .help = "in-project MAE: train on the first N training images (0 = all)",
             .min = 0},
            &O::mae, &M::train_samples),
      field({.name = "mae_seed", .help = "in-project MAE: initialisation and masking seed", .min = 0}, &O::mae, &M::seed),
      // Added after results were recorded: left out of cell ids and cache keys at its default.
      field({.name = "precision",
             .help = "the patch stage's forward passes (GradCAM++, SPD's embeddings, the MAE's training and "
                     "reconstruction): fp32, or bf16 autocast (weights stay float32; maps, embeddings and pixels handed "
                     "on in float32)",
             .omit_at_default = true},
            named_values({PatchPrecision::Fp32, PatchPrecision::Bf16}, patch_precision_name), &O::precision),
  }};
  return table;
}

std::vector<ParamSpec> patch_specs() { return patch_table().specs(); }

PatchOptions parse_patch_options(const Params& validated) { return patch_table().parse(validated); }

void check_mae_widths(const MaeOptions& mae, const std::function<std::string(const std::string& key)>& where) {
  for (const auto& [name, width] : {std::pair{"mae_dim", mae.dim}, std::pair{"mae_decoder_dim", mae.decoder_dim}})
    if (width % mae.heads != 0 || width % 4 != 0)
      throw Error(fmt::format("{}patches.{} = {} must be a multiple of 4 and of mae_heads ({})", where(name), name, width,
                              mae.heads));
}

Params patch_params(const PatchOptions& options) { return patch_table().params_of(options, "patches"); }

bool PatchOptions::needs_backend(std::span<const ClassSelection> selections) const {
  if (reconstruct == PatchFill::Mae) return true;
  for (const auto& s : selections) {
    if (s.spd) return true;
    if (drop == PatchDrop::GradCamPP && s.masks.empty())  // given masks need no ranking
      for (float w : s.keep)
        if (w < 1.0f) return true;
  }
  return false;
}

namespace {

// GradCAM++ scores of the training images, computed once per image and kept on disk under a key of
// the ranking network (itself keyed by the embeddings' identity) and the grid: N x P floats, NaN rows
// not computed yet.
class RankingCache {
 public:
  RankingCache(const PatchStageInput& in, const PatchGrid& grid) : in_(in), grid_(grid) {
    const int64_t p = grid.count();
    scores_.assign(static_cast<size_t>(in.train.n * p), std::numeric_limits<float>::quiet_NaN());
    used_.assign(static_cast<size_t>(in.train.n), 0);
    if (!in.backend || in.options.drop != PatchDrop::GradCamPP) return;
    key_ = sha256_hex(fmt::format("{}|grid:{}x{}x{}|n:{}", in.backend->ranking_key(), grid.rows, grid.cols, grid.patch,
                                  in.train.n));
    if (in.cache_dir.empty()) return;
    const auto dir = std::filesystem::path(in.cache_dir) / "patch_scores";
    std::filesystem::create_directories(dir);
    path_ = (dir / (key_ + ".npy")).string();
    if (!std::filesystem::exists(path_)) return;
    try {
      const NpyArray arr = read_npy(path_);
      if (arr.shape == std::vector<int64_t>{in.train.n, p}) scores_ = arr.as_float32(path_);
    } catch (const Error& e) {
      warn_cache_rebuild("GradCAM++ ranking", path_, e.what());  // damaged: recomputed and overwritten
    }
    for (int64_t i = 0; i < in.train.n; ++i) loaded_ += std::isnan(row(i)[0]) ? 0 : 1;
  }

  // Scores of `ids` (computing the missing ones in batches), ids.size() x P.
  std::vector<float> get(std::span<const int64_t> ids) {
    std::vector<int64_t> missing;
    for (int64_t id : ids)
      if (std::isnan(row(id)[0])) missing.push_back(id);
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    if (!missing.empty()) {
      DQ_ASSERT(in_.backend, "GradCAM++ ranking needs a patch backend");
      auto scope = in_.timer.scope("ranking");
      const ImageSet& train = in_.train;
      for (size_t start = 0; start < missing.size(); start += static_cast<size_t>(in_.options.batch)) {
        const size_t count = std::min(missing.size() - start, static_cast<size_t>(in_.options.batch));
        std::vector<uint8_t> batch(count * static_cast<size_t>(train.image_bytes()));
        std::vector<int64_t> labels(count);
        for (size_t i = 0; i < count; ++i) {
          const int64_t id = missing[start + i];
          std::copy_n(train.image(id), train.image_bytes(), batch.data() + i * train.image_bytes());
          labels[i] = train.labels[static_cast<size_t>(id)];
        }
        const std::vector<float> s = in_.backend->patch_scores(batch.data(), labels, grid_);
        DQ_ASSERT(s.size() == count * static_cast<size_t>(grid_.count()), "patch_scores returned the wrong size");
        for (size_t i = 0; i < count; ++i)
          std::copy_n(s.data() + i * grid_.count(), grid_.count(), row(missing[start + i]));
      }
      computed_ += static_cast<int64_t>(missing.size());
    }
    std::vector<float> out;
    out.reserve(ids.size() * static_cast<size_t>(grid_.count()));
    for (int64_t id : ids) {
      out.insert(out.end(), row(id), row(id) + grid_.count());
      used_[static_cast<size_t>(id)] = 1;
    }
    return out;
  }

  // The scores the stage used, as an artefact (kind "patch_scores"): the ranking file's key and the
  // sha256 of the rows of every image it ranked, by ascending id. Empty kind when nothing was ranked.
  ArtefactUse artefact() {
    Sha256 digest;
    digest.update(fmt::format("dq-patch-scores/1 patches {}\n", grid_.count()));
    int64_t rows = 0;
    for (int64_t id = 0; id < static_cast<int64_t>(used_.size()); ++id) {
      if (!used_[static_cast<size_t>(id)]) continue;
      digest.update(&id, sizeof id);
      digest.update(row(id), static_cast<size_t>(grid_.count()) * sizeof(float));
      ++rows;
    }
    if (rows == 0) return {};
    return {.kind = "patch_scores", .key = key_, .sha256 = digest.hex(),
            .bytes = rows * grid_.count() * static_cast<int64_t>(sizeof(float)), .from_cache = computed_ == 0};
  }

  void save() const {
    if (path_.empty() || computed_ == 0) return;
    try_write_cache(path_, "GradCAM++ ranking", [&] { write_npy(path_, scores_.data(), {in_.train.n, grid_.count()}); });
  }
  int64_t computed() const { return computed_; }
  int64_t loaded() const { return loaded_; }

 private:
  float* row(int64_t id) { return scores_.data() + id * grid_.count(); }
  const PatchStageInput& in_;
  PatchGrid grid_;
  std::vector<float> scores_;
  std::vector<char> used_;  // per training image: its scores were asked for
  std::string key_, path_;
  int64_t computed_ = 0, loaded_ = 0;
};

class PatchStage {
 public:
  PatchStage(const PatchStageInput& in)
      : in_(in),
        grid_(PatchGrid::for_image(in.train.height, in.train.width, in.options.patch_size, "patches (key 'patch_size')")),
        ranking_(in, grid_),
        fill_(channel_mean_bytes(in.train)) {}

  // Mask of train sample `id` keeping `keep` patches: its top-ranked ones, or a random draw that
  // depends only on (seed, id, keep) so SPD's trial masks equal the applied ones.
  std::vector<std::vector<uint8_t>> masks(std::span<const int64_t> ids, std::span<const int64_t> keep) {
    std::vector<std::vector<uint8_t>> out(ids.size());
    const int64_t p = grid_.count();
    std::vector<int64_t> to_rank;
    for (size_t i = 0; i < ids.size(); ++i)
      if (keep[i] < p && in_.options.drop == PatchDrop::GradCamPP) to_rank.push_back(ids[i]);
    const std::vector<float> scores = to_rank.empty() ? std::vector<float>{} : ranking_.get(to_rank);
    auto scope = in_.timer.scope("dropping");
    size_t ranked = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (keep[i] >= p) {
        out[i].assign(static_cast<size_t>(p), 1);
      } else if (in_.options.drop == PatchDrop::GradCamPP) {
        out[i] = top_patch_mask(std::span(scores).subspan(ranked++ * static_cast<size_t>(p), static_cast<size_t>(p)), keep[i]);
      } else {
        Rng rng(derive_seed(derive_seed(in_.seed, static_cast<uint64_t>(ids[i])), static_cast<uint64_t>(keep[i])));
        out[i] = random_patch_mask(p, keep[i], rng);
      }
    }
    return out;
  }

  // Copies the images of `ids` and reconstructs each with its mask, in place, into `pixels`.
  void reconstruct(std::span<const int64_t> ids, const std::vector<std::vector<uint8_t>>& masks, uint8_t* pixels) {
    const ImageSet& t = in_.train;
    const int64_t bytes = t.image_bytes(), p = grid_.count();
    for (size_t i = 0; i < ids.size(); ++i) std::copy_n(t.image(ids[i]), bytes, pixels + i * bytes);
    auto scope = in_.timer.scope("reconstruction");
    if (in_.options.reconstruct == PatchFill::Mean) {
      for (size_t i = 0; i < ids.size(); ++i)
        fill_dropped_patches(pixels + i * bytes, t.channels, t.height, t.width, grid_, masks[i], fill_);
      return;
    }
    // MAE: only images with dropped patches go to the network, in batches.
    std::vector<size_t> todo;
    for (size_t i = 0; i < ids.size(); ++i)
      if (std::count(masks[i].begin(), masks[i].end(), uint8_t{1}) < p) todo.push_back(i);
    for (size_t start = 0; start < todo.size(); start += static_cast<size_t>(in_.options.batch)) {
      const size_t count = std::min(todo.size() - start, static_cast<size_t>(in_.options.batch));
      std::vector<uint8_t> batch(count * static_cast<size_t>(bytes)), m(count * static_cast<size_t>(p));
      for (size_t i = 0; i < count; ++i) {
        std::copy_n(pixels + todo[start + i] * bytes, bytes, batch.data() + i * bytes);
        std::copy_n(masks[todo[start + i]].data(), p, m.data() + i * p);
      }
      in_.backend->reconstruct(batch.data(), static_cast<int64_t>(count), m, grid_);
      for (size_t i = 0; i < count; ++i) {
        uint8_t* dst = pixels + todo[start + i] * bytes;
        const uint8_t* src = batch.data() + i * bytes;
        // Kept pixels must survive the network bit for bit: checked, not assumed.
        std::vector<uint8_t> kept_only(dst, dst + bytes);
        std::vector<uint8_t> back(src, src + bytes);
        fill_dropped_patches(kept_only.data(), t.channels, t.height, t.width, grid_, masks[todo[start + i]], fill_);
        fill_dropped_patches(back.data(), t.channels, t.height, t.width, grid_, masks[todo[start + i]], fill_);
        if (kept_only != back) throw Error("MAE reconstruction changed kept pixels (a backend must paste them back)");
        std::copy_n(src, bytes, dst);
      }
    }
  }

  // Semantic offsets ||f(x) - f(x_theta)||^2 of a batch of candidates, ids.size() x 9.
  std::vector<double> offsets(std::span<const int64_t> ids) {
    const size_t nt = kSpdThetas.size(), n = ids.size();
    const int64_t bytes = in_.train.image_bytes();
    std::vector<int64_t> trial_ids, trial_keep;
    for (int64_t id : ids)
      for (double theta : kSpdThetas) {
        trial_ids.push_back(id);
        trial_keep.push_back(kept_patch_count(grid_.count(), theta));
      }
    const auto m = masks(trial_ids, trial_keep);
    std::vector<uint8_t> pixels((n + trial_ids.size()) * static_cast<size_t>(bytes));
    for (size_t i = 0; i < n; ++i) std::copy_n(in_.train.image(ids[i]), bytes, pixels.data() + i * bytes);
    reconstruct(trial_ids, m, pixels.data() + n * bytes);
    int64_t d = 0;
    std::vector<float> f;
    {
      auto scope = in_.timer.scope("embedding");
      f = in_.backend->embed(pixels.data(), static_cast<int64_t>(n + trial_ids.size()), d);
    }
    std::vector<double> out(n * nt);
    for (size_t i = 0; i < n; ++i)
      for (size_t t = 0; t < nt; ++t) {
        const float* a = f.data() + i * d;
        const float* b = f.data() + (n + i * nt + t) * d;
        double s = 0;
        for (int64_t k = 0; k < d; ++k) s += (double(a[k]) - b[k]) * (double(a[k]) - b[k]);
        out[i * nt + t] = s;
      }
    return out;
  }

  PatchStageResult run(std::vector<ClassSelection>& selections) {
    PatchStageResult r;
    auto& m = r.metrics;
    const int64_t p = grid_.count();
    // SPD first: it decides which candidates are stored and at what theta.
    std::vector<int64_t> hist(kSpdThetas.size() + 1, 0);
    // SPD's kept-patch counts per selection, as integers end to end (empty: from the keep fractions).
    std::vector<std::vector<int64_t>> spd_kept(selections.size());
    std::vector<double> seen_offsets;  // offsets of every evaluated candidate, in units of its class threshold
    double spd_drop = 0, spd_seconds = 0;
    int64_t spd_stored = 0, spd_evaluated = 0;
    for (size_t c = 0; c < selections.size(); ++c) {
      auto& s = selections[c];
      if (!s.spd) continue;
      const SpdRequest request = *s.spd;
      if (!in_.backend) throw Error("SPD needs the cell's extractor network (patch backend)");
      const auto t0 = std::chrono::steady_clock::now();
      SpdResult spd;
      {
        auto scope = in_.timer.scope("spd");
        spd = semantic_offset_dropping(s.ids, request.threshold, request.budget, p, kSpdThetas, in_.options.batch,
                                       [&](std::span<const int64_t> ids) {
                                         auto off = offsets(ids);
                                         for (size_t i = 0; i < off.size(); ++i)
                                           seen_offsets.push_back(off[i] / request.threshold);
                                         return off;
                                       });
      }
      spd_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      s.ids = spd.ids;
      s.keep = spd.keep;
      spd_kept[c] = spd.kept;
      if (s.prefix_diagnostics)  // the method's diagnostics of the stored prefix, not of the whole order
        for (const auto& [k, v] : s.prefix_diagnostics(s.ids.size())) s.diagnostics[k] = v;
      double drop = 0;
      for (double th : spd.theta) {
        hist[static_cast<size_t>(std::lround(th * 10))] += 1;
        drop += th;
      }
      s.diagnostics["spd_mean_drop"] = spd.theta.empty() ? 0 : drop / static_cast<double>(spd.theta.size());
      s.diagnostics["spd_candidates_evaluated"] = static_cast<double>(spd.evaluated);
      s.diagnostics["spd_stored_images"] = spd.stored;
      spd_drop += drop;
      spd_stored += static_cast<int64_t>(spd.ids.size());
      spd_evaluated += spd.evaluated;
    }
    if (spd_evaluated > 0) {
      for (size_t t = 0; t < hist.size(); ++t) m[fmt::format("spd_theta_{:.1f}_count", 0.1 * t)] = static_cast<double>(hist[t]);
      m["spd_mean_drop"] = spd_stored ? spd_drop / static_cast<double>(spd_stored) : 0;
      m["spd_candidates_evaluated"] = static_cast<double>(spd_evaluated);
      m["spd_seconds"] = spd_seconds;
      m["spd_seconds_per_candidate"] = spd_seconds / static_cast<double>(spd_evaluated);
      // What another threshold would have chosen for the same candidates (the lambda_scale sweep, without
      // re-running): mean theta* at x times the threshold used.
      const size_t nt = kSpdThetas.size();
      for (double x : {0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0}) {
        double sum = 0;
        for (size_t i = 0; i + nt <= seen_offsets.size(); i += nt)
          sum += spd_pick_theta(kSpdThetas, std::span(seen_offsets).subspan(i, nt), x);
        m[fmt::format("spd_mean_drop_at_threshold_x{}", x)] = sum / static_cast<double>(seen_offsets.size() / nt);
      }
      for (const auto& s : selections)
        if (s.spd && s.diagnostics.count("lambda_c"))
          m[fmt::format("spd_lambda_c_class_{}", &s - selections.data())] = s.diagnostics.at("lambda_c");
    }

    // Masks for every stored image (the method's own where it gives them, else ranked or drawn here, with
    // the kept-patch counts SPD chose), then the reconstructed training images keyed by dataset id.
    std::vector<std::vector<uint8_t>> applied;
    std::vector<int64_t> todo_ids, todo_keep;
    std::vector<size_t> todo_rows;
    for (size_t c = 0; c < selections.size(); ++c) {
      const auto& s = selections[c];
      DQ_ASSERT(s.ids.size() == s.keep.size(), "selection ids and keep differ in length");
      DQ_ASSERT(spd_kept[c].empty() || spd_kept[c].size() == s.ids.size(), "one SPD count per stored sample");
      const bool given = !s.masks.empty();
      if (given && s.masks.size() != s.ids.size() * static_cast<size_t>(p))
        throw Error(fmt::format("the method gave patch masks of {} bytes for {} images, but the cell's grid ({} x {} "
                                "patches of {} px, patches.patch_size) needs {} per image",
                                s.masks.size(), s.ids.size(), grid_.rows, grid_.cols, grid_.patch, p));
      for (size_t i = 0; i < s.ids.size(); ++i) {
        r.ids.push_back(s.ids[i]);
        if (given) {
          applied.emplace_back(s.masks.begin() + static_cast<std::ptrdiff_t>(i * p),
                               s.masks.begin() + static_cast<std::ptrdiff_t>((i + 1) * p));
          continue;
        }
        todo_rows.push_back(applied.size());
        applied.emplace_back();
        todo_ids.push_back(s.ids[i]);
        todo_keep.push_back(spd_kept[c].empty() ? kept_patch_count(p, 1.0 - static_cast<double>(s.keep[i]))
                                                : spd_kept[c][i]);
      }
    }
    auto drawn = masks(todo_ids, todo_keep);
    for (size_t k = 0; k < drawn.size(); ++k) applied[todo_rows[k]] = std::move(drawn[k]);
    const ImageSet& t = in_.train;
    r.images.n = static_cast<int64_t>(r.ids.size());
    r.images.channels = t.channels;
    r.images.height = t.height;
    r.images.width = t.width;
    r.images.pixels.resize(r.ids.size() * static_cast<size_t>(t.image_bytes()));
    for (int64_t id : r.ids) r.images.labels.push_back(t.labels[static_cast<size_t>(id)]);
    reconstruct(r.ids, applied, r.images.pixels.data());
    ranking_.save();

    r.grid = grid_;
    r.masks.reserve(applied.size() * static_cast<size_t>(p));
    for (const auto& mask : applied) r.masks.insert(r.masks.end(), mask.begin(), mask.end());
    double kept_patches = 0, dropped_images = 0;
    for (const auto& mask : applied) {
      const auto k = std::count(mask.begin(), mask.end(), uint8_t{1});
      r.keep.push_back(static_cast<float>(static_cast<double>(k) / static_cast<double>(p)));
      kept_patches += static_cast<double>(k);
      dropped_images += k < p ? 1 : 0;
    }
    // The selections' keep fractions become those of the applied masks, so that what is measured of
    // them afterwards (realised_storage_ratio in methods/metrics.h) is what is stored.
    size_t at = 0;
    for (auto& s : selections)
      for (float& w : s.keep) w = r.keep[at++];
    const double n = static_cast<double>(t.n), stored = static_cast<double>(r.ids.size());
    m["patches_per_image"] = static_cast<double>(p);
    m["patch_size_px"] = static_cast<double>(grid_.patch);
    m["patch_sample_ratio"] = stored / n;
    m["patch_storage_ratio"] = kept_patches / static_cast<double>(p) / n;
    m["patch_kept_fraction_mean"] = stored > 0 ? kept_patches / (static_cast<double>(p) * stored) : 1.0;
    m["patch_images_with_drops"] = dropped_images;
    m["patch_rankings_computed"] = static_cast<double>(ranking_.computed());
    m["patch_rankings_from_cache"] = static_cast<double>(ranking_.loaded());
    if (ArtefactUse scores = ranking_.artefact(); !scores.kind.empty()) r.artefacts.push_back(std::move(scores));
    if (in_.backend)
      for (auto& a : in_.backend->artefacts()) r.artefacts.push_back(std::move(a));
    return r;
  }

 private:
  const PatchStageInput& in_;
  PatchGrid grid_;
  RankingCache ranking_;
  std::vector<uint8_t> fill_;
};

}  // namespace

PatchStageResult run_patch_stage(std::vector<ClassSelection>& selections, const PatchStageInput& input) {
  if (input.options.needs_backend(selections) && !input.backend)
    throw Error("the patch stage needs a network (GradCAM++ ranking, MAE or SPD) but none was given");
  return PatchStage(input).run(selections);
}

}  // namespace dq
