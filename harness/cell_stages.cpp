// The stages of one cell (harness/cell_stages.h).
#include "harness/cell_stages.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/hashing.h"
#include "core/rng.h"
#include "datasets/decode_cache.h"
#include "harness/method_notes.h"
#include "methods/method.h"
#include "methods/metrics.h"
#include "models/models_library.h"
#include "patching/patch_stage.h"

namespace dq {

namespace {

// The device a cell's exact KNN graph runs on: its extractor's (auto resolved), "" for the CPU. A
// selection-only cell (extractor kind none) never loads LibTorch to resolve `auto` (its KNN stays on the
// CPU); `device: cuda` there still searches on the GPU (methods/knn/device_search.cpp loads the library).
std::string knn_device(const CellConfig& cell) {
  if (!cell.extractor) return "";
  const DeviceSpec& device = cell.extractor->recipe.device;
  if (device.kind == DeviceSpec::Kind::Auto && cell.extractor->kind == ExtractorKind::None) return "";
  return resolved_cuda_device(device);
}

// Whether a selection cuts images: a kept fraction below 1, or an SPD candidate order.
bool cuts_images(const std::vector<ClassSelection>& selections) {
  for (const auto& s : selections)
    if (s.spd || std::any_of(s.keep.begin(), s.keep.end(), [](float w) { return w < 1.0f; })) return true;
  return false;
}

LoadedDataset load_cell_dataset(const Experiment& ex, const CellConfig& cell) {
  return load_dataset(cell.dataset.kind, cell.dataset.params, ex.cache_dir.empty() ? "" : ex.cache_dir + "/datasets",
                      fmt::format("{} dataset '{}'", ex.file, cell.dataset.name));
}

// Where a method's provenance strings go (CellResources::note): the method_notes table at once, and an
// external command's log also as an artefact. A plugin method's library and its sha256 go first.
std::function<void(const std::string&, const std::string&)> method_note_sink(Store& store, const std::string& id,
                                                                              const MethodSpec& spec) {
  clear_method_notes(store, id);
  auto sink = [&store, id](const std::string& name, const std::string& value) {
    record_method_note(store, id, name, value);
    if (name == "external_log") store.record_artefact(id + ":external_log", "external_log", value, -1);
  };
  const std::string& library = MethodRegistry::instance().find(spec.name, "method").library;
  if (!library.empty()) {
    sink("plugin_library", library);
    sink("plugin_library_sha256", sha256_file_hex(library));
  }
  return sink;
}

// Means over classes of the selections' diagnostics ("diag_<name>_mean").
std::map<std::string, double> diagnostic_means(const std::vector<ClassSelection>& selections) {
  std::map<std::string, std::pair<double, int>> diag;
  for (const auto& s : selections)
    for (const auto& [k, v] : s.diagnostics) {
      diag[k].first += v;
      diag[k].second += 1;
    }
  std::map<std::string, double> m;
  for (const auto& [k, v] : diag) m["diag_" + k + "_mean"] = v.first / v.second;
  return m;
}

}  // namespace

void CellStages::record(const std::map<std::string, double>& metrics) {
  const auto& records = timer_.records();
  for (; recorded_ < records.size(); ++recorded_)
    store_.record_stage(id_, records[recorded_],
                        recorded_ + 1 == records.size() ? metrics : std::map<std::string, double>{});
}

std::map<std::string, double> CellStages::dataset(Dataset& dataset) {
  auto scope = timer_.scope("dataset");
  LoadedDataset loaded = load_cell_dataset(ex_, cell_);
  dataset = std::move(loaded.dataset);
  scope.stop();
  std::map<std::string, double> m = {{"train_samples", static_cast<double>(dataset.train.n)},
                                     {"test_samples", static_cast<double>(dataset.test.n)},
                                     {"dataset_from_cache", loaded.from_cache ? 1.0 : 0.0}};
  for (const auto& [k, v] : dataset.load_report) m["dataset_" + k] = v;
  artefacts.add({.kind = "dataset",
                 .key = dataset.fingerprint.empty() ? "" : sha256_hex(dataset.fingerprint),
                 .sha256 = dataset.content_sha256,
                 .bytes = static_cast<int64_t>(dataset.train.pixels.size() + dataset.test.pixels.size() +
                                               dataset.train_features.size() * sizeof(float)),
                 .from_cache = loaded.from_cache});
  record_artefacts();
  say_(fmt::format("dataset: {} train / {} test, {} classes ({:.1f}s)", dataset.train.n, dataset.test.n,
                   dataset.num_classes(), timer_.records().back().wall_s));
  return m;
}

std::map<std::string, double> CellStages::embed(const Dataset& dataset, Embeddings& embeddings) {
  const ExtractorOptions& extractor = *cell_.extractor;
  if (expected.active() && extractor.kind == ExtractorKind::Proxy) {
    // Nothing is trained or embedded under verify: the recorded network and embeddings must be here.
    const std::string net_key = extractor_network_key(dataset, extractor);
    expected.check("extractor_network", net_key, "");
    expected.require_file("extractor_network", extractor_model_path(ex_.cache_dir, net_key));
    if (const CellArtefact* e = expected.find("embeddings"))
      expected.require_file("embeddings", embeddings_path(ex_.cache_dir, e->key));
  }
  auto scope = timer_.scope("embed");
  // Extractor kind none needs no network: selection-only cells never load LibTorch.
  embeddings = extractor.kind == ExtractorKind::None
                   ? carried_features(dataset)
                   : models_library().compute_embeddings(dataset, extractor, ex_.cache_dir, say_);
  scope.stop();
  stages_run.extractor = true;
  std::map<std::string, double> m = {{"embed_from_cache", embeddings.from_cache ? 1.0 : 0.0},
                                     {"embed_dim", static_cast<double>(embeddings.d)}};
  // A proxy extractor's own test accuracy (known when it was trained, or kept beside its cache).
  if (embeddings.extractor_top1 >= 0) m["extractor_top1"] = embeddings.extractor_top1;
  if (embeddings.extractor_top1_tta >= 0) m["extractor_top1_tta"] = embeddings.extractor_top1_tta;
  if (!embeddings.cache_path.empty())
    store_.record_artefact(embeddings.key, "embeddings", embeddings.cache_path,
                           static_cast<int64_t>(embeddings.z.size() * sizeof(float)));
  if (!embeddings.network.kind.empty()) artefacts.add(embeddings.network);
  artefacts.add({.kind = "embeddings",
                 .key = embeddings.key,
                 .sha256 = embeddings.sha256,
                 .bytes = static_cast<int64_t>(embeddings.z.size() * sizeof(float)),
                 .from_cache = embeddings.from_cache});
  record_artefacts();
  return m;
}

std::map<std::string, double> CellStages::select(const Dataset& dataset, const Embeddings& embeddings,
                                                 SelectionMethod& method, const ClassPartition& classes,
                                                 Selection& selection) {
  const SelectContext ctx{.ratio = cell_.ratio,
                          .seed = cell_.selection_seed(),
                          .memory = memory_,
                          .timer = timer_,
                          .resources = {.train_images = dataset.has_images() ? &dataset.train : nullptr,
                                        .cache_dir = ex_.cache_dir,
                                        .embedding_key = embeddings.sha256,
                                        .artefact = [this](const ArtefactUse& use) { artefacts.add(use); },
                                        .knn_sweep_k = knn_sweep_k(ex_, cell_),
                                        .device = knn_device(cell_),
                                        .work_dir = ex_.cache_dir + "/cells/" + id_,
                                        .deadline = deadline_,
                                        .note = method_note_sink(store_, id_, cell_.method)}};
  selection = run_selection(method, classes.views, ctx);
  // A method that cuts images must declare it (MethodInfo::drops_patches): the `patches:` section
  // decides how they are cut, and only a declaring method's cell id names that section (a changed
  // section would otherwise resume a stale cell). Refused before anything is stored.
  if (!cell_.drops_patches() && cuts_images(selection.classes))
    throw Error(fmt::format("{}: method '{}' returned kept fractions below 1 but does not declare that it drops "
                            "patches (MethodInfo::drops_patches), so its cell id would not name the 'patches:' "
                            "section that cuts them; declare it",
                            ex_.file, cell_.method.name));
  std::map<std::string, double> m = diagnostic_means(selection.classes);
  m["selected_samples"] = static_cast<double>(selection.ids.size());
  m["sample_ratio"] = static_cast<double>(selection.ids.size()) / static_cast<double>(dataset.train.n);
  m["storage_ratio"] = selection.kept / static_cast<double>(dataset.train.n);
  store_.record_selection(id_, selection.ids, selection.keep);
  if (method.produces_bins()) {  // DQ's bins, for `dqbench export`
    std::vector<StoredClassBins> bins;
    for (size_t c = 0; c < selection.classes.size(); ++c)
      bins.push_back({classes.views[c].label, selection.classes[c].bins});
    store_.record_bins(id_, bins);
  }
  record_artefacts();
  say_(fmt::format("select: {} samples ({:.2f}% of the training set, {:.2f}% storage) in {:.2f}s",
                   selection.ids.size(), 100.0 * m["sample_ratio"], 100.0 * m["storage_ratio"],
                   timer_.records().back().wall_s));
  return m;
}

std::optional<std::map<std::string, double>> CellStages::patches(const Dataset& dataset,
                                                                 const Embeddings& embeddings, Selection& selection,
                                                                 std::optional<ImageSet>& coreset_images) {
  bool any_spd = false, any_drop = false;
  for (const auto& s : selection.classes) {
    any_spd = any_spd || s.spd;
    for (float w : s.keep) any_drop = any_drop || w < 1.0f;
  }
  DQ_ASSERT(!any_spd || dataset.has_images(), "SPD methods declare needs_images");
  if (!(any_spd || (any_drop && cell_.train && dataset.has_images()))) return std::nullopt;
  auto scope = timer_.scope("patches");
  std::unique_ptr<PatchBackend> backend;
  if (cell_.patches.needs_backend(selection.classes)) {
    if (!cell_.extractor)
      throw Error(fmt::format("{}: the patch stage (GradCAM++ ranking, MAE or SPD) needs an 'extractor:' section",
                              ex_.file));
    backend = models_library().make_patch_backend(dataset, *cell_.extractor, cell_.patches, ex_.cache_dir,
                                                  embeddings.network.sha256, say_);
  }
  PatchStageResult r = run_patch_stage(selection.classes,
                                       {dataset.train, cell_.patches, backend.get(), timer_,
                                        derive_seed(cell_.selection_seed(), "patches"), ex_.cache_dir});
  scope.stop();
  stages_run.patch_stage = true;
  std::map<std::string, double> m = r.metrics;
  // The cell's counts and ratios become those of what is actually stored (the select stage's were
  // from the method's keep fractions, and for SPD from its whole candidate order), and so do the
  // method's diagnostics (SPD: those of the stored prefix).
  for (const auto& [k, v] : diagnostic_means(selection.classes)) m[k] = v;
  m["selected_samples"] = static_cast<double>(r.ids.size());
  m["sample_ratio"] = m.at("patch_sample_ratio");
  m["storage_ratio"] = m.at("patch_storage_ratio");
  if (backend)
    for (const auto& [k, v] : backend->metrics()) m[k] = v;
  for (const auto& a : r.artefacts) artefacts.add(a);
  selection.ids = std::move(r.ids);
  selection.keep = std::move(r.keep);
  coreset_images = std::move(r.images);
  store_.record_selection(id_, selection.ids, selection.keep);  // the stored selection, with the applied keep fractions
  store_.record_patch_masks(id_, r.grid, r.masks);  // and the masks applied, row for row
  record_artefacts();
  say_(fmt::format("patches: {} images, {:.2f}% storage from the applied masks{} ({:.1f}s)", selection.ids.size(),
                   100.0 * m["patch_storage_ratio"],
                   any_spd ? fmt::format(", SPD mean drop {:.3f}", m["spd_mean_drop"]) : std::string(),
                   timer_.records().back().wall_s));
  return m;
}

std::map<std::string, double> CellStages::metrics(const ClassPartition& classes, const Selection& selection) {
  auto scope = timer_.scope("metrics");
  const auto m = selection_metrics(classes.views, selection.classes, memory_);
  scope.stop();
  stages_run.metrics = true;
  return m;
}

std::map<std::string, double> CellStages::train(const Dataset& dataset, const Selection& selection,
                                                std::optional<ImageSet>& coreset_images) {
  auto scope = timer_.scope("train");
  const std::vector<int64_t>& selected = selection.ids;
  // A coreset is a set: the trainer sees it in dataset-id order, whatever order the method listed its
  // picks in, so the same images train the same network (an exported coreset read back, in any order).
  std::vector<int64_t> rows(selected.size());
  std::iota(rows.begin(), rows.end(), int64_t{0});
  std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return selected[a] < selected[b]; });
  ImageSet coreset;
  if (coreset_images) {
    coreset = coreset_images->subset(rows);
    coreset_images.reset();
  } else {
    std::vector<int64_t> ids(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) ids[i] = selected[static_cast<size_t>(rows[i])];
    coreset = dataset.train.subset(ids);
  }
  TrainRecipe recipe = cell_.train->at_ratio(cell_.ratio);
  recipe.full_train_samples = dataset.train.n;  // the equal-steps budget counts the full set's steps
  const TrainResult r = models_library().train_and_evaluate(coreset, dataset.test, dataset.num_classes(), recipe,
                                                              cell_.training_seed(),
                                                              [&](const std::string& msg) { say_("train: " + msg); });
  scope.stop();
  stages_run.train = true;
  std::map<std::string, double> m = {{"top1", r.final_top1},
                                     {"top1_best", r.best_top1},
                                     {"train_loss", r.final_train_loss},
                                     {"train_steps", static_cast<double>(r.steps)},
                                     {"train_epochs", static_cast<double>(r.epochs)}};
  if (r.final_top1_tta >= 0) m["top1_tta"] = r.final_top1_tta;  // test-time augmentation, beside plain top1
  return m;
}

}  // namespace dq
