#include "harness/coreset_export.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <ostream>

#include "core/error.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
#include "datasets/image_encode.h"
#include "methods/coreset_files.h"
#include "models/models.h"
#include "patching/patch_stage.h"
#include "patching/patches.h"

namespace dq {

namespace fs = std::filesystem;

namespace {

// A temporary folder beside `out`, renamed to `out` by commit() and removed otherwise.
class StagingFolder {
 public:
  explicit StagingFolder(const fs::path& out) : out_(out) {
    std::error_code ec;
    if (fs::exists(out_, ec) || fs::is_symlink(out_, ec))
      throw Error(fmt::format("--out {}: it exists; export writes a new folder (remove it or choose another name)",
                              out_.string()));
    fs::path parent = out_.parent_path();
    if (parent.empty()) parent = ".";
    fs::create_directories(parent, ec);
    if (ec) throw Error(fmt::format("--out {}: cannot create {}: {}", out_.string(), parent.string(), ec.message()));
    std::string pattern = (parent / ("." + out_.filename().string() + ".tmp-XXXXXX")).string();
    if (!mkdtemp(pattern.data()))
      throw Error(fmt::format("--out {}: cannot create a folder beside it: {}", out_.string(), std::strerror(errno)));
    tmp_ = pattern;
  }
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;
  ~StagingFolder() {
    std::error_code ec;
    if (!committed_) fs::remove_all(tmp_, ec);
  }
  const fs::path& path() const { return tmp_; }
  void commit() {
    std::error_code ec;
    fs::rename(tmp_, out_, ec);  // fails rather than replace a folder that appeared meanwhile
    if (ec)
      throw Error(fmt::format("--out {}: cannot rename {} into place: {}", out_.string(), tmp_.string(), ec.message()));
    committed_ = true;
  }

 private:
  fs::path out_, tmp_;
  bool committed_ = false;
};

// What one cell's export needs from the database, read and checked before anything is written.
struct CellPlan {
  const CellConfig* cell = nullptr;
  StoredSelection selection;
  std::optional<StoredMasks> masks;  // the recorded masks; none: every kept fraction is 1
  std::vector<StoredClassBins> bins;
  std::vector<CellArtefact> artefacts;  // what the cell recorded it used and made
  std::map<std::string, double> metrics;
  std::string folder;  // relative to the export root ("" = the root itself)
};

std::string describe(const CellConfig& c) { return fmt::format("cell {} ({})", c.id().substr(0, 12), c.label()); }

std::string safe_name(const std::string& text) {
  std::string out;
  for (char ch : text)
    out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '=') ? ch : '_';
  return out.substr(0, 80);
}

// The method's name, or its own label where it has one (an external command, a coreset from files);
// the cell id in the folder's name tells variants apart.
std::string method_label(const CellConfig& c) {
  const std::string display = c.method.display();
  return display == c.method.canonical() ? c.method.name : display;
}

std::vector<const CellConfig*> chosen_cells(const Experiment& ex, const ExportOptions& o) {
  std::vector<const CellConfig*> out;
  for (const auto& c : ex.cells)
    if (o.cell_id.empty() ? o.filter.matches(c) : c.id().rfind(o.cell_id, 0) == 0) out.push_back(&c);
  if (out.empty())
    throw Error(
        o.cell_id.empty()
            ? fmt::format("{}: no cell of experiment '{}' matches the filter", ex.file, ex.name)
            : fmt::format("{}: no cell of experiment '{}' has an id starting with '{}' (dqbench cells {} lists them)",
                          ex.file, ex.name, o.cell_id, ex.file));
  if (!o.cell_id.empty() && out.size() > 1) {
    std::string list;
    for (const CellConfig* c : out) list += "\n  " + describe(*c);
    throw Error(fmt::format("--cell {}: {} cells have ids starting with it; give more of the id:{}", o.cell_id,
                            out.size(), list));
  }
  return out;
}

// Reads the cell's records and refuses what cannot be exported exactly.
CellPlan plan_cell(Store& store, const Experiment& ex, const CellConfig& cell, const ExportOptions& o) {
  CellPlan plan;
  plan.cell = &cell;
  plan.metrics = store.metrics(cell.id());
  auto selection = store.selection(cell.id());
  if (!selection) throw Error(fmt::format("{} is DONE but recorded no selection", describe(cell)));
  plan.selection = std::move(*selection);
  plan.masks = store.patch_masks(cell.id());
  plan.bins = store.bins(cell.id());
  plan.artefacts = store.cell_artefacts(cell.id());
  const bool all_kept =
      std::all_of(plan.selection.keep.begin(), plan.selection.keep.end(), [](float w) { return w == 1.0f; });
  if (plan.masks) {
    const int64_t p = plan.masks->grid.count();
    if (plan.masks->count != static_cast<int64_t>(plan.selection.ids.size()))
      throw Error(fmt::format("{}: {} recorded masks for {} selected images (a damaged record)", describe(cell),
                              plan.masks->count, plan.selection.ids.size()));
    for (size_t i = 0; i < plan.selection.ids.size(); ++i) {
      const auto kept = std::count(plan.masks->masks.begin() + static_cast<std::ptrdiff_t>(i * p),
                                   plan.masks->masks.begin() + static_cast<std::ptrdiff_t>((i + 1) * p), uint8_t{1});
      if (static_cast<float>(static_cast<double>(kept) / static_cast<double>(p)) != plan.selection.keep[i])
        throw Error(
            fmt::format("{}: recorded mask {} keeps {} of {} patches but the selection says {} (a damaged record)",
                        describe(cell), i, kept, p, plan.selection.keep[i]));
    }
  } else if (!all_kept) {
    if (plan.metrics.count("patches_per_image"))
      throw Error(
          fmt::format("{} was recorded before dqbench stored the patch masks a cell applies, so its masks "
                      "cannot be exported exactly; re-run it (dqbench run {} --force id={}) and export again",
                      describe(cell), ex.file, cell.id().substr(0, 12)));
    throw Error(
        fmt::format("{} stores keep fractions below 1 but applied no patch masks (the patch stage runs for cells "
                    "that train on images): there are no masks to export",
                    describe(cell)));
  }
  if (o.images != ImageExport::None || o.test_split) {
    const DatasetLoaderInfo& info = DatasetRegistry::instance().find(cell.dataset.kind, "dataset");
    if (!info.provides_images)
      throw Error(fmt::format("{}: dataset '{}' has features only; it has no images to export", describe(cell),
                              cell.dataset.name));
  }
  if (o.images != ImageExport::None && plan.masks && cell.patches.reconstruct == PatchFill::Mae &&
      std::find(plan.masks->masks.begin(), plan.masks->masks.end(), uint8_t{0}) != plan.masks->masks.end())
    throw Error(
        fmt::format("{} filled its dropped patches with an MAE, which the database does not hold: its images "
                    "as trained on cannot be exported (export without --images; masks.npy says which patches "
                    "to fill)",
                    describe(cell)));
  return plan;
}

// The content hashes of what the cell used: the stored selection's sha256, the dataset loader's
// fingerprint as the dataset loads now, and every artefact the cell recorded (store.cell_artefacts,
// table cell_artefacts: kind, role, sha256, cache key; none for a cell of a database from before they
// were recorded).
nlohmann::json cell_hashes(const CellPlan& plan, const Dataset& dataset) {
  nlohmann::json artefacts = nlohmann::json::array();
  for (const CellArtefact& a : plan.artefacts)
    artefacts.push_back({{"kind", a.kind},
                         {"role", a.role},
                         {"sha256", a.sha256},
                         {"key", a.key.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.key)},
                         {"parts", a.parts}});
  return {{"selection_sha256", plan.selection.sha256},
          {"dataset_fingerprint", dataset.fingerprint},
          {"artefacts", std::move(artefacts)},
          {"source", "selection_sha256 and artefacts as recorded by the cell; dataset_fingerprint recomputed at "
                     "export"}};
}

// uint8 C x H x W -> H x W x C, appended to `out`.
void append_hwc(const uint8_t* chw, int64_t c, int64_t h, int64_t w, std::vector<uint8_t>& out) {
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(c * h * w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) out[at + static_cast<size_t>((y * w + x) * c + k)] = chw[(k * h + y) * w + x];
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out.flush()) throw Error(fmt::format("{}: cannot write", path.string()));
}

void write_cell(const CellPlan& plan, const Dataset& dataset, const fs::path& dir, const ExportOptions& o) {
  const CellConfig& cell = *plan.cell;
  fs::create_directories(dir);
  const auto& sel = plan.selection;
  const size_t n = sel.ids.size();
  std::vector<size_t> rows(n);
  std::iota(rows.begin(), rows.end(), size_t{0});
  std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return sel.ids[a] < sel.ids[b]; });
  std::vector<int64_t> ids(n), labels(n);
  std::vector<float> keep(n);
  double stored = 0;
  for (size_t i = 0; i < n; ++i) {
    ids[i] = sel.ids[rows[i]];
    labels[i] = dataset.train.labels[static_cast<size_t>(ids[i])];
    keep[i] = sel.keep[rows[i]];
    stored += keep[i];
  }
  write_npy((dir / coreset_file::kIndices).string(), ids.data(), {static_cast<int64_t>(n)});
  write_npy((dir / coreset_file::kLabels).string(), labels.data(), {static_cast<int64_t>(n)});
  write_npy((dir / coreset_file::kKeep).string(), keep.data(), {static_cast<int64_t>(n)});

  nlohmann::json files = {{"indices", coreset_file::kIndices},
                          {"labels", coreset_file::kLabels},
                          {"keep", coreset_file::kKeep},
                          {"masks", nullptr},
                          {"images", nullptr},
                          {"bins", nullptr},
                          {"test_images", nullptr},
                          {"test_labels", nullptr}};
  nlohmann::json patches = nullptr;
  std::vector<uint8_t> masks;  // n x P, sorted rows
  PatchGrid grid;
  if (dataset.has_images()) {
    grid = plan.masks
               ? plan.masks->grid
               : PatchGrid::for_image(dataset.train.height, dataset.train.width, cell.patches.patch_size,
                                      describe(cell) + " (patches.patch_size)");
    const auto p = static_cast<size_t>(grid.count());
    masks.assign(n * p, 1);
    if (plan.masks)
      for (size_t i = 0; i < n; ++i)
        std::copy_n(plan.masks->masks.begin() + static_cast<std::ptrdiff_t>(rows[i] * p), p,
                    masks.begin() + static_cast<std::ptrdiff_t>(i * p));
    write_npy_bool((dir / coreset_file::kMasks).string(), masks.data(), {static_cast<int64_t>(n), grid.count()});
    files["masks"] = coreset_file::kMasks;
    patches = {
        {"grid", {{"rows", grid.rows}, {"cols", grid.cols}, {"patch_px", grid.patch}, {"patches", grid.count()}}},
        {"order", "row-major: patch k covers rows (k / cols) * patch_px and columns (k % cols) * patch_px"},
        {"masks", plan.masks ? "as the cell applied them (recorded)" : "every patch kept (no patch was dropped)"},
        {"drop", patch_drop_name(cell.patches.drop)},
        {"reconstruct", patch_fill_name(cell.patches.reconstruct)},
        {"mean_fill", cell.patches.reconstruct == PatchFill::Mean ? nlohmann::json(channel_mean_bytes(dataset.train))
                                                            : nlohmann::json(nullptr)}};
  }

  const ImageSet& train = dataset.train;
  if (o.images != ImageExport::None) {
    const std::vector<uint8_t> fill = channel_mean_bytes(train);
    std::vector<uint8_t> image(static_cast<size_t>(train.image_bytes())), hwc;
    const auto p = static_cast<size_t>(grid.count());
    auto reconstructed = [&](size_t i) {
      std::copy_n(train.image(ids[i]), train.image_bytes(), image.data());
      fill_dropped_patches(image.data(), train.channels, train.height, train.width, grid,
                           std::span<const uint8_t>(masks).subspan(i * p, p), fill);
      return image.data();
    };
    if (o.images == ImageExport::Npy) {
      hwc.reserve(n * static_cast<size_t>(train.image_bytes()));
      for (size_t i = 0; i < n; ++i) append_hwc(reconstructed(i), train.channels, train.height, train.width, hwc);
      write_npy((dir / coreset_file::kImages).string(), hwc.data(),
                {static_cast<int64_t>(n), train.height, train.width, train.channels});
      files["images"] = coreset_file::kImages;
    } else {
      for (size_t i = 0; i < n; ++i) {
        const int64_t label = labels[i];
        const std::string name = label < dataset.num_classes() ? dataset.class_names[static_cast<size_t>(label)] : "";
        const fs::path folder = dir / coreset_file::kImageFolder / fmt::format("{:03d}_{}", label, safe_name(name));
        fs::create_directories(folder);
        hwc.clear();
        append_hwc(reconstructed(i), train.channels, train.height, train.width, hwc);
        const std::vector<uint8_t> png =
            encode_png(hwc.data(), train.width, train.height, static_cast<int>(train.channels));
        std::ofstream out(folder / fmt::format("{}.png", ids[i]), std::ios::binary);
        out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
        if (!out.flush())
          throw Error(fmt::format("{}: cannot write", (folder / fmt::format("{}.png", ids[i])).string()));
      }
      files["images"] = std::string(coreset_file::kImageFolder) + "/";
    }
  }
  if (o.test_split) {
    const ImageSet& test = dataset.test;
    std::vector<uint8_t> hwc;
    hwc.reserve(static_cast<size_t>(test.n * test.image_bytes()));
    for (int64_t i = 0; i < test.n; ++i) append_hwc(test.image(i), test.channels, test.height, test.width, hwc);
    write_npy((dir / coreset_file::kTestImages).string(), hwc.data(), {test.n, test.height, test.width, test.channels});
    write_npy((dir / coreset_file::kTestLabels).string(), test.labels.data(), {test.n});
    files["test_images"] = coreset_file::kTestImages;
    files["test_labels"] = coreset_file::kTestLabels;
  }

  nlohmann::json bins = nullptr;
  if (plan.bins.empty() && cell.method.traits().produces_bins)
    bins = "not recorded (the cell ran before dqbench stored bins; re-run it to export them)";
  if (!plan.bins.empty()) {
    std::vector<int64_t> bin_of(static_cast<size_t>(train.n), -1), rank(static_cast<size_t>(train.n), -1);
    int64_t most = 0;
    for (const auto& cls : plan.bins) {
      most = std::max<int64_t>(most, static_cast<int64_t>(cls.bins.size()));
      for (size_t b = 0; b < cls.bins.size(); ++b)
        for (size_t r = 0; r < cls.bins[b].size(); ++r) {
          const int64_t id = cls.bins[b][r];
          if (id < 0 || id >= train.n)
            throw Error(fmt::format("{}: recorded bin holds id {} outside the training split", describe(cell), id));
          bin_of[static_cast<size_t>(id)] = static_cast<int64_t>(b);
          rank[static_cast<size_t>(id)] = static_cast<int64_t>(r);
        }
    }
    write_npy((dir / coreset_file::kBins).string(), bin_of.data(), {train.n});
    write_npy((dir / coreset_file::kBinRanks).string(), rank.data(), {train.n});
    files["bins"] = coreset_file::kBins;
    files["bin_ranks"] = coreset_file::kBinRanks;
    bins = {{"bins_per_class", most},
            {"meaning",
             "bins.npy[id]: the bin (in generation order, per class) of training sample id, -1 if none; "
             "bin_ranks.npy[id]: its position in that bin's pick order"}};
  }

  const double n_train = static_cast<double>(train.n);
  auto recorded = [&](const char* name) {
    auto it = plan.metrics.find(name);
    return it == plan.metrics.end() ? nlohmann::json(nullptr) : nlohmann::json(it->second);
  };
  const nlohmann::json manifest = {
      {"format", coreset_file::kFormat},
      {"format_version", coreset_file::kFormatVersion},
      {"cell_id", cell.id()},
      {"experiment", cell.experiment},
      {"method", {{"name", cell.method.name}, {"spec", cell.method.canonical()}, {"display", cell.method.display()}}},
      {"ratio", cell.ratio},
      {"seed", cell.seed},
      {"selection_seed", cell.selection_seed()},
      {"training_seed", cell.training_seed()},
      {"dataset",
       {{"name", cell.dataset.name},
        {"kind", cell.dataset.kind},
        {"train_samples", train.n},
        {"test_samples", dataset.test.n},
        {"class_names", dataset.class_names},
        {"image_shape_hwc", dataset.has_images() ? nlohmann::json({train.height, train.width, train.channels})
                                                 : nlohmann::json(nullptr)}}},
      {"config", nlohmann::json::parse(cell.canonical_json())},
      {"realised",
       {{"samples", n},
        {"sample_ratio", static_cast<double>(n) / n_train},
        {"storage_images", stored},
        {"storage_ratio", stored / n_train}}},
      {"recorded",
       {{"top1", recorded("top1")},
        {"sample_ratio", recorded("sample_ratio")},
        {"storage_ratio", recorded("storage_ratio")},
        {"train_steps", recorded("train_steps")}}},
      {"patches", patches},
      {"bins", bins},
      {"hashes", cell_hashes(plan, dataset)},
      {"files", files},
      {"rows", "sorted by dataset id; row i of indices, labels, keep, masks and images belongs to indices[i]"},
  };
  write_json(dir / coreset_file::kManifest, manifest);
}

}  // namespace

std::vector<ExportedCell> export_coresets(const Experiment& ex, Store& store, const ExportOptions& o,
                                          std::ostream& log) {
  // 1. Which cells, and are they all exportable: checked before anything is written.
  std::vector<const CellConfig*> cells = chosen_cells(ex, o);
  std::vector<const CellConfig*> ready;
  std::string unfinished;
  for (const CellConfig* c : cells) {
    const auto row = store.find_cell(c->id());
    if (row && row->status == CellStatus::Done) {
      ready.push_back(c);
      continue;
    }
    std::string why = row ? fmt::format("{}, not DONE", status_name(row->status)) : "not in the database (never run)";
    if (row && !row->error.empty()) why += ": " + row->error.substr(0, 200);
    unfinished += fmt::format("\n  {} is {}", describe(*c), why);
  }
  if (!unfinished.empty()) {
    if (!o.skip_unfinished || ready.empty())
      throw Error(fmt::format("{}: only DONE cells are exported{}{}", store.path(), unfinished,
                              ready.empty() ? "" : "\n(--skip-unfinished exports the others)"));
    log << "skipped (not DONE):" << unfinished << "\n";
  }
  std::vector<CellPlan> plans;
  for (const CellConfig* c : ready) {
    plans.push_back(plan_cell(store, ex, *c, o));
    plans.back().folder = o.cell_id.empty()
                              ? fmt::format("{}_{}_r{}_s{}_{}", safe_name(c->dataset.name), safe_name(method_label(*c)),
                                            c->ratio, c->seed, c->id().substr(0, 12))
                              : "";
  }

  // 2. Everything under a temporary folder, renamed into place at the end.
  StagingFolder staging(o.out);
  std::optional<Dataset> dataset;
  std::string loaded;
  std::vector<ExportedCell> out;
  for (const CellPlan& plan : plans) {
    const CellConfig& cell = *plan.cell;
    if (!dataset || loaded != cell.dataset.name) {
      dataset.reset();
      dataset =
          load_dataset(cell.dataset.kind, cell.dataset.params, ex.cache_dir.empty() ? "" : ex.cache_dir + "/datasets",
                       fmt::format("{} dataset '{}'", ex.file, cell.dataset.name))
              .dataset;
      loaded = cell.dataset.name;
    }
    for (int64_t id : plan.selection.ids)
      if (id < 0 || id >= dataset->train.n)
        throw Error(fmt::format("{}: selected id {} is outside dataset '{}' as it loads now ({} training samples)",
                                describe(cell), id, cell.dataset.name, dataset->train.n));
    write_cell(plan, *dataset, staging.path() / plan.folder, o);
    out.push_back({cell.id(), plan.folder.empty() ? o.out : (fs::path(o.out) / plan.folder).string()});
  }
  if (o.cell_id.empty()) {
    nlohmann::json index = nlohmann::json::array();
    for (const auto& e : out)
      index.push_back({{"cell_id", e.cell_id}, {"folder", fs::path(e.folder).filename().string()}});
    write_json(staging.path() / "cells.json", index);
  }
  staging.commit();
  for (const auto& e : out) log << e.folder << "\n";
  return out;
}

}  // namespace dq
