// Training recipes as the experiment parser sees them: presets, the small-coreset batch rule, enums
// parsed at the edge, the device key, and cell ids that survive the keys added for them.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "harness/experiment.h"
#include "models/models.h"
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
  const Params& p = *ex.cells[0].train;
  CHECK(p.get_string("arch") == "resnet18");
  CHECK(p.get_int("epochs") == 200);
  CHECK(p.get_double("lr") == 0.1);
  CHECK(p.get_double("momentum") == 0.9);
  CHECK(p.get_double("weight_decay") == 5e-4);
  CHECK(p.get_string("schedule") == "cosine");
  CHECK(p.get_string("augment") == "flip_crop");
  CHECK(p.get_int("crop_padding") == 4);
  CHECK(p.get_string("normalize") == "cifar");
  CHECK(p.get_int("batch_size") == 128);
  const TrainRecipe r = train_recipe_from(p, 0.2);
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
    CHECK(c.train->get_int("epochs") == 20);
    batches.push_back(train_recipe_from(*c.train, c.ratio).batch_size);
  }
  CHECK((batches == std::vector<int64_t>{16, 16, 128, 128}));
  // Without a small batch size the rule is off.
  const auto plain = load_experiment(write_experiment(
      "plain", std::string(kHead) + "train: {batch_size: 64}\ngrid: {method: [random], ratio: [0.05]}\n"));
  CHECK(train_recipe_from(*plain.cells[0].train, 0.05).batch_size == 64);
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
  CHECK(parse_extractor_kind(extractor) == ExtractorKind::Proxy);  // the default
  for (const auto kind : {ExtractorKind::Proxy, ExtractorKind::TorchScript, ExtractorKind::None}) {
    extractor.set_from_text("kind", extractor_kind_name(kind), "x");
    CHECK(parse_extractor_kind(extractor) == kind);
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
