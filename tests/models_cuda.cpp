// The CUDA-only tests (tag [cuda]; README "GPU"): the same computation on the GPU and on the CPU
// agrees. Without a GPU they skip with a warning, unless DQ_REQUIRE_CUDA=1 (scripts/gpu-check.sh sets
// it on the GPU machine), where a missing GPU fails them. The code paths they cover run with CPU
// tensors in the other tests, so CI exercises them without a GPU.
#include <torch/script.h>
#include <torch/torch.h>
#undef CHECK  // LibTorch's glog-style CHECK would replace Catch's: include Catch after it
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "core/rng.h"
#include "datasets/dataset.h"
#include "models/device_batch.h"
#include "models/models.h"
#include "models/networks.h"
#include "models_test_helpers.h"
#include "test_helpers.h"

using namespace dq;

namespace {

// True when a CUDA GPU is there; otherwise skips (a warning) or, with DQ_REQUIRE_CUDA=1, fails.
bool have_cuda() {
  if (torch_build().cuda_devices > 0) return true;
  const char* require = std::getenv("DQ_REQUIRE_CUDA");
  if (require && std::string(require) == "1") FAIL("DQ_REQUIRE_CUDA=1 but no CUDA GPU is visible to LibTorch " + torch_version());
  WARN("no CUDA GPU visible to LibTorch " + torch_version() + ": skipped");
  return false;
}

Dataset random_rgb_images(int64_t n, int64_t side) {
  Dataset d;
  d.kind = "test";
  d.class_names = {"a", "b"};
  d.fingerprint = "cuda-test-images";
  Rng rng(5);
  for (ImageSet* s : {&d.train, &d.test}) {
    s->n = n;
    s->channels = 3;
    s->height = s->width = side;
    for (int64_t k = 0; k < n * 3 * side * side; ++k) s->pixels.push_back(static_cast<uint8_t>(rng.uniform_below(256)));
    for (int64_t i = 0; i < n; ++i) s->labels.push_back(i % 2);
  }
  return d;
}

}  // namespace

TEST_CASE("embeddings on cuda equal the CPU's within tolerance (a TorchScript extractor)", "[cuda]") {
  if (!have_cuda()) return;
  const auto dir = test::scratch_dir("cuda_embeddings");
  torch::manual_seed(0);
  torch::jit::Module m("ConvNet");
  m.register_parameter("w1", torch::randn({32, 3, 3, 3}) * 0.2, false);
  m.register_parameter("w2", torch::randn({64, 32, 3, 3}) * 0.06, false);
  m.define(R"(
def forward(self, x):
    h = torch.relu(torch.conv2d(x, self.w1, None, 1, 1))
    h = torch.relu(torch.conv2d(h, self.w2, None, 2, 1))
    return h.mean(dim=[2, 3])
)");
  const std::string path = (dir / "net.pt").string();
  m.save(path);
  const Dataset d = random_rgb_images(300, 32);  // more than one batch of 128
  const auto embed = [&](const std::string& device) {
    Params p("extractor", extractor_specs());
    p.set_from_text("kind", "torchscript", "test");
    p.set_from_text("path", path, "test");
    p.set_from_text("normalize", "imagenet", "test");
    p.set_from_text("device", device, "test");
    return compute_embeddings(d, parse_extractor_options(p), "", nullptr);
  };
  const Embeddings cpu = embed("cpu"), gpu = embed("cuda");
  REQUIRE(gpu.n == cpu.n);
  REQUIRE(gpu.d == cpu.d);
  // TF32 or bf16 convolutions on the GPU: agreement to a relative 2e-2 of each row's norm.
  for (int64_t i = 0; i < cpu.n; ++i) {
    double diff = 0, norm = 0;
    for (int64_t k = 0; k < cpu.d; ++k) {
      const double a = cpu.z[static_cast<size_t>(i * cpu.d + k)], b = gpu.z[static_cast<size_t>(i * cpu.d + k)];
      diff += (a - b) * (a - b);
      norm += a * a;
    }
    INFO("row " << i);
    CHECK(std::sqrt(diff) <= 2e-2 * std::sqrt(norm));
  }
}

TEST_CASE("images normalised on cuda equal the host normalisation bit for bit; host batches are page-locked", "[cuda]") {
  if (!have_cuda()) return;
  const Dataset d = random_rgb_images(7, 11);
  const Normalization norm = normalization_for(Normalize::Dataset, d.train);
  const torch::Tensor host = images_to_tensor(d.train.image(0), 7, 3, 11, 11, norm);
  const torch::Tensor gpu = images_to_device(d.train.image(0), 7, 3, 11, 11, norm, torch::Device(torch::kCUDA, 0));
  CHECK(gpu.is_cuda());
  CHECK(torch::equal(host, gpu.to(torch::kCPU)));
  CHECK(host_tensor({3}, torch::kFloat32, torch::Device(torch::kCUDA, 0)).is_pinned());
}

TEST_CASE("a bf16 training epoch on cuda is finite and close to fp32", "[cuda]") {
  if (!have_cuda()) return;
  // The airbench94 recipe cut to one epoch of 3 steps on 96 learnable images: bf16 autocast against
  // fp32 from the same initial weights, both on the GPU. bf16 keeps 8 significant bits, so over 3 steps
  // the loss stays within a few percent and every weight finite; a wrong cast (bf16 master weights,
  // an unscaled loss) would show as NaN or a loss far off.
  const ImageSet train = test::learnable_images(96, 4, 32, 2), test_set = test::learnable_images(32, 4, 32, 3);
  TrainRecipe r = test::tiny_airbench_recipe();
  const torch::Device cuda(torch::kCUDA, 0);
  std::vector<double> losses;
  for (Precision precision : {Precision::Fp32, Precision::Bf16}) {
    r.compute.precision = precision;
    torch::manual_seed(3);
    auto model = make_classifier(r.arch, train.channels, 4, train.height, train.width);
    model->to(cuda);
    const TrainResult result = train_model_in_place(*model, train, test_set, r, 3, cuda, nullptr);
    CHECK(result.steps == 3);
    for (const auto& w : model->parameters()) REQUIRE(torch::isfinite(w).all().item<bool>());
    CHECK(std::isfinite(result.final_train_loss));
    losses.push_back(result.final_train_loss);
  }
  CHECK(std::abs(losses[1] - losses[0]) <= 0.05 * std::abs(losses[0]));
}
