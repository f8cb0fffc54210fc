// External-command methods: a selection method written in any language (usually Python) runs as a
// program once per cell. Protocol and examples: methods/README.md ("Bring your own method").
//
// dqbench writes the cell's inputs to the cell's private folder (embeddings.npy, labels.npy,
// ids.npy, cell.json; the decoded training images once per dataset), runs the command there without
// a shell, under the cell's memory budget as its address-space cap and before the cell's deadline,
// and reads back selection.npy (int64 dataset ids) and optionally keep.npy (float32 in (0, 1]).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdlib.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/child_process.h"
#include "core/error.h"
#include "core/units.h"
#include "core/hashing.h"
#include "core/image_set.h"
#include "core/npy.h"
#include "core/param_table.h"
#include "methods/external_command.h"
#include "methods/external_outputs.h"
#include "methods/method.h"

namespace dq {
namespace {

namespace fs = std::filesystem;

const char* kBudgetRule =
    "per class c of size M_c: round(ratio * M_c / (1 - theta)) samples, halves away from zero, where theta is "
    "the patch-drop ratio (0 without patch dropping); classes[].budget is the count at theta = 0. The storage "
    "ratio reported is sum(keep) / n.";

// The command's parameters: a JSON object of scalars (YAML `params:` arrives as canonical JSON text),
// each value as the text its placeholder takes.
std::map<std::string, std::string> parse_command_params(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.empty() ? "{}" : text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("method 'external': params must be a mapping (YAML) or a JSON object, got '{}': {}",
                            text, e.what()));
  }
  if (!j.is_object())
    throw Error(fmt::format("method 'external': params must be a mapping of names to values, got '{}'", text));
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
    else if (v.is_number() || v.is_boolean()) out[k] = v.dump();
    else throw Error(fmt::format("method 'external': params value of '{}' must be a single value, got {}", k, v.dump()));
  }
  return out;
}

struct ExternalOptions {
  std::string command;        // run without a shell in the cell's folder
  std::string label;          // name in tables; empty: the script's file name
  std::string params = "{}";  // the command's parameters, canonical JSON
  bool embeddings = true;     // write embeddings.npy
  bool images = true;         // give the decoded training images
};

const ParamTable<ExternalOptions>& external_params() {
  using O = ExternalOptions;
  static const ParamTable<O> table{{
      field({.name = "command",
             .help = "command line, run without a shell in the cell's folder; {name} takes the value of params' name, "
                     "as one argument"},
            &O::command),
      field({.name = "label", .help = "name in tables and progress lines (default: the script's file name)"}, &O::label),
      field({.name = "params", .help = "the command's parameters (a YAML mapping); part of the cell id"}, &O::params),
      field({.name = "embeddings", .help = "write embeddings.npy (needs an extractor)"}, &O::embeddings),
      field({.name = "images",
             .help = "give the decoded training images (uint8 N x C x H x W .npy) when the dataset has them"},
            &O::images),
  }};
  return table;
}

// What tables call a configured command: its label (default: the script's file name) and its params.
std::string display_external(const Params& params) {
  const ExternalOptions o = external_params().parse(params);
  std::string label = o.label;
  if (label.empty()) {
    label = "external";
    try {
      const CommandTemplate command(o.command, "method 'external'");
      for (const auto& arg : command.arguments()) {
        const fs::path path(arg);
        if (path.has_extension() && path.stem() != "" && arg.find('{') == std::string::npos) {
          label = path.stem().string();
          break;
        }
      }
    } catch (const Error&) {
      // An invalid command is reported when the method is built; the name falls back to "external".
    }
  }
  std::string args;
  try {
    for (const auto& [k, v] : parse_command_params(o.params)) args += (args.empty() ? "" : ",") + k + "=" + v;
  } catch (const Error&) {
  }
  return args.empty() ? label : label + "(" + args + ")";
}

// Allocation failures as the usual runtimes print them (Python, NumPy, C++, C, LibTorch).
bool log_reports_out_of_memory(const std::string& log_path) {
  static const char* markers[] = {"MemoryError", "Unable to allocate", "std::bad_alloc", "Cannot allocate memory",
                                  "out of memory", "Out of memory", "can't allocate memory"};
  for (const auto& line : tail_lines(log_path, 200))
    for (const char* m : markers)
      if (line.find(m) != std::string::npos) return true;
  return false;
}

std::string log_tail(const std::string& log_path) {
  std::string out;
  for (const auto& line : tail_lines(log_path, 3)) out += (out.empty() ? "" : " | ") + line.substr(0, 300);
  return out.empty() ? "the log is empty" : "last lines: " + out;
}

std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? fmt::format("signal {} (SIG{})", sig, name) : fmt::format("signal {}", sig);
}

class ExternalMethod final : public SelectionMethod {
 public:
  explicit ExternalMethod(const ExternalOptions& o)
      : command_text_(o.command),
        command_(command_text_, "method 'external' (parameter 'command')"),
        params_(parse_command_params(o.params)),
        write_embeddings_(o.embeddings),
        write_images_(o.images) {
    command_.expand(params_, "method 'external' (parameter 'command')");  // every placeholder has a value
  }

  bool needs_embeddings() const override { return write_embeddings_; }

  std::vector<ClassSelection> select(std::span<const ClassView> classes, const SelectContext& ctx) override {
    const fs::path dir = prepare_folder(ctx.resources);
    const std::string log = (dir / "command.log").string();
    std::vector<std::string> argv = command_.expand(params_, "method 'external'");
    const std::string script = absolutize_file_arguments(argv);
    note(ctx, "external_command_template", command_text_);
    note(ctx, "external_command", shell_quote_join(argv));
    note(ctx, "external_folder", dir.string());
    note(ctx, "external_log", log);
    if (!script.empty()) {
      note(ctx, "external_script", script);
      note(ctx, "external_script_sha256", sha256_file_hex(script));
    }
    {
      auto t = ctx.timer.scope("write_inputs");
      write_inputs(dir, classes, ctx);
    }
    ChildProcessResult run;
    {
      auto t = ctx.timer.scope("command");
      ChildProcessSpec spec{argv, dir.string(), log, ctx.memory.limit(), ctx.resources.deadline};
      run = run_child_process(spec);
    }
    note(ctx, "external_exit", run.signal ? signal_text(run.signal) : fmt::format("code {}", run.exit_code));
    if (run.timed_out)
      throw Timeout(fmt::format("the external command was still running at the cell's timeout after {:.1f}s; its "
                                "process group was stopped (log: {})",
                                run.wall_s, log));
    if (!run.ok()) {
      const std::string how = run.signal ? "was killed by " + signal_text(run.signal)
                                         : fmt::format("exited with code {}", run.exit_code);
      if (log_reports_out_of_memory(log))
        throw OutOfMemory::in_process(
            fmt::format("the external command ran out of memory under its limit of {} ({}; {}; log: {})",
                        format_bytes(ctx.memory.limit()), how, log_tail(log), log),
            ctx.memory.limit());
      throw Error(fmt::format("the external command {} ({}; log: {})", how, log_tail(log), log));
    }
    auto t = ctx.timer.scope("read_outputs");
    return read_external_outputs(dir, log, classes);
  }

 private:
  static void note(const SelectContext& ctx, const std::string& key, const std::string& value) {
    if (ctx.resources.note) ctx.resources.note(key, value);
  }

  // The cell's folder, emptied (a rerun must not read an earlier attempt's selection), or a fresh
  // temporary one outside cells (`dqbench select`).
  static fs::path prepare_folder(const CellResources& resources) {
    if (resources.work_dir.empty()) {
      const fs::path root = resources.cache_dir.empty() ? fs::temp_directory_path() : fs::path(resources.cache_dir);
      fs::create_directories(root);
      std::string pattern = (root / "external-XXXXXX").string();
      if (!mkdtemp(pattern.data())) throw Error(fmt::format("{}: cannot create a folder: {}", pattern, std::strerror(errno)));
      return fs::absolute(pattern);
    }
    const fs::path dir = fs::absolute(resources.work_dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir, ec);
    if (ec) throw Error(fmt::format("{}: cannot create the cell's folder: {}", dir.string(), ec.message()));
    return dir;
  }

  void write_inputs(const fs::path& dir, std::span<const ClassView> classes, const SelectContext& ctx) const {
    std::vector<int64_t> ids, labels;
    std::vector<std::span<const float>> rows;
    nlohmann::json class_info = nlohmann::json::array();
    int64_t d = 0;
    for (const auto& c : classes) {
      ids.insert(ids.end(), c.ids.begin(), c.ids.end());
      labels.insert(labels.end(), static_cast<size_t>(c.size()), c.label);
      d = c.d;
      if (c.z) rows.emplace_back(c.z, static_cast<size_t>(c.size() * c.d));
      class_info.push_back({{"label", c.label}, {"size", c.size()}, {"budget", budget_count(ctx.ratio, c.size())}});
    }
    const auto n = static_cast<int64_t>(ids.size());
    write_npy((dir / "ids.npy").string(), ids.data(), {n});
    write_npy((dir / "labels.npy").string(), labels.data(), {n});
    nlohmann::json files = {{"ids", "ids.npy"}, {"labels", "labels.npy"}, {"embeddings", nullptr}, {"images", nullptr}};
    if (write_embeddings_ && d > 0) {
      write_npy_rows((dir / "embeddings.npy").string(), rows, {n, d});
      files["embeddings"] = "embeddings.npy";
    }
    const ImageSet* images = ctx.resources.train_images;
    nlohmann::json image_info = nullptr;
    if (write_images_ && images && images->n > 0 && images->pixels.size() == static_cast<size_t>(images->n * images->image_bytes())) {
      const std::string path = images_file(*images, ctx.resources, dir);
      files["images"] = path;
      image_info = {{"path", path}, {"shape", {images->n, images->channels, images->height, images->width}},
                    {"dtype", "uint8"}, {"row", "dataset id"}};
    }
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : params_) params[k] = v;
    const nlohmann::json cell = {
        {"format", 1},
        {"ratio", ctx.ratio},
        {"seed", ctx.seed},
        {"n", n},
        {"embedding_dim", write_embeddings_ ? d : 0},
        {"num_classes", classes.size()},
        {"classes", class_info},
        {"budget_rule", kBudgetRule},
        {"params", params},
        {"memory_limit_bytes", ctx.memory.limit()},
        {"files", files},
        {"images", image_info},
        {"outputs", {{"selection", "selection.npy"}, {"keep", "keep.npy"}}},
    };
    std::ofstream out(dir / "cell.json");
    out << cell.dump(2) << "\n";
    if (!out) throw Error(fmt::format("{}: cannot write cell.json", dir.string()));
  }

  // Decoded training images as N x C x H x W uint8, row = dataset id. Written once per content under
  // the cache (cells share it), else into the cell's folder.
  static std::string images_file(const ImageSet& images, const CellResources& resources, const fs::path& dir) {
    if (resources.cache_dir.empty()) {
      const std::string path = (dir / "images.npy").string();
      write_npy(path, images.pixels.data(), {images.n, images.channels, images.height, images.width});
      return path;
    }
    const std::string key = sha256_hex(fmt::format(
        "external-images-v1|{}x{}x{}x{}|{}", images.n, images.channels, images.height, images.width,
        sha256_hex(std::string_view(reinterpret_cast<const char*>(images.pixels.data()), images.pixels.size()))));
    const fs::path folder = fs::absolute(fs::path(resources.cache_dir) / "external");
    fs::create_directories(folder);
    const fs::path path = folder / ("images-" + key.substr(0, 16) + ".npy");
    if (!fs::exists(path)) {  // written in the cell's folder, then renamed: never seen half-written
      const fs::path mine = dir / "images.npy";
      write_npy(mine.string(), images.pixels.data(), {images.n, images.channels, images.height, images.width});
      fs::rename(mine, path);
    }
    return path.string();
  }

  std::string command_text_;
  CommandTemplate command_;
  std::map<std::string, std::string> params_;
  bool write_embeddings_;
  bool write_images_;
};

MethodInfo make_external_info() {
  return {.name = "external",
          .description = "A selection method run as a program once per cell: reads the cell's folder (embeddings.npy, "
                         "labels.npy, ids.npy, cell.json), writes selection.npy (int64 dataset ids) and optionally "
                         "keep.npy (methods/README.md).",
          .params = external_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            const ExternalOptions o = external_params().parse(p);
            if (o.command.empty())
              throw Error("method 'external' needs a command, e.g. {name: external, command: \"python3 my_method.py\"}");
            return std::make_unique<ExternalMethod>(o);
          },
          .display = display_external,
          // keep.npy may hold kept fractions below 1, which the patch stage then cuts by `patches:`.
          .drops_patches = always_drops_patches};
}

}  // namespace
DQ_REGISTER_METHOD(make_external_info);
}  // namespace dq
