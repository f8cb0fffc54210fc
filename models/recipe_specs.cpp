// The parameter lists of the training recipe and the feature extractor. Kept free of LibTorch so that
// the experiment validator (dq_core) can check YAML without linking the networks.
#include "models/models.h"

namespace dq {

std::vector<ParamSpec> train_recipe_specs() {
  return {
      {"arch", ParamType::String, std::string("small_cnn"), "target network",
       {"small_cnn", "resnet18", "resnet18_imagenet"}, {}, {}},
      {"epochs", ParamType::Int, int64_t{3}, "training epochs", {}, 1.0, {}},
      {"min_steps", ParamType::Int, int64_t{0},
       "train at least this many SGD steps (more epochs for small coresets; 0 = epochs only)", {}, 0.0, {}},
      {"batch_size", ParamType::Int, int64_t{128}, "mini-batch size", {}, 1.0, {}},
      {"lr", ParamType::Double, 0.05, "initial SGD learning rate", {}, 0.0, {}},
      {"momentum", ParamType::Double, 0.9, "SGD momentum", {}, 0.0, 1.0},
      {"weight_decay", ParamType::Double, 5e-4, "L2 weight decay", {}, 0.0, {}},
      {"schedule", ParamType::String, std::string("cosine"), "learning-rate schedule (per epoch)",
       {"cosine", "constant"}, {}, {}},
      {"augment", ParamType::String, std::string("flip_crop"), "training augmentation",
       {"flip_crop", "flip", "crop", "none"}, {}, {}},
      {"crop_padding", ParamType::Int, int64_t{2}, "zero padding before the random crop (pixels)", {}, 0.0, {}},
      {"threads", ParamType::Int, int64_t{0}, "compute threads (0 = all cores)", {}, 0.0, {}},
      {"device", ParamType::String, std::string("auto"), "auto | cpu | cuda:N", {}, {}, {}},
  };
}

TrainRecipe train_recipe_from(const Params& p) {
  TrainRecipe r;
  r.arch = p.get_string("arch");
  r.epochs = p.get_int("epochs");
  r.min_steps = p.get_int("min_steps");
  r.batch_size = p.get_int("batch_size");
  r.lr = p.get_double("lr");
  r.momentum = p.get_double("momentum");
  r.weight_decay = p.get_double("weight_decay");
  r.schedule = p.get_string("schedule");
  r.augment = p.get_string("augment");
  r.crop_padding = p.get_int("crop_padding");
  r.threads = p.get_int("threads");
  r.device = p.get_string("device");
  return r;
}

std::vector<ParamSpec> extractor_specs() {
  std::vector<ParamSpec> specs = {
      {"kind", ParamType::String, std::string("proxy"),
       "proxy: train `arch` on the full training set and take its penultimate layer; torchscript: a user's "
       "model file; none: the dataset carries features",
       {"proxy", "torchscript", "none"}, {}, {}},
      {"path", ParamType::String, std::string(""), "torchscript: the .pt file (input N x C x H x W float)", {}, {}, {}},
      {"normalize", ParamType::String, std::string("dataset"),
       "torchscript input normalisation: dataset mean/std, ImageNet's, or [0,1] only",
       {"dataset", "imagenet", "none"}, {}, {}},
      {"seed", ParamType::Int, int64_t{0}, "proxy training seed (shared by all cells)", {}, 0.0, {}},
  };
  for (auto& s : train_recipe_specs()) specs.push_back(s);  // the proxy's own training recipe
  return specs;
}

}  // namespace dq
