// The parameter lists of the training recipe and the feature extractor, the named recipe presets, and
// the parsing of their strings into enums. Kept free of LibTorch so that the experiment validator
// (dq_core) can check YAML without linking the networks.
#include <fmt/format.h>

#include "core/error.h"
#include "models/models.h"

namespace dq {

namespace {

template <typename Enum>
Enum enum_from(const std::vector<std::string>& names, const std::string& text, const char* what,
               const std::string& where) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) return static_cast<Enum>(i);
  throw Error(fmt::format("{}: unknown {} '{}' (known: {})", where, what, text, fmt::join(names, ", ")));
}

const std::vector<std::string> kSchedules = {"cosine", "constant"};
const std::vector<std::string> kAugments = {"flip_crop", "flip", "crop", "none"};
const std::vector<std::string> kNormalizations = {"dataset", "cifar", "imagenet", "none"};

}  // namespace

const std::vector<std::string>& arch_names() {
  static const std::vector<std::string> names = {"small_cnn", "resnet18", "resnet18_imagenet",
                                                 "resnet50",  "resnet50_imagenet", "vit"};
  return names;
}

Arch parse_arch(const std::string& name, const std::string& where) {
  return enum_from<Arch>(arch_names(), name, "network arch", where);
}

const char* arch_name(Arch arch) { return arch_names().at(static_cast<size_t>(arch)).c_str(); }

std::vector<ParamSpec> train_recipe_specs() {
  return {
      {"arch", ParamType::String, std::string("small_cnn"), "target network (dqbench models lists them)",
       arch_names(), {}, {}},
      {"epochs", ParamType::Int, int64_t{3}, "training epochs", {}, 1.0, {}},
      {"min_steps", ParamType::Int, int64_t{0},
       "train at least this many SGD steps (more epochs for small coresets; 0 = epochs only)", {}, 0.0, {}},
      {"batch_size", ParamType::Int, int64_t{128}, "mini-batch size", {}, 1.0, {}},
      {"small_batch_size", ParamType::Int, int64_t{0},
       "mini-batch size when the cell's ratio is <= small_batch_ratio (0 = batch_size always)", {}, 0.0, {}, true},
      {"small_batch_ratio", ParamType::Double, 0.1, "the ratio at or below which small_batch_size applies", {},
       0.0, 1.0, true},
      {"lr", ParamType::Double, 0.05, "initial SGD learning rate", {}, 0.0, {}},
      {"momentum", ParamType::Double, 0.9, "SGD momentum", {}, 0.0, 1.0},
      {"weight_decay", ParamType::Double, 5e-4, "L2 weight decay", {}, 0.0, {}},
      {"schedule", ParamType::String, std::string("cosine"), "learning-rate schedule (per epoch)", kSchedules, {},
       {}},
      {"augment", ParamType::String, std::string("flip_crop"), "training augmentation", kAugments, {}, {}},
      {"crop_padding", ParamType::Int, int64_t{2}, "zero padding before the random crop (pixels)", {}, 0.0, {}},
      {"normalize", ParamType::String, std::string("dataset"),
       "input normalisation: the training set's mean/std, CIFAR's or ImageNet's constants, or [0,1] only",
       kNormalizations, {}, {}, true},
      {"threads", ParamType::Int, int64_t{0}, "compute threads (0 = all cores)", {}, 0.0, {}},
      {"device", ParamType::String, std::string("auto"), "auto | cpu | cuda | cuda:N", {}, {}, {}},
  };
}

TrainRecipe train_recipe_from(const Params& p, double ratio) {
  const std::string where = p.owner();
  TrainRecipe r;
  r.arch = parse_arch(p.get_string("arch"), where);
  r.epochs = p.get_int("epochs");
  r.min_steps = p.get_int("min_steps");
  r.batch_size = p.get_int("batch_size");
  if (p.get_int("small_batch_size") > 0 && ratio <= p.get_double("small_batch_ratio"))
    r.batch_size = p.get_int("small_batch_size");
  r.lr = p.get_double("lr");
  r.momentum = p.get_double("momentum");
  r.weight_decay = p.get_double("weight_decay");
  r.schedule = enum_from<Schedule>(kSchedules, p.get_string("schedule"), "schedule", where);
  r.augment = enum_from<Augment>(kAugments, p.get_string("augment"), "augment", where);
  r.crop_padding = p.get_int("crop_padding");
  r.normalize = enum_from<Normalize>(kNormalizations, p.get_string("normalize"), "normalize", where);
  r.threads = p.get_int("threads");
  r.device = parse_device(p.get_string("device"), where + " (key 'device')");
  return r;
}

std::string budget_protocol_text(const std::map<std::string, std::string>& train) {
  if (train.empty()) return "no training (selection only)";
  auto get = [&](const char* key) {
    const auto it = train.find(key);
    return it == train.end() ? std::string() : it->second;
  };
  const std::string epochs = get("epochs"), floor = get("min_steps");
  const std::string each = epochs == "1" ? "1 epoch" : epochs + " epochs";
  if (!floor.empty() && floor != "0")
    return fmt::format("equal epochs with a floor ({} on every coreset, more where that is under {} optimiser steps)",
                       each, floor);
  return fmt::format("equal epochs ({} on every coreset: a smaller coreset takes fewer optimiser steps)", each);
}

const std::vector<RecipePreset>& recipe_presets() {
  static const std::vector<RecipePreset> presets = {
      {"dq_cifar",
       "DQ's CIFAR recipe (validate_cifar.py, methods-spec 2.4): ResNet-18 CIFAR stem, SGD lr 0.1 momentum 0.9 "
       "wd 5e-4, cosine over 200 epochs, batch 128 (16 at ratio <= 10%), crop pad 4 + flip, CIFAR normalisation",
       {{"arch", "resnet18"},
        {"epochs", "200"},
        {"min_steps", "0"},
        {"batch_size", "128"},
        {"small_batch_size", "16"},
        {"small_batch_ratio", "0.1"},
        {"lr", "0.1"},
        {"momentum", "0.9"},
        {"weight_decay", "5e-4"},
        {"schedule", "cosine"},
        {"augment", "flip_crop"},
        {"crop_padding", "4"},
        {"normalize", "cifar"}}},
      {"cpu_small_cnn",
       "2-core CPU scale: small CNN, 6 epochs and at least 700 steps, SGD lr 0.05, cosine, crop pad 4 + flip",
       {{"arch", "small_cnn"},
        {"epochs", "6"},
        {"min_steps", "700"},
        {"batch_size", "128"},
        {"small_batch_size", "0"},
        {"lr", "0.05"},
        {"momentum", "0.9"},
        {"weight_decay", "5e-4"},
        {"schedule", "cosine"},
        {"augment", "flip_crop"},
        {"crop_padding", "4"},
        {"normalize", "dataset"}}},
      {"cpu_resnet18",
       "2-core CPU scale of dq_cifar: ResNet-18 with the ImageNet stem (about 15x cheaper at 32 px), 15 epochs and "
       "at least 1500 steps, otherwise DQ's optimiser, batch rule, augmentation and normalisation",
       {{"arch", "resnet18_imagenet"},
        {"epochs", "15"},
        {"min_steps", "1500"},
        {"batch_size", "128"},
        {"small_batch_size", "16"},
        {"small_batch_ratio", "0.1"},
        {"lr", "0.1"},
        {"momentum", "0.9"},
        {"weight_decay", "5e-4"},
        {"schedule", "cosine"},
        {"augment", "flip_crop"},
        {"crop_padding", "4"},
        {"normalize", "cifar"}}},
  };
  return presets;
}

const RecipePreset& find_recipe_preset(const std::string& name, const std::string& where) {
  std::vector<std::string> known;
  for (const auto& p : recipe_presets()) {
    if (p.name == name) return p;
    known.push_back(p.name);
  }
  throw Error(fmt::format("{}: unknown recipe preset '{}' (known: {})", where, name, fmt::join(known, ", ")));
}

const std::vector<std::string>& extractor_kind_names() {
  static const std::vector<std::string> names = {"proxy", "torchscript", "none"};
  return names;
}

const char* extractor_kind_name(ExtractorKind kind) { return extractor_kind_names().at(static_cast<size_t>(kind)).c_str(); }

ExtractorKind parse_extractor_kind(const Params& extractor) {
  return enum_from<ExtractorKind>(extractor_kind_names(), extractor.get_string("kind"), "extractor kind",
                                  extractor.owner() + " (key 'kind')");
}

std::vector<ParamSpec> extractor_specs() {
  std::vector<ParamSpec> specs = {
      {"kind", ParamType::String, std::string("proxy"),
       "proxy: train `arch` on the full training set and take its penultimate layer; torchscript: a user's "
       "model file; none: the dataset carries features",
       extractor_kind_names(), {}, {}},
      {"path", ParamType::String, std::string(""), "torchscript: the .pt file (input N x C x H x W float)", {}, {}, {}},
      {"layer", ParamType::String, std::string(""),
       "torchscript: a method of the module to call (e.g. features), or a top-level child to stop after "
       "(e.g. avgpool of a torchvision ResNet); empty = forward",
       {}, {}, {}, true},
      {"seed", ParamType::Int, int64_t{0}, "proxy training seed (shared by all cells)", {}, 0.0, {}},
  };
  for (auto& s : train_recipe_specs()) {  // the proxy's own training recipe
    if (s.name == "normalize") s.omit_at_default = false;  // the extractor had it before the recipe did
    specs.push_back(s);
  }
  return specs;
}

}  // namespace dq
