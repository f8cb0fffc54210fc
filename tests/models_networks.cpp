// The networks against the reference architectures' parameter counts, their output shapes, the
// device check without CUDA or without a GPU, CPU determinism of training, and the TorchScript extractor.
#include <torch/script.h>
#include <torch/torch.h>
#undef CHECK  // LibTorch's glog-style CHECK would replace Catch's: include Catch after it
#include <catch2/catch.hpp>

#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/hashing.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "models/device_batch.h"
#include "models/extractor_network.h"
#include "models/models.h"
#include "models/networks.h"
#include "models_test_helpers.h"
#include "test_helpers.h"

using namespace dq;

namespace {

struct Expected {
  Arch arch;
  int64_t size, classes, parameters, feature_dim;
};

using test::learnable_images;

}  // namespace

TEST_CASE("networks match the reference architectures' parameter counts and output shapes", "[networks]") {
  // Reference counts: kuangliu/pytorch-cifar ResNet18/ResNet50 (CIFAR stem, 10 classes) and torchvision
  // resnet18/resnet50 (ImageNet, 1000 classes); the others are worked out by hand in models/README.md.
  const std::vector<Expected> cases = {
      {Arch::ResNet18, 32, 10, 11'173'962, 512},
      {Arch::ResNet18ImageNet, 224, 1000, 11'689'512, 512},
      {Arch::ResNet50, 32, 10, 23'520'842, 2048},
      {Arch::ResNet50ImageNet, 224, 1000, 25'557'032, 2048},
      {Arch::SmallCnn, 32, 10, 151'978, 128},
      {Arch::Vit, 32, 10, 2'693'578, 192},
  };
  torch::manual_seed(0);
  for (const auto& e : cases) {
    INFO(arch_name(e.arch));
    auto net = make_classifier(e.arch, 3, e.classes, e.size, e.size);
    CHECK(count_parameters(*net) == e.parameters);
    CHECK(net->feature_dim() == e.feature_dim);
    CHECK(describe_network(e.arch, 3, e.size, e.size, e.classes).parameters == e.parameters);
    // Shapes on a small input (the ImageNet stems accept any size thanks to global pooling).
    net->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, 3, 32, 32});
    CHECK((net->features(x).sizes().vec() == std::vector<int64_t>{2, e.feature_dim}));
    CHECK((net->forward(x).sizes().vec() == std::vector<int64_t>{2, e.classes}));
  }
  // The ViT code is timm's layout: ViT-Ti/16 at 224 px with 1000 classes has 5,717,416 parameters.
  auto vit_ti = make_vit(VitConfig{16, 192, 12, 3, 768}, 3, 1000, 224, 224);
  CHECK(count_parameters(*vit_ti) == 5'717'416);
  // Fashion-MNIST-sized input: 28 = 7 patches of 4; 30 px is not a multiple of the patch.
  CHECK((make_classifier(Arch::Vit, 1, 10, 28, 28)->forward(torch::randn({2, 1, 28, 28})).sizes().vec() ==
         std::vector<int64_t>{2, 10}));
  CHECK_THROWS_WITH(make_classifier(Arch::Vit, 3, 10, 30, 30), Catch::Contains("not a multiple of the 4-px patch"));
}

TEST_CASE("the CIFAR normalisation and crop-flip gather match torchvision's order of operations", "[networks]") {
  ImageSet s = learnable_images(2, 2, 4, 1);
  const Normalization cifar = normalization_for(Normalize::Cifar, s);
  CHECK((cifar.mean == std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  CHECK((cifar.stddev == std::vector<float>{0.2023f, 0.1994f, 0.2010f}));
  // Shift right and down by one (dy = dx = pad - 1 = 0 with pad 1), then flip.
  const int64_t ids[1] = {1};
  CropFlip cf{1, 0, 0, true};
  std::vector<float> out(static_cast<size_t>(s.image_bytes()));
  gather_images(s, ids, 1, cifar, &cf, out.data());
  const uint8_t* img = s.image(1);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 4; ++x) {
        // padded(y, x') with x' the unflipped column: source (y - 1, (3 - x) - 1); black outside.
        const int64_t sy = y - 1, sx = 3 - x - 1;
        const float pixel = sy >= 0 && sx >= 0 ? img[(c * 4 + sy) * 4 + sx] / 255.0f : 0.0f;
        CHECK(out[static_cast<size_t>((c * 4 + y) * 4 + x)] == Approx((pixel - cifar.mean[c]) / cifar.stddev[c]));
      }
  s.channels = 1;
  CHECK_THROWS_WITH(normalization_for(Normalize::ImageNet, s), Catch::Contains("3-channel"));
}

TEST_CASE("images normalised on the device equal the host normalisation bit for bit (CPU tensors)", "[networks][device]") {
  // The path a GPU batch takes (page-locked bytes, copy, normalise there), run with CPU tensors.
  const ImageSet s = learnable_images(5, 2, 9, 4);
  const Normalization cifar = normalization_for(Normalize::Cifar, s), own = normalization_for(Normalize::Dataset, s);
  for (const Normalization* norm : {&cifar, &own}) {
    const torch::Tensor host = images_to_tensor(s.image(0), 5, 3, 9, 9, *norm);
    const torch::Tensor device = images_to_device(s.image(0), 5, 3, 9, 9, *norm, torch::kCPU);
    CHECK(device.device() == torch::Device(torch::kCPU));
    CHECK(device.scalar_type() == torch::kFloat32);
    CHECK(torch::equal(host, device));
  }
  const torch::Tensor t = host_tensor({4}, torch::kInt64, torch::kCPU);
  CHECK_FALSE(t.is_pinned());  // page-locked only for a CUDA device
  CHECK(to_device(t, torch::kCPU).data_ptr() == t.data_ptr());  // no copy on the CPU
}

TEST_CASE("training on CPU is deterministic for a fixed seed and thread count", "[networks][determinism]") {
  const ImageSet train = learnable_images(96, 4, 16, 2), test = learnable_images(40, 4, 16, 3);
  TrainRecipe r;
  r.arch = Arch::SmallCnn;
  r.epochs = 2;
  r.batch_size = 32;
  r.lr = 0.05;
  r.momentum = 0.9;
  r.weight_decay = 5e-4;
  r.crop_padding = 2;
  r.threads = 2;
  r.device = parse_device("cpu", "test");
  const TrainResult a = train_and_evaluate(train, test, 4, r, 7, nullptr);
  const TrainResult b = train_and_evaluate(train, test, 4, r, 7, nullptr);
  const TrainResult c = train_and_evaluate(train, test, 4, r, 8, nullptr);
  CHECK(a.steps == 6);
  CHECK(a.final_train_loss == b.final_train_loss);  // bit for bit
  CHECK(a.final_top1 == b.final_top1);
  CHECK(a.final_train_loss != c.final_train_loss);
}

TEST_CASE("cuda without CUDA compiled in, or without a GPU, is an error naming the key before any cell runs",
          "[networks][device]") {
  const TorchBuild build = torch_build();
  if (build.cuda_devices > 0) return;  // a GPU machine: nothing to refuse (scripts/gpu-check.sh runs there)
  // Debian's LibTorch has no CUDA; the pip flavour has it compiled in, but this machine has no GPU.
  const std::string why = build.cuda.empty() ? "has no CUDA compiled in" : "no CUDA GPU is visible";
  CHECK(torch_version() == build.text());
  CHECK(torch_version().find(build.cuda.empty() ? "(CPU only)" : "(CUDA ") != std::string::npos);
  const auto dir = test::scratch_dir("device");
  const std::string head = "datasets: {c: {kind: fashion_mnist, path: /nonexistent}}\ngrid: {method: [random], ratio: [0.2]}\n";
  test::write_text(dir / "train.yaml", head + "train:\n  epochs: 1\n  device: cuda\n");
  CHECK_THROWS_WITH(load_experiment((dir / "train.yaml").string()),
                    Catch::Contains("train.yaml:5:11 (key 'train.device'): device 'cuda:0' requested") &&
                        Catch::Contains(why) && Catch::Contains(build.text()));
  test::write_text(dir / "top.yaml", head + "device: cuda:1\nextractor: {kind: proxy}\n");
  CHECK_THROWS_WITH(load_experiment((dir / "top.yaml").string()),
                    Catch::Contains("top.yaml:3:9 (key 'device'): device 'cuda:1' requested") && Catch::Contains(why));
  test::write_text(dir / "ok.yaml", head + "device: cpu\nextractor: {kind: proxy}\ntrain: {epochs: 1}\n");
  const Experiment ok = load_experiment((dir / "ok.yaml").string());
  CHECK(ok.cells[0].train->device_text == "cpu");
  CHECK(ok.cells[0].extractor->recipe.device_text == "cpu");
  CHECK(ok.cells[0].train->device.kind == DeviceSpec::Kind::Cpu);
  CHECK(to_torch_device(parse_device("auto", "x")) == torch::Device(torch::kCPU));
  CHECK_THROWS_WITH(resolve_device("cuda:0"), Catch::Contains(why));
}

TEST_CASE("the TorchScript extractor calls a named method or stops after a named child", "[networks][extractor]") {
  const auto dir = test::scratch_dir("torchscript");
  // A module whose forward is its children in order, as a torchvision ResNet's is: body, then head.
  torch::jit::Module body("Body"), head("Head"), root("Root");
  body.define("def forward(self, x):\n  return x.mean(dim=[2, 3]) * 2.0\n");
  head.register_parameter("w", torch::ones({3, 5}), false);
  head.define("def forward(self, x):\n  return x.matmul(self.w)\n");
  root.register_module("body", body);
  root.register_module("head", head);
  root.define(
      "def forward(self, x):\n  return self.head.forward(self.body.forward(x))\n"
      "def features(self, x):\n  return self.body.forward(x) + 1.0\n");
  const std::string path = (dir / "net.pt").string();
  root.save(path);

  Dataset ds;
  ds.kind = "test";
  ds.class_names = {"a", "b"};
  ds.train = learnable_images(6, 2, 8, 4);
  ds.test = learnable_images(2, 2, 8, 5);
  ds.fingerprint = "tiny";
  const auto params = [&](const std::string& layer) {
    Params p("extractor", extractor_specs());
    p.set_from_text("kind", "torchscript", "t");
    p.set_from_text("path", path, "t");
    p.set_from_text("normalize", "none", "t");
    if (!layer.empty()) p.set_from_text("layer", layer, "t");
    return parse_extractor_options(p);
  };
  const Embeddings full = compute_embeddings(ds, params(""), "", nullptr);
  const Embeddings cut = compute_embeddings(ds, params("body"), "", nullptr);
  const Embeddings method = compute_embeddings(ds, params("features"), "", nullptr);
  REQUIRE(full.d == 5);
  REQUIRE(cut.d == 3);
  REQUIRE(method.d == 3);
  for (int64_t c = 0; c < 3; ++c) {
    double sum = 0;
    for (int64_t k = 0; k < 64; ++k) sum += ds.train.image(0)[c * 64 + k] / 255.0;
    CHECK(cut.z[static_cast<size_t>(c)] == Approx(2 * sum / 64).epsilon(1e-5));
    CHECK(method.z[static_cast<size_t>(c)] == Approx(2 * sum / 64 + 1).epsilon(1e-5));
  }
  CHECK(full.z[0] == Approx(cut.z[0] + cut.z[1] + cut.z[2]).epsilon(1e-5));
  CHECK(full.key != cut.key);
  CHECK_THROWS_WITH(compute_embeddings(ds, params("fc"), "", nullptr),
                    Catch::Contains("no method or top-level child") && Catch::Contains("body, head"));
}

TEST_CASE("the proxy extractor's network and embeddings are keyed by content; the patch stage refuses another network",
          "[networks][extractor][artefacts]") {
  const auto dir = test::scratch_dir("extractor_artefacts");
  Dataset ds;
  ds.kind = "test";
  ds.class_names = {"a", "b"};
  ds.train = learnable_images(16, 2, 8, 4);
  ds.test = learnable_images(4, 2, 8, 5);
  const auto params = [&](const std::string& seed) {
    Params p("extractor", extractor_specs());
    p.set_from_text("epochs", "1", "t");
    p.set_from_text("batch_size", "8", "t");
    p.set_from_text("threads", "1", "t");
    p.set_from_text("seed", seed, "t");
    return parse_extractor_options(p);
  };
  const Embeddings first = compute_embeddings(ds, params("0"), dir.string(), nullptr);
  REQUIRE_FALSE(first.from_cache);
  const std::string pt = extractor_model_path(dir.string(), first.network.key);
  REQUIRE(std::filesystem::exists(pt));
  CHECK(first.network.kind == "extractor_network");
  CHECK(first.network.sha256 == sha256_file_hex(pt));  // hashed in memory, the same bytes as the file
  CHECK(first.sha256 == sha256_file_hex(embeddings_path(dir.string(), first.key)));
  CHECK(first.key == embeddings_key(ds, params("0"), first.network.sha256));

  // Served from the cache, with the same identities, without loading the network.
  const Embeddings again = compute_embeddings(ds, params("0"), dir.string(), nullptr);
  CHECK(again.from_cache);
  CHECK(again.sha256 == first.sha256);
  CHECK(again.network.sha256 == first.network.sha256);
  CHECK(again.network.from_cache);

  // The network file replaced by another network's bytes (a retraining under the same key): the
  // embeddings are made anew under another key, and loading it for the patch stage with the old
  // embeddings' network hash is refused.
  const Embeddings other = compute_embeddings(ds, params("1"), (dir / "other").string(), nullptr);
  std::filesystem::copy_file(extractor_model_path((dir / "other").string(), other.network.key), pt,
                             std::filesystem::copy_options::overwrite_existing);
  const Embeddings after = compute_embeddings(ds, params("0"), dir.string(), nullptr);
  CHECK(after.network.sha256 == other.network.sha256);
  CHECK(after.key != first.key);
  CHECK_FALSE(after.from_cache);
  CHECK_THROWS_WITH(load_extractor_network(ds, params("0"), dir.string(), nullptr, first.network.sha256),
                    Catch::Contains("not the one the embeddings were made from"));
  CHECK_NOTHROW(load_extractor_network(ds, params("0"), dir.string(), nullptr, after.network.sha256));
}
