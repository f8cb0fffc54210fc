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

// An enum given by its YAML spellings (`names`, in enum order): the parameter's choices.
template <class E>
ParamCodec<E, std::string> spelled(const std::vector<std::string>& names) {
  return {[names](const E& v) { return names.at(static_cast<size_t>(v)); },
          [names](const std::string& text) { return enum_from<E>(names, text, "value", "a validated parameter"); },
          names};
}

// The recipe's rows, bound to the TrainRecipe reached through `prefix` (none for `train:`, the
// extractor's recipe for `extractor:`). Rows marked omit_at_default came with the airbench94 recipe:
// their defaults keep the earlier recipes as they were, and they are left out of cell ids and cache
// keys while at them. `normalize_omitted`: the extractor had `normalize` before the recipe did.
template <class Options, class... Prefix>
std::vector<ParamField<Options>> recipe_fields(bool normalize_omitted, Prefix... prefix) {
  using R = TrainRecipe;
  using C = ComputeOptions;
  return {
      field({.name = "arch", .help = "target network (dqbench models lists them)"}, spelled<Arch>(arch_names()),
            prefix..., &R::arch),
      field({.name = "epochs", .help = "training epochs", .min = 1}, prefix..., &R::epochs),
      field({.name = "min_steps", .help = "train at least this many SGD steps (more epochs for small coresets; 0 = epochs only)",
             .min = 0},
            prefix..., &R::min_steps),
      field({.name = "batch_size", .help = "mini-batch size", .min = 1}, prefix..., &R::batch_size),
      field({.name = "small_batch_size",
             .help = "mini-batch size when the cell's ratio is <= small_batch_ratio (0 = batch_size always)", .min = 0,
             .omit_at_default = true},
            prefix..., &R::small_batch_size),
      field({.name = "small_batch_ratio", .help = "the ratio at or below which small_batch_size applies", .min = 0,
             .max = 1, .omit_at_default = true},
            prefix..., &R::small_batch_ratio),
      field({.name = "lr", .help = "initial SGD learning rate", .min = 0}, prefix..., &R::lr),
      field({.name = "momentum", .help = "SGD momentum", .min = 0, .max = 1}, prefix..., &R::momentum),
      field({.name = "weight_decay", .help = "L2 weight decay", .min = 0}, prefix..., &R::weight_decay),
      field({.name = "schedule",
             .help = "learning-rate schedule: cosine or constant per epoch, or piecewise_linear per step (lr_start, "
                     "lr_peak_at, lr_end)"},
            spelled<Schedule>(kSchedules), prefix..., &R::schedule),
      field({.name = "augment", .help = "training augmentation"}, spelled<Augment>(kAugments), prefix..., &R::augment),
      field({.name = "crop_padding", .help = "padding before the random crop (pixels): the largest translation", .min = 0},
            prefix..., &R::crop_padding),
      field({.name = "normalize",
             .help = "input normalisation: the training set's mean/std, CIFAR's (DQ's) or ImageNet's constants, [0,1] "
                     "only, or cifar10: the CIFAR-10 training set's mean/std (.4914,.4822,.4465)/(.2470,.2435,.2616)",
             .omit_at_default = normalize_omitted},
            spelled<Normalize>(kNormalizations), prefix..., &R::normalize),
      field({.name = "threads", .help = "compute threads (0 = all cores)", .min = 0}, prefix..., &R::threads),
      field({.name = "device", .help = "auto | cpu | cuda | cuda:N"}, prefix..., &R::device_text),
      field({.name = "partial_epoch",
             .help = "a last partial epoch of this fraction after `epochs` whole ones (airbench94: 9 + 0.9)", .min = 0,
             .max = 0.999, .omit_at_default = true},
            prefix..., &R::partial_epoch),
      field({.name = "budget",
             .help = "subset protocol: epochs = the recipe's epochs over the coreset (equal epochs, the papers'); steps = "
                     "the optimiser steps the recipe takes on the full training set (equal steps)",
             .omit_at_default = true},
            spelled<Budget>(kBudgets), prefix..., &R::budget),
      field({.name = "drop_last", .help = "drop each epoch's last partial batch (kept when it is the only one)",
             .omit_at_default = true},
            prefix..., &R::drop_last),
      field({.name = "nesterov", .help = "Nesterov momentum", .omit_at_default = true}, prefix..., &R::nesterov),
      field({.name = "decoupled",
             .help = "lr and weight_decay per 1,024 examples (airbench): SGD lr = lr / (1024 (1 + 1/(1 - momentum))), SGD "
                     "weight decay = weight_decay x batch_size / that scale / the group's lr",
             .omit_at_default = true},
            prefix..., &R::decoupled),
      field({.name = "bn_bias_lr_scale",
             .help = "learning-rate multiplier of BatchNorm biases (their weight decay unchanged when decoupled)", .min = 0,
             .omit_at_default = true},
            prefix..., &R::bn_bias_lr_scale),
      field({.name = "label_smoothing", .help = "label smoothing of the cross-entropy", .min = 0, .max = 1,
             .omit_at_default = true},
            prefix..., &R::label_smoothing),
      field({.name = "loss_reduction", .help = "the batch's cross-entropy: mean or sum over its examples",
             .omit_at_default = true},
            spelled<LossReduction>(kLossReductions), prefix..., &R::loss_reduction),
      field({.name = "lr_start", .help = "piecewise_linear: lr multiplier at step 0", .min = 0, .omit_at_default = true},
            prefix..., &R::lr_start),
      field({.name = "lr_peak_at", .help = "piecewise_linear: the fraction of the steps where the multiplier reaches 1",
             .min = 0, .max = 1, .omit_at_default = true},
            prefix..., &R::lr_peak_at),
      field({.name = "lr_end", .help = "piecewise_linear: lr multiplier after the last step", .min = 0,
             .omit_at_default = true},
            prefix..., &R::lr_end),
      field({.name = "lookahead_every",
             .help = "lookahead EMA: average the weights every this many steps and copy the average back (0 = off)",
             .min = 0, .omit_at_default = true},
            prefix..., &R::lookahead_every),
      field({.name = "lookahead_decay",
             .help = "lookahead EMA decay per step: d = lookahead_decay^every x (step / total)^lookahead_power", .min = 0,
             .max = 1, .omit_at_default = true},
            prefix..., &R::lookahead_decay),
      field({.name = "lookahead_power", .help = "lookahead EMA: the power of the step fraction", .min = 0,
             .omit_at_default = true},
            prefix..., &R::lookahead_power),
      field({.name = "lookahead_start_epoch", .help = "lookahead EMA: the epoch it starts in", .min = 0,
             .omit_at_default = true},
            prefix..., &R::lookahead_start_epoch),
      field({.name = "flip_mode",
             .help = "flips: a coin per image and epoch, or alternating (a coin per image once; odd epochs flip all)",
             .omit_at_default = true},
            spelled<FlipMode>(kFlipModes), prefix..., &R::flip_mode),
      field({.name = "padding_mode", .help = "the crop's padding: black pixels (constant) or mirrored (reflect)",
             .omit_at_default = true},
            spelled<PaddingMode>(kPaddingModes), prefix..., &R::padding_mode),
      field({.name = "tta_level",
             .help = "test-time augmentation of the final evaluation, recorded as top1_tta beside top1: 0 none, 1 mirror, "
                     "2 mirror + one-pixel translations",
             .min = 0, .max = 2, .omit_at_default = true},
            prefix..., &R::tta_level),
      field({.name = "evaluations", .help = "test evaluations, evenly spaced over the epochs (always after the last)",
             .min = 1, .omit_at_default = true},
            prefix..., &R::evaluations),
      field({.name = "whiten_eps", .help = "whitening layer (airbench94): added to the patch covariance's eigenvalues",
             .min = 0, .omit_at_default = true},
            prefix..., &R::whiten_eps),
      field({.name = "whiten_images",
             .help = "whitening layer: the patch covariance is taken over the first this many training images", .min = 1,
             .omit_at_default = true},
            prefix..., &R::whiten_images),
      field({.name = "whiten_bias_epochs", .help = "whitening layer: its bias trains for this many epochs, then is frozen",
             .min = 0, .omit_at_default = true},
            prefix..., &R::whiten_bias_epochs),
      field({.name = "precision",
             .help = "fp32, or bf16 autocast (convolutions and matrix products in bfloat16; weights stay float32)",
             .omit_at_default = true},
            spelled<Precision>(kPrecisions), prefix..., &R::compute, &C::precision),
      field({.name = "memory_format",
             .help = "activation and convolution-weight layout: contiguous (NCHW) or channels_last (NHWC)",
             .omit_at_default = true},
            spelled<MemoryFormat>(kMemoryFormats), prefix..., &R::compute, &C::memory_format),
  };
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

const ParamTable<TrainRecipe>& train_recipe_table() {
  static const ParamTable<TrainRecipe> table{recipe_fields<TrainRecipe>(/*normalize_omitted=*/true)};
  return table;
}

std::vector<ParamSpec> train_recipe_specs() { return train_recipe_table().specs(); }

TrainRecipe TrainRecipe::at_ratio(double ratio) const {
  TrainRecipe r = *this;
  if (small_batch_size > 0 && ratio <= small_batch_ratio) r.batch_size = small_batch_size;
  return r;
}

void finish_train_recipe(TrainRecipe& r, const std::string& where) {
  r.device = parse_device(r.device_text, where + " (key 'device')");
  // Combinations the optimiser cannot take, refused when the file is read.
  if (r.nesterov && r.momentum <= 0)
    throw Error(fmt::format("{} (key 'nesterov'): Nesterov momentum needs momentum > 0", where));
  if (r.decoupled && r.momentum >= 1)
    throw Error(fmt::format("{} (key 'decoupled'): the decoupled form needs momentum < 1", where));
}

TrainRecipe parse_train_recipe(const Params& p) {
  TrainRecipe r = train_recipe_table().parse(p);
  finish_train_recipe(r, p.owner());
  return r;
}

TrainRecipe train_recipe_from(const Params& p, double ratio) { return parse_train_recipe(p).at_ratio(ratio); }

Params train_recipe_params(const TrainRecipe& recipe) { return train_recipe_table().params_of(recipe, "train"); }

std::string budget_protocol_text(const std::map<std::string, std::string>& train) {
  if (train.empty()) return "no training (selection only)";
  auto get = [&](const char* key) {
    const auto it = train.find(key);
    return it == train.end() ? std::string() : it->second;
  };
  std::string epochs = get("epochs");
  const std::string floor = get("min_steps"), partial = get("partial_epoch");
  if (!partial.empty() && !epochs.empty()) epochs = fmt::format("{}", std::stod(epochs) + std::stod(partial));
  if (get("budget") == "steps")
    return fmt::format("equal steps (every coreset trains for the optimiser steps of {} epochs on the full "
                       "training set: a smaller coreset takes more passes)", epochs);
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

const ParamTable<ExtractorOptions>& extractor_table() {
  using E = ExtractorOptions;
  static const ParamTable<ExtractorOptions> table{
      {
          field({.name = "kind",
                 .help = "proxy: train `arch` on the full training set and take its penultimate layer; torchscript: a "
                         "user's model file; none: the dataset carries features"},
                spelled<ExtractorKind>(extractor_kind_names()), &E::kind),
          field({.name = "path", .help = "torchscript: the .pt file (input N x C x H x W float)"}, &E::path),
          field({.name = "layer",
                 .help = "torchscript: a method of the module to call (e.g. features), or a top-level child to stop after "
                         "(e.g. avgpool of a torchvision ResNet); empty = forward",
                 .omit_at_default = true},
                &E::layer),
          field({.name = "seed", .help = "proxy training seed (shared by all cells)", .min = 0}, &E::seed),
      },
      // The proxy's own training recipe; `normalize` stays in identity (the extractor had it first).
      recipe_fields<ExtractorOptions>(/*normalize_omitted=*/false, &E::recipe)};
  return table;
}

std::vector<ParamSpec> extractor_specs() { return extractor_table().specs(); }

ExtractorOptions parse_extractor_options(const Params& p) {
  ExtractorOptions o = extractor_table().parse(p);
  finish_train_recipe(o.recipe, p.owner());
  return o;
}

Params extractor_params(const ExtractorOptions& options) { return extractor_table().params_of(options, "extractor"); }

}  // namespace dq
