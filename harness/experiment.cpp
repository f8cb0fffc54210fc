#include "harness/experiment.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/hashing.h"
#include "core/memory_budget.h"
#include "core/rng.h"
#include "core/units.h"
#include "datasets/dataset.h"
#include "harness/dataset_definitions.h"
#include "harness/plugin_loader.h"
#include "harness/yaml_params.h"
#include "models/models.h"
#include "patching/patches.h"

namespace dq {

namespace {

nlohmann::json params_json(const Params& p) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& entry : p.values_for_identity())  // (clang 14 cannot capture a structured binding)
    std::visit([&](const auto& value) { out[entry.first] = value; }, entry.second);
  return out;
}

const std::vector<std::string> kAxes = {"dataset", "method", "ratio", "seed"};
const std::set<std::string> kTopKeys = {"name",    "description", "database",  "cache_dir", "memory_budget",
                                        "timeout", "threads",     "device",    "datasets",  "extractor",
                                        "train",   "grid",        "zip",       "patches"};

std::string join(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

std::string CellConfig::canonical_json() const {
  nlohmann::json j;
  j["dataset"] = {{"kind", dataset.kind}, {"params", params_json(dataset.params)}};
  j["method"] = {{"name", method.name}, {"params", params_json(method.params)}};
  j["ratio"] = ratio;
  j["seed"] = seed;
  j["extractor"] = extractor ? params_json(extractor_params(*extractor)) : nlohmann::json(nullptr);
  j["train"] = train ? params_json(train_recipe_params(*train)) : nlohmann::json(nullptr);
  j["memory_budget"] = memory_budget;
  if (drops_patches()) j["patches"] = params_json(patch_params(patches));
  return j.dump();
}

std::string CellConfig::id() const { return sha256_hex(canonical_json()); }

uint64_t CellConfig::selection_seed() const {
  nlohmann::json j;
  j["dataset"] = {{"kind", dataset.kind}, {"params", params_json(dataset.params)}};
  j["extractor"] = extractor ? params_json(extractor_params(*extractor)) : nlohmann::json(nullptr);
  j["method"] = method.canonical();
  j["ratio"] = ratio;
  j["seed"] = seed;
  const std::string h = sha256_hex(j.dump());
  return std::stoull(h.substr(0, 16), nullptr, 16);
}

uint64_t CellConfig::training_seed() const {
  nlohmann::json j;
  j["dataset"] = {{"kind", dataset.kind}, {"params", params_json(dataset.params)}};
  j["train"] = train ? params_json(train_recipe_params(*train)) : nlohmann::json(nullptr);
  j["ratio"] = ratio;
  j["seed"] = seed;
  return derive_seed(std::stoull(sha256_hex(j.dump()).substr(0, 16), nullptr, 16), "train");
}

std::string CellConfig::label() const {
  return fmt::format("{} {} r={} s={}", dataset.name, method.display(), ratio, seed);
}

namespace {

class ExperimentParser {
 public:
  explicit ExperimentParser(std::string file) : file_(std::move(file)) {}

  Experiment parse() {
    Experiment ex;
    ex.file = file_;
    const YAML::Node root = load_yaml_file(file_, &ex.yaml_text);  // refuses duplicate keys at any depth
    if (!root.IsMap()) throw Error(fmt::format("{}: an experiment file must be a mapping of keys", file_));
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      if (!kTopKeys.count(key))
        throw Error(fmt::format("{}: unknown key '{}' (allowed: {})", where(entry.first), key, join(kTopKeys)));
    }
    ex.name = root["name"] ? nonempty_scalar(root["name"], "name")
                           : std::filesystem::path(file_).stem().string();
    ex.description = root["description"] ? scalar(root["description"], "description") : "";
    ex.database = root["database"] ? nonempty_scalar(root["database"], "database") : "results/" + ex.name + ".db";
    ex.cache_dir = root["cache_dir"] ? scalar(root["cache_dir"], "cache_dir") : "cache";
    ex.memory_budget = root["memory_budget"]
                           ? parse_bytes(scalar(root["memory_budget"], "memory_budget"),
                                         where(root["memory_budget"]) + " (key 'memory_budget')")
                           : physical_memory_bytes() / 4 * 3;
    if (root["memory_budget"] && ex.memory_budget == 0)  // every cell would end as OOM
      throw Error(fmt::format("{} (key 'memory_budget'): must be more than 0 bytes (e.g. 12GiB)",
                              where(root["memory_budget"])));
    ex.timeout_s = root["timeout"] ? parse_duration(scalar(root["timeout"], "timeout"),
                                                    where(root["timeout"]) + " (key 'timeout')")
                                   : 24 * 3600.0;
    if (root["threads"]) {
      Params t("the experiment", {{"threads", ParamType::Int, int64_t{0}, "", {}, 0.0, 1024.0}});
      t.set_from_text("threads", scalar(root["threads"], "threads"), where(root["threads"]) + " (key 'threads')");
      ex.threads = t.get_int("threads");
    }

    datasets_ = parse_datasets_section(root, file_);

    std::optional<ExtractorOptions> extractor;
    if (root["extractor"]) {
      // `extractor: none` could mean either of two things that differ (unlike `train: none`): say which to write.
      if (root["extractor"].IsScalar())
        throw Error(fmt::format("{} (key 'extractor'): expected a mapping such as {{kind: proxy}}, not '{}'; for no "
                                "embeddings leave the section out, for the features the dataset carries write "
                                "extractor: {{kind: none}}",
                                where(root["extractor"]), root["extractor"].Scalar()));
      Params p("extractor", extractor_specs());
      apply_recipe_preset(root["extractor"], p);
      apply_yaml_params(root["extractor"], p, file_, {"preset"});
      extractor = extractor_table().parse(p);  // finished below, once `threads` and `device` are filled in
      if (extractor->kind == ExtractorKind::TorchScript) {  // checked now, not in every cell after its dataset loads
        const YAML::Node path = root["extractor"]["path"];
        std::error_code ec;
        if (!path || !std::filesystem::is_regular_file(extractor->path, ec))
          throw Error(fmt::format("{} (key 'path'): the TorchScript model '{}' is not a file", where(path ? path : root["extractor"]),
                                  extractor->path));
      }
    }
    std::optional<TrainRecipe> train;
    if (root["train"]) {
      const YAML::Node t = root["train"];
      if (t.IsScalar() && (t.Scalar() == "none" || t.Scalar() == "off" || t.Scalar() == "false")) {
        // selection only
      } else if (t.IsMap()) {
        Params p("train", train_recipe_specs());
        apply_recipe_preset(t, p);
        apply_yaml_params(t, p, file_, {"preset"});
        train = train_recipe_table().parse(p);  // finished below, as the extractor's recipe
      } else {
        throw Error(fmt::format("{} (key 'train'): expected a recipe mapping or 'none'", where(t)));
      }
    }
    PatchOptions patches;
    if (root["patches"]) {
      const YAML::Node section = root["patches"];
      if (!section.IsMap())
        throw Error(fmt::format("{} (key 'patches'): expected a mapping, e.g. patches: {{drop: gradcampp, reconstruct: mean}}",
                                where(section)));
      Params p("patches", patch_specs());
      apply_yaml_params(section, p, file_);
      patches = parse_patch_options(p);
      // The MAE's widths against its heads, here rather than in each cell that trains an MAE: at the
      // width's key when the file sets it, else at mae_heads, else at the section.
      check_mae_widths(patches.mae, [&](const std::string& key) {
        const std::string located = section[key] ? key : section["mae_heads"] ? "mae_heads" : "";
        if (located.empty()) return where(section) + ": ";
        return where(section[located]) + " (key 'patches." + located + "'): ";
      });
      if (patches.cam_network == CamNetwork::TorchScript && patches.cam_path.empty())
        throw Error(fmt::format("{} (key 'patches'): cam_network: torchscript needs cam_path", where(section)));
      for (const auto& [key, path] : {std::pair{"cam_path", patches.cam_path}, std::pair{"mae_path", patches.mae.path}})
        if (!path.empty() && !std::filesystem::is_regular_file(path))
          throw Error(fmt::format("{} (key 'patches.{}'): TorchScript file '{}' does not exist", where(section[key]), key,
                                  path));
    }
    // The recipes in the file: the extractor's own, and the training section's.
    TrainRecipe* const extractor_recipe = extractor ? &extractor->recipe : nullptr;
    TrainRecipe* const train_recipe = train ? &*train : nullptr;
    if (ex.threads > 0)
      for (TrainRecipe* r : {extractor_recipe, train_recipe})
        if (r && r->threads == 0) r->threads = ex.threads;
    // `device` (top level) fills the sections left at auto; a CUDA device the linked LibTorch lacks is
    // an error here, before any cell runs.
    if (root["device"]) {
      const std::string device = scalar(root["device"], "device");
      const std::string at = where(root["device"]) + " (key 'device')";
      check_device_available(parse_device(device, at), at);
      for (TrainRecipe* r : {extractor_recipe, train_recipe})
        if (r && r->device_text == "auto") r->device_text = device;
    }
    check_device_key(root["extractor"], extractor_recipe, "extractor");
    check_device_key(root["train"], train_recipe, "train");

    expand(root, ex, extractor, train);
    for (auto& cell : ex.cells) cell.patches = patches;
    check_patch_size(root["patches"], ex);
    return ex;
  }

 private:
  std::string where(const YAML::Node& n) const { return yaml_where(file_, n); }

  // `preset: NAME` in a recipe section: the preset's values first, the section's own keys override them.
  void apply_recipe_preset(const YAML::Node& section, Params& p) const {
    if (!section.IsMap() || !section["preset"]) return;
    const std::string at = where(section["preset"]) + " (key 'preset')";
    const RecipePreset& preset = find_recipe_preset(scalar(section["preset"], "preset"), at);
    for (const auto& [key, value] : preset.values) p.set_from_text(key, value, at + " value '" + key + "'");
  }

  // A recipe's device, checked against the linked LibTorch, and the recipe finished (its device parsed,
  // its optimiser combinations checked: finish_train_recipe).
  void check_device_key(const YAML::Node& section, TrainRecipe* recipe, const std::string& name) const {
    if (!recipe) return;
    const bool own = section.IsMap() && section["device"];
    const std::string at = own ? fmt::format("{} (key '{}.device')", where(section["device"]), name)
                               : fmt::format("{} (key '{}.device')", file_, name);
    check_device_available(parse_device(recipe->device_text, at), at);
    finish_train_recipe(*recipe, name);
  }

  std::string scalar(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) throw Error(fmt::format("{} (key '{}'): expected a single value", where(n), key));
    return n.Scalar();
  }

  // A `patches.patch_size` the file sets must tile the images of every dataset whose sizes are known
  // before loading (DatasetSizes, synthetic_images) that a patch-dropping cell uses: here, at the key,
  // rather than in each cell after its dataset loads.
  void check_patch_size(const YAML::Node& section, const Experiment& ex) const {
    if (!section || !section.IsMap() || !section["patch_size"]) return;
    std::set<std::string> checked;
    for (const CellConfig& cell : ex.cells) {
      if (!cell.drops_patches() || !checked.insert(cell.dataset.name).second) continue;
      const DatasetLoaderInfo& loader = DatasetRegistry::instance().find(cell.dataset.kind, "dataset kind");
      const auto sizes = loader.sizes ? loader.sizes(cell.dataset.params) : std::nullopt;
      if (!sizes || sizes->image_height <= 0) continue;
      PatchGrid::for_image(sizes->image_height, sizes->image_width, cell.patches.patch_size,
                           fmt::format("{} (key 'patches.patch_size'), dataset '{}'", where(section["patch_size"]),
                                       cell.dataset.name));
    }
  }

  // A scalar that names something (the experiment, its database file): an empty value is refused at its key.
  std::string nonempty_scalar(const YAML::Node& n, const std::string& key) const {
    std::string value = scalar(n, key);
    if (value.empty()) throw Error(fmt::format("{} (key '{}'): must not be empty", where(n), key));
    return value;
  }

  MethodSpec parse_method(const YAML::Node& n) {
    if (n.IsScalar()) return built_once(parse_method_spec(n.Scalar(), where(n) + " (key 'method')"), n);
    if (!n.IsMap() || !n["name"])
      throw Error(fmt::format("{} (key 'method'): a method is a spec string like \"bgfdq(k=20)\" or a mapping "
                              "with 'name' and its parameters",
                              where(n)));
    std::string name = scalar(n["name"], "name");
    std::set<std::string> skip = {"name"};
    if (name == "plugin") {  // {name: plugin, library: libmine.so, method: mine, ...its params}
      name = load_plugin_method(n, file_);
      skip.insert({"library", "method"});
    }
    const MethodInfo& info = MethodRegistry::instance().find(name, where(n["name"]) + " (key 'name')");
    MethodSpec spec{name, Params("method '" + name + "'", info.params)};
    apply_yaml_params(n, spec.params, file_, skip);
    return built_once(std::move(spec), n);
  }

  // A method's own checks (an external command's placeholders, bgfdq's knn string, a coreset file that
  // is missing) fail here, when the file is read, not mid-run.
  MethodSpec built_once(MethodSpec spec, const YAML::Node& n) {
    try {
      spec.pin_inputs();  // the content of files it reads joins its parameters, and so the cell id
      (void)spec.traits();  // built here, once; its cells ask the traits kept with the spec
    } catch (const Error& e) {
      throw Error(fmt::format("{} (key 'method'): {}", where(n), e.what()));
    }
    return spec;
  }

  double parse_ratio(const YAML::Node& n) {
    const std::string at = where(n) + " (key 'ratio')";
    Params p("the matrix", {{"ratio", ParamType::Double, 0.0, "", {}, {}, {}}});
    p.set_from_text("ratio", scalar(n, "ratio"), at);
    const double r = p.get_double("ratio");
    if (!(r > 0 && r <= 1)) throw Error(fmt::format("{}: ratio {} is outside (0, 1]", at, n.Scalar()));
    return r;
  }

  int64_t parse_seed(const YAML::Node& n) {
    Params p("the matrix", {{"seed", ParamType::Int, int64_t{0}, "", {}, 0.0, {}}});
    p.set_from_text("seed", scalar(n, "seed"), where(n) + " (key 'seed')");
    return p.get_int("seed");
  }

  const DatasetDefinition& find_dataset(const YAML::Node& n) {
    const std::string name = scalar(n, "dataset");
    for (const auto& d : datasets_)
      if (d.name == name) return d;
    std::string known;
    for (const auto& d : datasets_) known += (known.empty() ? "" : ", ") + d.name;
    throw Error(fmt::format("{} (key 'dataset'): unknown dataset '{}' (defined under datasets: {})", where(n), name,
                            known));
  }

  // Collects each axis's list from grid (crossed) and zip (varying together).
  void expand(const YAML::Node& root, Experiment& ex, const std::optional<ExtractorOptions>& extractor,
              const std::optional<TrainRecipe>& train) {
    std::map<std::string, std::vector<YAML::Node>> grid, zip;
    auto read_axes = [&](const char* section, std::map<std::string, std::vector<YAML::Node>>& into) {
      const YAML::Node s = root[section];
      if (!s) return;
      if (!s.IsMap()) throw Error(fmt::format("{} (key '{}'): expected a mapping of axes to lists", where(s), section));
      for (const auto& entry : s) {
        const std::string axis = entry.first.as<std::string>();
        if (std::find(kAxes.begin(), kAxes.end(), axis) == kAxes.end())
          throw Error(fmt::format("{}: unknown axis '{}' under '{}' (axes: dataset, method, ratio, seed)",
                                  where(entry.first), axis, section));
        std::vector<YAML::Node> values;
        if (entry.second.IsSequence()) {
          for (const auto& v : entry.second) values.push_back(v);
        } else {
          values.push_back(entry.second);  // a single value is a one-element axis
        }
        if (values.empty()) throw Error(fmt::format("{}: axis '{}' has no values", where(entry.first), axis));
        into[axis] = values;
      }
    };
    read_axes("grid", grid);
    read_axes("zip", zip);
    for (const auto& [axis, _] : zip)
      if (grid.count(axis))
        throw Error(fmt::format("{}: axis '{}' appears under both grid and zip", where(root["zip"][axis]), axis));
    size_t zip_len = 0;
    for (const auto& [axis, values] : zip) {
      if (zip_len && values.size() != zip_len)
        throw Error(fmt::format("{}: zip axis '{}' has {} values but the other zip axes have {}",
                                where(root["zip"][axis]), axis, values.size(), zip_len));
      zip_len = values.size();
    }
    // Defaults for axes given nowhere.
    if (!grid.count("dataset") && !zip.count("dataset")) {
      if (datasets_.size() != 1)
        throw Error(fmt::format("{}: no 'dataset' axis under grid or zip, and {} datasets are defined", file_,
                                datasets_.size()));
      grid["dataset"] = {YAML::Node(datasets_.front().name)};
    }
    if (!grid.count("seed") && !zip.count("seed")) grid["seed"] = {YAML::Node(0)};
    for (const char* required : {"method", "ratio"})
      if (!grid.count(required) && !zip.count(required))
        throw Error(fmt::format("{}: the matrix needs a '{}' axis under grid or zip", file_, required));

    // Parse every value of every axis once (errors carry their own line; a method is built once
    // here), then take the product over indices.
    struct Values {
      std::vector<YAML::Node> nodes;
      std::vector<const DatasetDefinition*> datasets;
      std::vector<MethodSpec> methods;
      std::vector<double> ratios;
      std::vector<int64_t> seeds;
    };
    std::map<std::string, Values> parsed;
    for (const auto* section : {&grid, &zip})
      for (const auto& [axis, nodes] : *section) {
        Values& v = parsed[axis];
        v.nodes = nodes;
        for (const YAML::Node& n : nodes) {
          if (axis == "dataset") v.datasets.push_back(&find_dataset(n));
          if (axis == "method") v.methods.push_back(parse_method(n));
          if (axis == "ratio") v.ratios.push_back(parse_ratio(n));
          if (axis == "seed") v.seeds.push_back(parse_seed(n));
        }
      }
    using Row = std::map<std::string, size_t>;  // axis -> index of its value
    std::vector<Row> rows(1);
    for (const auto& axis : kAxes) {  // fixed axis order: a stable cell order
      if (!grid.count(axis)) continue;
      std::vector<Row> next;
      for (const auto& row : rows)
        for (size_t i = 0; i < grid[axis].size(); ++i) {
          Row r = row;
          r[axis] = i;
          next.push_back(r);
        }
      rows = std::move(next);
    }
    if (zip_len) {
      std::vector<Row> next;
      for (const auto& row : rows)
        for (size_t i = 0; i < zip_len; ++i) {
          Row r = row;
          for (const auto& [axis, values] : zip) r[axis] = i;
          next.push_back(r);
        }
      rows = std::move(next);
    }
    std::set<std::string> seen;
    for (const auto& row : rows) {
      const size_t m = row.at("method");
      const MethodSpec& method = parsed.at("method").methods[m];
      CellConfig cell{ex.name, *parsed.at("dataset").datasets[row.at("dataset")], method,
                      parsed.at("ratio").ratios[row.at("ratio")], parsed.at("seed").seeds[row.at("seed")], extractor,
                      train, ex.memory_budget};
      // Options that cannot be honoured are refused here, before anything runs.
      if (!extractor && method.traits().needs_embeddings)
        throw Error(fmt::format("{} (key 'method'): method '{}' works on embeddings; add an 'extractor:' section "
                                "(e.g. {{kind: proxy}}, or {{kind: none}} for datasets that carry features)",
                                where(parsed.at("method").nodes[m]), cell.method.name));
      if (seen.insert(cell.id()).second) ex.cells.push_back(std::move(cell));
    }
  }

  std::string file_;
  std::vector<DatasetDefinition> datasets_;
};

}  // namespace

Experiment load_experiment(const std::string& path) {
  return with_yaml_errors(path, [&] { return ExperimentParser(path).parse(); });
}

int64_t knn_sweep_k(const Experiment& ex, const CellConfig& cell) {
  const std::optional<SharedArtefact> mine = cell.method.shared_artefact();
  if (!mine) return 0;
  int64_t largest = mine->size;
  for (const CellConfig& other : ex.cells) {
    if (other.dataset.name != cell.dataset.name || other.method.name != cell.method.name) continue;
    const std::optional<SharedArtefact> theirs = other.method.shared_artefact();
    if (theirs && theirs->key == mine->key) largest = std::max(largest, theirs->size);
  }
  return largest;
}


}  // namespace dq
