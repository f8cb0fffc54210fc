#include "harness/datasets_command.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "core/error.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
#include "harness/param_docs.h"
#include "harness/yaml_params.h"

namespace dq {

namespace {

bool looks_like_yaml_file(const std::string& arg) {
  std::error_code ec;
  return arg.ends_with(".yaml") || arg.ends_with(".yml") || std::filesystem::is_regular_file(arg, ec);
}

std::string describe(const DatasetDefinition& def, const LoadedDataset& loaded) {
  const Dataset& d = loaded.dataset;
  std::string out = fmt::format("dataset {} (kind {}) [{}]\n", def.name, def.kind, def.where);
  out += fmt::format("  params: {}\n", def.params.canonical());
  if (loaded.cache_path.empty()) out += "  cache: none\n";
  else if (loaded.from_cache) out += fmt::format("  cache: cached ({})\n", loaded.cache_path);
  else out += fmt::format("  cache: not cached: decoded and stored in {}\n", loaded.cache_path);
  out += fmt::format("  loaded in {:.2f} s ({})\n", loaded.seconds, loaded.from_cache ? "from the cache" : "decoded");
  if (d.feature_dim > 0) out += fmt::format("  features: {} floats per sample\n", d.feature_dim);
  else out += fmt::format("  images: {} channel(s) x {} x {}\n", d.train.channels, d.train.height, d.train.width);
  std::vector<int64_t> train(d.class_names.size()), test(d.class_names.size());
  for (auto l : d.train.labels) ++train[l];
  for (auto l : d.test.labels) ++test[l];
  size_t width = 5;
  for (const auto& name : d.class_names) width = std::max(width, name.size());
  out += fmt::format("  classes: {}\n", d.class_names.size());
  out += fmt::format("    {:<{}} {:>9} {:>9}\n", "class", width, "train", "test");
  for (size_t c = 0; c < d.class_names.size(); ++c)
    out += fmt::format("    {:<{}} {:>9} {:>9}\n", d.class_names[c], width, train[c], test[c]);
  out += fmt::format("    {:<{}} {:>9} {:>9}\n", "total", width, d.train.n, d.test.n);
  std::string report;
  for (const auto& [k, v] : d.load_report) report += fmt::format("{}{}={}", report.empty() ? "" : ", ", k, v);
  out += fmt::format("  load report: {}\n", report.empty() ? "(nothing to report)" : report);
  return out;
}

}  // namespace

std::vector<DatasetDefinition> parse_dataset_definitions(const std::string& spec_or_yaml) {
  if (looks_like_yaml_file(spec_or_yaml))
    return with_yaml_errors(spec_or_yaml, [&] { return parse_datasets_section(load_yaml_file(spec_or_yaml), spec_or_yaml); });
  return {parse_dataset_spec(spec_or_yaml, "command line")};
}

std::string inspect_datasets(const std::string& spec_or_yaml, const std::string& cache_dir) {
  std::string out;
  for (const auto& def : parse_dataset_definitions(spec_or_yaml))
    out += describe(def, load_dataset(def.kind, def.params, cache_dir, def.where));
  return out;
}

void add_datasets_command(CLI::App& app) {
  CLI::App* datasets = app.add_subcommand("datasets", "Inspect datasets and their loaders");
  datasets->require_subcommand(1);

  CLI::App* inspect = datasets->add_subcommand(
      "inspect", "Load datasets (through the decode cache) and print per-class counts, sizes and load reports");
  auto source = std::make_shared<std::string>();
  auto cache_dir = std::make_shared<std::string>("cache/datasets");
  auto no_cache = std::make_shared<bool>(false);
  inspect->add_option("source", *source, "spec like 'image_folder(path=data/cifar10-jpg,image_size=32)' or an experiment YAML")
      ->required();
  auto* cache_opt = inspect->add_option("--cache-dir", *cache_dir, "decode cache folder")->capture_default_str();
  inspect->add_flag("--no-cache", *no_cache, "decode without reading or writing the cache")->excludes(cache_opt);
  inspect->callback([=] { std::cout << inspect_datasets(*source, *no_cache ? "" : *cache_dir) << std::flush; });

  CLI::App* list = datasets->add_subcommand("list", "List the dataset kinds and their parameters");
  auto list_format = std::make_shared<std::string>("term");
  list->add_option("--format", *list_format, "term | md (the Markdown datasets/README.md's parameter tables are made of)")
      ->capture_default_str();
  list->callback([=] { std::cout << describe_dataset_kinds(table_format_from(*list_format)) << std::flush; });
}

}  // namespace dq
