#include "harness/dataset_definitions.h"

#include <fmt/format.h>

#include "core/error.h"
#include "datasets/dataset.h"
#include "harness/yaml_params.h"

namespace dq {

namespace {

// The loader's parameter list for `kind`, all at their defaults; an unknown kind throws, naming `where`.
Params default_params(const std::string& kind, const std::string& where) {
  const DatasetLoaderInfo& info = DatasetRegistry::instance().find(kind, where);
  return Params("dataset kind '" + kind + "'", info.params);
}

}  // namespace

std::vector<DatasetDefinition> parse_datasets_section(const YAML::Node& root, const std::string& file) {
  const YAML::Node section = root.IsMap() ? root["datasets"] : YAML::Node();
  if (!section || !section.IsMap() || section.size() == 0)
    throw Error(fmt::format("{}{}: key 'datasets' must map names to dataset definitions, e.g. "
                            "datasets: {{fmnist: {{kind: fashion_mnist}}}}",
                            section ? yaml_where(file, section) : file, section ? " (key 'datasets')" : ""));
  std::vector<DatasetDefinition> out;
  for (const auto& entry : section) {
    DatasetDefinition def;
    def.name = entry.first.as<std::string>();
    def.where = fmt::format("{} (dataset '{}')", yaml_where(file, entry.first), def.name);
    const YAML::Node body = entry.second;
    if (!body.IsMap() || !body["kind"])
      throw Error(fmt::format("{}: a dataset needs a mapping with 'kind', e.g. {{kind: fashion_mnist}}", def.where));
    const YAML::Node kind = body["kind"];
    const std::string kind_where = yaml_where(file, kind) + " (key 'kind')";
    if (!kind.IsScalar()) throw Error(fmt::format("{}: expected a single value", kind_where));
    def.kind = kind.Scalar();
    def.params = default_params(def.kind, kind_where);
    apply_yaml_params(body, def.params, file, {"kind"});
    out.push_back(std::move(def));
  }
  return out;
}

DatasetDefinition parse_dataset_spec(const std::string& text, const std::string& where) {
  const SpecString spec = parse_spec_string(text, where);
  DatasetDefinition def{spec.name, spec.name, default_params(spec.name, where), where};
  for (const auto& [key, value] : spec.args) def.params.set_from_text(key, value, where);
  return def;
}

}  // namespace dq
