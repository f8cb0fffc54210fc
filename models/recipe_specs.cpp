// The parameter lists of the training recipe and the feature extractor, the named recipe presets, and
// the parsing of their strings into enums. Kept free of LibTorch so that the experiment validator
// (dq_core) can check YAML without linking the networks.
#include <fmt/format.h>

#include <optional>

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

// The YAML spellings of the recipe's enums, in enum order (models.h).
const std::vector<std::string> kSchedules = {"cosine", "constant", "piecewise_linear"};
const std::vector<std::string> kAugments = {"flip_crop", "flip", "crop", "none"};
const std::vector<std::string> kNormalizations = {"dataset", "cifar", "imagenet", "none", "cifar10"};
const std::vector<std::string> kBudgets = {"epochs", "steps"};
const std::vector<std::string> kFlipModes = {"random", "alternating"};
const std::vector<std::string> kPaddingModes = {"constant", "reflect"};
const std::vector<std::string> kLossReductions = {"mean", "sum"};
const std::vector<std::string> kPrecisions = {"fp32", "bf16"};
const std::vector<std::string> kMemoryFormats = {"contiguous", "channels_last"};

// A key added with the airbench94 recipe: its default keeps the earlier recipes as they were, and it
// is left out of cell ids and cache keys while at its default (ParamSpec::omit_at_default).
ParamSpec later_key(std::string name, ParamType type, ParamValue value, std::string help,
                    std::vector<std::string> choices = {}, std::optional<double> min = {},
                    std::optional<double> max = {}) {
  return {std::move(name), type, std::move(value), std::move(help), std::move(choices), min, max, true};
}

}  // namespace

const std::vector<std::string>& arch_names() {
  static const std::vector<std::string> names = {"small_cnn", "resnet18",          "resnet18_imagenet", "resnet50",
                                                 "resnet50_imagenet", "vit", "airbench94"};
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
      {"schedule", ParamType::String, std::string("cosine"),
       "learning-rate schedule: cosine or constant per epoch, or piecewise_linear per step (lr_start, lr_peak_at, "
       "lr_end)",
       kSchedules, {}, {}},
      {"augment", ParamType::String, std::string("flip_crop"), "training augmentation", kAugments, {}, {}},
      {"crop_padding", ParamType::Int, int64_t{2}, "padding before the random crop (pixels): the largest translation",
       {}, 0.0, {}},
      {"normalize", ParamType::String, std::string("dataset"),
       "input normalisation: the training set's mean/std, CIFAR's (DQ's) or ImageNet's constants, [0,1] only, or "
       "cifar10: the CIFAR-10 training set's mean/std (.4914,.4822,.4465)/(.2470,.2435,.2616)",
       kNormalizations, {}, {}, true},
      {"threads", ParamType::Int, int64_t{0}, "compute threads (0 = all cores)", {}, 0.0, {}},
      {"device", ParamType::String, std::string("auto"), "auto | cpu | cuda | cuda:N", {}, {}, {}},
      later_key("partial_epoch", ParamType::Double, 0.0,
                "a last partial epoch of this fraction after `epochs` whole ones (airbench94: 9 + 0.9)", {}, 0.0, 0.999),
      later_key("budget", ParamType::String, std::string("epochs"),
                "subset protocol: epochs = the recipe's epochs over the coreset (equal epochs, the papers'); steps = "
                "the optimiser steps the recipe takes on the full training set (equal steps)",
                kBudgets),
      later_key("drop_last", ParamType::Bool, false,
                "drop each epoch's last partial batch (kept when it is the only one)"),
      later_key("nesterov", ParamType::Bool, false, "Nesterov momentum"),
      later_key("decoupled", ParamType::Bool, false,
                "lr and weight_decay per 1,024 examples (airbench): SGD lr = lr / (1024 (1 + 1/(1 - momentum))), SGD "
                "weight decay = weight_decay x batch_size / that scale / the group's lr"),
      later_key("bn_bias_lr_scale", ParamType::Double, 1.0,
                "learning-rate multiplier of BatchNorm biases (their weight decay unchanged when decoupled)", {}, 0.0),
      later_key("label_smoothing", ParamType::Double, 0.0, "label smoothing of the cross-entropy", {}, 0.0, 1.0),
      later_key("loss_reduction", ParamType::String, std::string("mean"),
                "the batch's cross-entropy: mean or sum over its examples", kLossReductions),
      later_key("lr_start", ParamType::Double, 0.2, "piecewise_linear: lr multiplier at step 0", {}, 0.0),
      later_key("lr_peak_at", ParamType::Double, 0.23,
                "piecewise_linear: the fraction of the steps where the multiplier reaches 1", {}, 0.0, 1.0),
      later_key("lr_end", ParamType::Double, 0.07, "piecewise_linear: lr multiplier after the last step", {}, 0.0),
      later_key("lookahead_every", ParamType::Int, int64_t{0},
                "lookahead EMA: average the weights every this many steps and copy the average back (0 = off)", {},
                0.0),
      later_key("lookahead_decay", ParamType::Double, 0.95,
                "lookahead EMA decay per step: d = lookahead_decay^every x (step / total)^lookahead_power", {}, 0.0,
                1.0),
      later_key("lookahead_power", ParamType::Double, 3.0, "lookahead EMA: the power of the step fraction", {}, 0.0),
      later_key("lookahead_start_epoch", ParamType::Int, int64_t{3}, "lookahead EMA: the epoch it starts in", {}, 0.0),
      later_key("flip_mode", ParamType::String, std::string("random"),
                "flips: a coin per image and epoch, or alternating (a coin per image once; odd epochs flip all)",
                kFlipModes),
      later_key("padding_mode", ParamType::String, std::string("constant"),
                "the crop's padding: black pixels (constant) or mirrored (reflect)", kPaddingModes),
      later_key("tta_level", ParamType::Int, int64_t{0},
                "test-time augmentation of the final evaluation, recorded as top1_tta beside top1: 0 none, 1 mirror, "
                "2 mirror + one-pixel translations",
                {}, 0.0, 2.0),
      later_key("evaluations", ParamType::Int, int64_t{5},
                "test evaluations, evenly spaced over the epochs (always after the last)", {}, 1.0),
      later_key("whiten_eps", ParamType::Double, 5e-4,
                "whitening layer (airbench94): added to the patch covariance's eigenvalues", {}, 0.0),
      later_key("whiten_images", ParamType::Int, int64_t{5000},
                "whitening layer: the patch covariance is taken over the first this many training images", {}, 1.0),
      later_key("whiten_bias_epochs", ParamType::Int, int64_t{3},
                "whitening layer: its bias trains for this many epochs, then is frozen", {}, 0.0),
      later_key("precision", ParamType::String, std::string("fp32"),
                "fp32, or bf16 autocast (convolutions and matrix products in bfloat16; weights stay float32)",
                kPrecisions),
      later_key("memory_format", ParamType::String, std::string("contiguous"),
                "activation and convolution-weight layout: contiguous (NCHW) or channels_last (NHWC)", kMemoryFormats),
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
  r.partial_epoch = p.get_double("partial_epoch");
  r.budget = enum_from<Budget>(kBudgets, p.get_string("budget"), "budget", where);
  r.drop_last = p.get_bool("drop_last");
  r.nesterov = p.get_bool("nesterov");
  r.decoupled = p.get_bool("decoupled");
  r.bn_bias_lr_scale = p.get_double("bn_bias_lr_scale");
  r.label_smoothing = p.get_double("label_smoothing");
  r.loss_reduction = enum_from<LossReduction>(kLossReductions, p.get_string("loss_reduction"), "loss_reduction", where);
  r.lr_start = p.get_double("lr_start");
  r.lr_peak_at = p.get_double("lr_peak_at");
  r.lr_end = p.get_double("lr_end");
  r.lookahead_every = p.get_int("lookahead_every");
  r.lookahead_decay = p.get_double("lookahead_decay");
  r.lookahead_power = p.get_double("lookahead_power");
  r.lookahead_start_epoch = p.get_int("lookahead_start_epoch");
  r.flip_mode = enum_from<FlipMode>(kFlipModes, p.get_string("flip_mode"), "flip_mode", where);
  r.padding_mode = enum_from<PaddingMode>(kPaddingModes, p.get_string("padding_mode"), "padding_mode", where);
  r.tta_level = p.get_int("tta_level");
  r.evaluations = p.get_int("evaluations");
  r.whiten_eps = p.get_double("whiten_eps");
  r.whiten_images = p.get_int("whiten_images");
  r.whiten_bias_epochs = p.get_int("whiten_bias_epochs");
  r.compute.precision = enum_from<Precision>(kPrecisions, p.get_string("precision"), "precision", where);
  r.compute.memory_format = enum_from<MemoryFormat>(kMemoryFormats, p.get_string("memory_format"), "memory_format", where);
  // Combinations the optimiser cannot take, refused when the file is read (the parser builds the recipe).
  if (r.nesterov && r.momentum <= 0)
    throw Error(fmt::format("{} (key 'nesterov'): Nesterov momentum needs momentum > 0", where));
  if (r.decoupled && r.momentum >= 1)
    throw Error(fmt::format("{} (key 'decoupled'): the decoupled form needs momentum < 1", where));
  return r;
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
      {"airbench94",
       "the airbench94 recipe (Keller Jordan, 2024: 94.01% on CIFAR-10 in 0.36 PFLOPs): airbench94 network with "
       "whitening init, 9.9 epochs of batch 1024, Nesterov SGD in decoupled form (lr 11.5, momentum 0.85, wd 0.0153 "
       "per 1,024 examples, BatchNorm biases 64x lr), label smoothing 0.2 on the summed loss, piecewise-linear lr "
       "0.2 -> 1 (23%) -> 0.07, lookahead EMA from epoch 3, alternating flip + 2-px reflect translation, "
       "test-time augmentation (level 2), channels-last",
       {{"arch", "airbench94"},
        {"epochs", "9"},
        {"partial_epoch", "0.9"},
        {"min_steps", "0"},
        {"budget", "epochs"},
        {"batch_size", "1024"},
        {"small_batch_size", "0"},
        {"drop_last", "true"},
        {"lr", "11.5"},
        {"momentum", "0.85"},
        {"nesterov", "true"},
        {"weight_decay", "0.0153"},
        {"decoupled", "true"},
        {"bn_bias_lr_scale", "64"},
        {"label_smoothing", "0.2"},
        {"loss_reduction", "sum"},
        {"schedule", "piecewise_linear"},
        {"lr_start", "0.2"},
        {"lr_peak_at", "0.23"},
        {"lr_end", "0.07"},
        {"lookahead_every", "5"},
        {"lookahead_decay", "0.95"},
        {"lookahead_power", "3"},
        {"lookahead_start_epoch", "3"},
        {"augment", "flip_crop"},
        {"crop_padding", "2"},
        {"padding_mode", "reflect"},
        {"flip_mode", "alternating"},
        {"normalize", "cifar10"},
        {"whiten_eps", "5e-4"},
        {"whiten_images", "5000"},
        {"whiten_bias_epochs", "3"},
        {"tta_level", "2"},
        {"evaluations", "1"},
        {"precision", "fp32"},
        {"memory_format", "channels_last"}}},
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
