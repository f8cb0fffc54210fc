// `dqbench models`: the target networks with their parameter counts, and the named recipe presets.
#include <fmt/format.h>

#include <ostream>

#include "models/models.h"

namespace dq {

void print_models_catalog(std::ostream& out) {
  out << "networks (arch: trainable parameters for CIFAR-10 input 3x32x32 with 10 classes, and for ImageNet input "
         "3x224x224 with 1000 classes; feature = embedding width):\n";
  for (const auto& name : arch_names()) {
    const Arch arch = parse_arch(name, "catalog");
    const NetworkInfo cifar = describe_network(arch, 3, 32, 32, 10);
    const NetworkInfo imagenet = describe_network(arch, 3, 224, 224, 1000);
    out << fmt::format("  {:<18} {:>11}  {:>11}  feature {:>4}\n", name, cifar.parameters, imagenet.parameters,
                       cifar.feature_dim);
  }
  out << "\nrecipe presets (train: {preset: NAME, <key>: <override>}):\n";
  for (const auto& preset : recipe_presets()) {
    out << "  " << preset.name << ": " << preset.description << "\n    ";
    std::string values;
    for (const auto& [k, v] : preset.values) values += (values.empty() ? "" : ", ") + k + "=" + v;
    out << values << "\n";
  }
}

}  // namespace dq
