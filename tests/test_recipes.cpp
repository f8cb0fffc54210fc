// Training recipes as the experiment parser sees them: presets, the small-coreset batch rule, enums
// parsed at the edge, the device key, and cell ids that survive the keys added for them; the
// airbench94 preset, the step plan of the equal-epochs and equal-steps protocols, and the schedules.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.h"
#include "harness/experiment.h"
#include "models/models.h"
#include "models/schedule.h"
#include "test_helpers.h"

using namespace dq;

namespace {
std::string write_experiment(const std::string& name, const std::string& body) {
  const auto dir = test::scratch_dir("recipe_" + name);
  const auto path = dir / (name + ".yaml");
  test::write_text(path, body);
  return path.string();
}
const char* kHead = "datasets: {c: {kind: fashion_mnist, path: /nonexistent}}\n";
}  // namespace

TEST_CASE("the dq_cifar preset expands to DQ's documented CIFAR recipe", "[recipes]") {
  const auto ex = load_experiment(write_experiment(
      "preset", std::string(kHead) + "train: {preset: dq_cifar}\ngrid: {method: [random], ratio: [0.2]}\n"));
  REQUIRE(ex.cells.size() == 1);
  const TrainRecipe& section = *ex.cells[0].train;
  CHECK(section.epochs == 200);
  CHECK(section.lr == 0.1);
  CHECK(section.momentum == 0.9);
  CHECK(section.weight_decay == 5e-4);
  CHECK(section.crop_padding == 4);
  CHECK(section.batch_size == 128);
  CHECK(section.small_batch_size == 16);
  // The section written back as named values: the text of cell ids.
  const Params p = train_recipe_params(section);
  CHECK(p.get_string("arch") == "resnet18");
  CHECK(p.get_string("schedule") == "cosine");
  CHECK(p.get_string("augment") == "flip_crop");
  CHECK(p.get_string("normalize") == "cifar");
  const TrainRecipe r = section.at_ratio(0.2);
  CHECK(r.arch == Arch::ResNet18);
  CHECK(r.schedule == Schedule::Cosine);
  CHECK(r.augment == Augment::FlipCrop);
  CHECK(r.normalize == Normalize::Cifar);
  CHECK(r.batch_size == 128);
  CHECK(r.device.kind == DeviceSpec::Kind::Auto);

  // A preset written out key by key is the same cell.
  const auto written = load_experiment(write_experiment(
      "written", std::string(kHead) +
                     "train: {arch: resnet18, epochs: 200, batch_size: 128, small_batch_size: 16, small_batch_ratio: 0.1,"
                     " lr: 0.1, momentum: 0.9, weight_decay: 0.0005, schedule: cosine, augment: flip_crop, "
                     "crop_padding: 4, normalize: cifar}\ngrid: {method: [random], ratio: [0.2]}\n"));
  CHECK(written.cells[0].id() == ex.cells[0].id());
}

TEST_CASE("batch 16 at keep ratio <= 10% under dq_cifar, overrides win over the preset", "[recipes]") {
  const auto ex = load_experiment(write_experiment(
      "small", std::string(kHead) +
                   "train: {preset: dq_cifar, epochs: 20}\ngrid: {method: [random], ratio: [0.05, 0.1, 0.11, 1.0]}\n"));
  REQUIRE(ex.cells.size() == 4);
  std::vector<int64_t> batches;
  for (const auto& c : ex.cells) {
    CHECK(c.train->epochs == 20);
    batches.push_back(c.train->at_ratio(c.ratio).batch_size);
  }
  CHECK((batches == std::vector<int64_t>{16, 16, 128, 128}));
  // Without a small batch size the rule is off.
  const auto plain = load_experiment(write_experiment(
      "plain", std::string(kHead) + "train: {batch_size: 64}\ngrid: {method: [random], ratio: [0.05]}\n"));
  CHECK(plain.cells[0].train->at_ratio(0.05).batch_size == 64);
}

TEST_CASE("recipe keys added later leave existing cell ids alone while at their defaults", "[recipes]") {
  const auto ex = load_experiment(write_experiment(
      "ids", std::string(kHead) + "train: {epochs: 2}\ngrid: {method: [random], ratio: [0.5]}\n"));
  const std::string json = ex.cells[0].canonical_json();
  CHECK(json.find("small_batch") == std::string::npos);
  CHECK(json.find("normalize") == std::string::npos);
  CHECK(json.find("\"epochs\":2") != std::string::npos);
  const auto changed = load_experiment(write_experiment(
      "ids2", std::string(kHead) + "train: {epochs: 2, normalize: cifar}\ngrid: {method: [random], ratio: [0.5]}\n"));
  CHECK(changed.cells[0].id() != ex.cells[0].id());
}

TEST_CASE("recipe and device strings are parsed at the edge with clear errors", "[recipes]") {
  CHECK(parse_device("auto", "x").kind == DeviceSpec::Kind::Auto);
  CHECK(parse_device("cpu", "x").kind == DeviceSpec::Kind::Cpu);
  CHECK(parse_device("cuda", "x").index == 0);
  const DeviceSpec d = parse_device("cuda:3", "x");
  CHECK((d.kind == DeviceSpec::Kind::Cuda && d.index == 3 && d.text() == "cuda:3"));
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x"})
    CHECK_THROWS_WITH(parse_device(bad, "f.yaml:3:5"), Catch::Contains("f.yaml:3:5") && Catch::Contains("unknown device"));
  CHECK(parse_arch("resnet50_imagenet", "x") == Arch::ResNet50ImageNet);
  CHECK(std::string(arch_name(Arch::Vit)) == "vit");
  CHECK_THROWS_WITH(parse_arch("resnet34", "f.yaml:2:1"), Catch::Contains("f.yaml:2:1") && Catch::Contains("resnet50"));

  Params extractor("extractor", extractor_specs());
  CHECK(parse_extractor_options(extractor).kind == ExtractorKind::Proxy);  // the default
  for (const auto kind : {ExtractorKind::Proxy, ExtractorKind::TorchScript, ExtractorKind::None}) {
    extractor.set_from_text("kind", extractor_kind_name(kind), "x");
    CHECK(parse_extractor_options(extractor).kind == kind);
  }
  CHECK_THROWS_WITH(extractor.set_from_text("kind", "pretrained", "f.yaml:4:9"),
                    Catch::Contains("f.yaml:4:9") && Catch::Contains("proxy|torchscript|none"));

  const std::string bad_preset = write_experiment(
      "badpreset", std::string(kHead) + "train: {preset: dq_cifra}\ngrid: {method: [random], ratio: [0.2]}\n");
  CHECK_THROWS_WITH(load_experiment(bad_preset),
                    Catch::Contains(":2:17 (key 'preset'): unknown recipe preset 'dq_cifra'") && Catch::Contains("dq_cifar"));
  const std::string bad_device = write_experiment(
      "baddevice", std::string(kHead) + "train: {device: gpu0}\ngrid: {method: [random], ratio: [0.2]}\n");
  CHECK_THROWS_WITH(load_experiment(bad_device), Catch::Contains("(key 'train.device'): unknown device 'gpu0'"));
}

TEST_CASE("train and extractor sections: parsed once into typed options, written back to the same identity text",
          "[recipes]") {
  CHECK(train_recipe_params(TrainRecipe{}).canonical() == Params("train", train_recipe_specs()).canonical());
  CHECK(extractor_params(ExtractorOptions{}).canonical() == Params("extractor", extractor_specs()).canonical());
  Params t("train", train_recipe_specs());
  for (auto [k, v] : {std::pair{"arch", "airbench94"}, {"epochs", "7"}, {"small_batch_size", "16"}, {"lr", "0.3"},
                      {"schedule", "piecewise_linear"}, {"normalize", "cifar10"}, {"device", "cuda"}, {"budget", "steps"},
                      {"nesterov", "true"}, {"lookahead_every", "5"}, {"flip_mode", "alternating"},
                      {"padding_mode", "reflect"}, {"precision", "bf16"}, {"memory_format", "channels_last"}})
    t.set_from_text(k, v, "t");
  const TrainRecipe r = parse_train_recipe(t);
  CHECK((r.arch == Arch::Airbench94 && r.epochs == 7 && r.small_batch_size == 16 && r.lr == 0.3));
  CHECK((r.schedule == Schedule::PiecewiseLinear && r.normalize == Normalize::Cifar10 && r.budget == Budget::Steps));
  CHECK((r.nesterov && r.lookahead_every == 5 && r.flip_mode == FlipMode::Alternating &&
         r.padding_mode == PaddingMode::Reflect));
  CHECK((r.compute.precision == Precision::Bf16 && r.compute.memory_format == MemoryFormat::ChannelsLast));
  CHECK(r.device_text == "cuda");  // as written: "cuda:0" would be another cell id
  CHECK((r.device.kind == DeviceSpec::Kind::Cuda && r.device.index == 0));
  CHECK(train_recipe_params(r).canonical() == t.canonical());
  CHECK(r.at_ratio(0.1).batch_size == 16);
  CHECK(r.at_ratio(0.2).batch_size == 128);

  Params e("extractor", extractor_specs());
  for (auto [k, v] : {std::pair{"kind", "torchscript"}, {"path", "net.pt"}, {"layer", "features"}, {"seed", "3"},
                      {"normalize", "imagenet"}, {"threads", "2"}})
    e.set_from_text(k, v, "t");
  const ExtractorOptions o = parse_extractor_options(e);
  CHECK((o.kind == ExtractorKind::TorchScript && o.path == "net.pt" && o.layer == "features" && o.seed == 3));
  CHECK((o.recipe.normalize == Normalize::ImageNet && o.recipe.threads == 2));
  CHECK(extractor_params(o).canonical() == e.canonical());

  // What the rows cannot say is refused when parsed, naming the key.
  Params bad("train", train_recipe_specs());
  bad.set_from_text("nesterov", "true", "t");
  bad.set_from_text("momentum", "0", "t");
  CHECK_THROWS_WITH(parse_train_recipe(bad), Catch::Contains("(key 'nesterov')"));
}

TEST_CASE("the airbench94 preset expands to the published recipe and keeps older cell ids", "[recipes][airbench]") {
  const auto ex = load_experiment(write_experiment(
      "airbench", std::string(kHead) + "train: {preset: airbench94}\ngrid: {method: [random], ratio: [0.2]}\n"));
  const TrainRecipe r = ex.cells[0].train->at_ratio(0.2);
  CHECK(r.arch == Arch::Airbench94);
  CHECK(r.epochs + r.partial_epoch == Approx(9.9));
  CHECK(r.batch_size == 1024);
  CHECK((r.lr == 11.5 && r.momentum == 0.85 && r.weight_decay == 0.0153));
  CHECK((r.nesterov && r.decoupled && r.drop_last));
  CHECK(r.bn_bias_lr_scale == 64);
  CHECK(r.label_smoothing == 0.2);
  CHECK(r.loss_reduction == LossReduction::Sum);
  CHECK(r.schedule == Schedule::PiecewiseLinear);
  CHECK((r.lr_start == 0.2 && r.lr_peak_at == 0.23 && r.lr_end == 0.07));
  CHECK((r.lookahead_every == 5 && r.lookahead_decay == 0.95 && r.lookahead_power == 3 && r.lookahead_start_epoch == 3));
  CHECK((r.augment == Augment::FlipCrop && r.crop_padding == 2));
  CHECK((r.flip_mode == FlipMode::Alternating && r.padding_mode == PaddingMode::Reflect));
  CHECK(r.normalize == Normalize::Cifar10);
  CHECK((r.whiten_eps == 5e-4 && r.whiten_images == 5000 && r.whiten_bias_epochs == 3));
  CHECK(r.tta_level == 2);
  CHECK(r.budget == Budget::Epochs);
  CHECK(r.compute.memory_format == MemoryFormat::ChannelsLast);
  CHECK(r.compute.precision == Precision::Fp32);

  // The keys that came with it stay out of the ids of recipes that leave them at their defaults.
  const auto old = load_experiment(write_experiment(
      "old", std::string(kHead) + "train: {preset: cpu_small_cnn}\ngrid: {method: [random], ratio: [0.2]}\n"));
  const std::string json = old.cells[0].canonical_json();
  for (const char* key : {"\"budget\"", "nesterov", "tta_level", "lookahead", "precision", "memory_format", "partial_epoch"})
    CHECK(json.find(key) == std::string::npos);
  CHECK(json.find("\"memory_budget\"") != std::string::npos);  // the cell's own key, not the recipe's
  // Equal steps is another cell.
  const auto steps = load_experiment(write_experiment(
      "steps", std::string(kHead) + "train: {preset: airbench94, budget: steps}\ngrid: {method: [random], ratio: [0.2]}\n"));
  CHECK(steps.cells[0].id() != ex.cells[0].id());
  CHECK(steps.cells[0].train->budget == Budget::Steps);
  CHECK_THROWS_WITH(load_experiment(write_experiment("badbudget", std::string(kHead) +
                                                                      "train: {preset: airbench94, budget: images}\n"
                                                                      "grid: {method: [random], ratio: [0.2]}\n")),
                    Catch::Contains("budget") && Catch::Contains("epochs|steps"));
}

TEST_CASE("the step plan: equal epochs, equal steps, partial epochs, drop_last and min_steps", "[recipes][budget]") {
  CHECK(batches_per_epoch(50000, 1024, true) == 48);
  CHECK(batches_per_epoch(50000, 1024, false) == 49);
  CHECK(batches_per_epoch(500, 1024, true) == 1);  // the one partial batch is kept
  CHECK(batches_per_epoch(129, 128, false) == 1);  // a last batch of one image does not train
  CHECK(batches_per_epoch(0, 128, false) == 0);
  TrainRecipe r;
  r.batch_size = 1024;
  r.epochs = 9;
  r.partial_epoch = 0.9;
  r.drop_last = true;
  // The published full run: ceil(48 x 9.9) = 476 steps.
  const StepPlan full = plan_steps(r, 50000);
  CHECK(full.total_steps == 476);
  CHECK(full.epochs == 10);
  CHECK(full.epoch_steps == 48);
  // 20% at equal epochs: 9 batches per epoch, ceil(9 x 9.9) = 90 steps.
  const StepPlan epochs = plan_steps(r, 10000);
  CHECK((epochs.total_steps == 90 && epochs.epochs == 10 && epochs.epoch_steps == 9));
  // 20% at equal steps: the full run's 476 steps, ceil(476 / 9) = 53 passes; epochs counted in full-data steps.
  r.budget = Budget::Steps;
  r.full_train_samples = 50000;
  const StepPlan steps = plan_steps(r, 10000);
  CHECK((steps.total_steps == 476 && steps.epochs == 53 && steps.epoch_steps == 48));
  // The earlier recipes: whole epochs, min_steps tops small sets up in whole epochs.
  TrainRecipe old;
  old.batch_size = 128;
  old.epochs = 6;
  old.min_steps = 700;
  const StepPlan small = plan_steps(old, 5000);  // 40 batches: 18 epochs for 700 steps
  CHECK((small.total_steps == 720 && small.epochs == 18));
  const StepPlan big = plan_steps(old, 50000);  // 391 batches x 6
  CHECK((big.total_steps == 2346 && big.epochs == 6));
}

TEST_CASE("the piecewise-linear schedule and the lookahead decay match hand-computed values", "[recipes][schedule]") {
  // 476 steps, peak at floor(0.23 x 476) = 109.
  CHECK(piecewise_linear_factor(0, 476, 0.2, 0.23, 0.07) == Approx(0.2));
  CHECK(piecewise_linear_factor(54, 476, 0.2, 0.23, 0.07) == Approx(0.2 + 0.8 * 54.0 / 109.0));  // 0.596330
  CHECK(piecewise_linear_factor(54, 476, 0.2, 0.23, 0.07) == Approx(0.5963303));
  CHECK(piecewise_linear_factor(109, 476, 0.2, 0.23, 0.07) == Approx(1.0));
  CHECK(piecewise_linear_factor(300, 476, 0.2, 0.23, 0.07) == Approx(1.0 - 0.93 * 191.0 / 367.0));  // 0.515995
  CHECK(piecewise_linear_factor(300, 476, 0.2, 0.23, 0.07) == Approx(0.5159946));
  CHECK(piecewise_linear_factor(476, 476, 0.2, 0.23, 0.07) == Approx(0.07));
  // Through the recipe: the decoupled base rate times the factor.
  TrainRecipe r;
  r.schedule = Schedule::PiecewiseLinear;
  StepPlan plan;
  plan.total_steps = 476;
  CHECK(scheduled_lr(2.0, r, plan, 3, 109) == Approx(2.0));
  r.schedule = Schedule::Cosine;
  plan.epochs = 4;
  CHECK(scheduled_lr(0.1, r, plan, 2, 0) == Approx(0.05));  // 0.1 x 0.5 x (1 + cos(pi / 2))
  // 0.95^5 x (step / total)^3: 0.7737809375 at the end, x 0.125 at half way.
  CHECK(lookahead_decay_at(476, 476, 0.95, 5, 3) == Approx(0.7737809375));
  CHECK(lookahead_decay_at(238, 476, 0.95, 5, 3) == Approx(0.0967226171875));
  CHECK(lookahead_decay_at(150, 476, 0.95, 5, 3) == Approx(0.7737809375 * std::pow(150.0 / 476.0, 3)));
}
