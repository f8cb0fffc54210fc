// The airbench94 network and recipe (issue 19): whitening filters whiten, Dirac-initialised convs
// start as the identity, test-time augmentation of an input-blind network equals plain inference,
// the lookahead EMA's arithmetic, reflect padding, crops and flips on the device equal the host's (one
// batch, and one epoch's weights), CPU determinism of the recipe, the equal-steps
// protocol's step count on a subset, and the recipe as a proxy extractor with the patch stage (SPD,
// MAE) end to end.
// LibTorch first: its logging header defines a glog-style CHECK that would silently replace Catch's.
#include <torch/torch.h>

#include "models/airbench94.h"
#include "models/device_batch.h"
#include "models/evaluation.h"
#include "models/lookahead.h"
#include "models/networks.h"
#include "models/schedule.h"
#undef CHECK

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "core/rng.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "models_test_helpers.h"
#include "test_helpers.h"

using namespace dq;

using test::learnable_images;
using test::tiny_airbench_recipe;

namespace {

// Second moment of the first `k` whitening outputs over all patch positions: K x K.
torch::Tensor whitened_covariance(const torch::Tensor& images, const torch::Tensor& filters, int64_t k) {
  const auto y = torch::conv2d(images.to(torch::kFloat64), filters.narrow(0, 0, k).to(torch::kFloat64));
  const auto rows = y.permute({0, 2, 3, 1}).reshape({-1, k});
  return rows.t().matmul(rows) / static_cast<double>(rows.size(0));
}

}  // namespace

TEST_CASE("whitening filters whiten the patches of the images they were computed from", "[recipe][whitening]") {
  torch::manual_seed(3);
  // Correlated channels and neighbouring pixels: a smoothed noise image mixed across channels.
  auto base = torch::randn({64, 3, 17, 17});
  auto smooth = (base.slice(2, 0, 16).slice(3, 0, 16) + base.slice(2, 1, 17).slice(3, 1, 17)) * 0.7;
  const auto mix = torch::tensor({1.0f, 0.5f, 0.2f, 0.3f, 1.0f, 0.4f, 0.1f, 0.6f, 1.0f}).view({3, 3});
  const auto images = torch::einsum("cd,ndhw->nchw", {mix, smooth}).contiguous();
  const int64_t dims = 3 * 2 * 2;

  // With a negligible eps the whitened covariance is the identity.
  const auto filters = whitening_filters(images, 2, 1e-9);
  REQUIRE(filters.sizes() == torch::IntArrayRef({2 * dims, 3, 2, 2}));
  const auto cov = whitened_covariance(images, filters, dims);
  CHECK((cov - torch::eye(dims, torch::kFloat64)).abs().max().item<double>() < 1e-3);
  // The second half is the first negated (the published 24 filters for 3 channels).
  CHECK(torch::equal(filters.narrow(0, dims, dims), -filters.narrow(0, 0, dims)));

  // With the recipe's eps the covariance is diag(lambda / (lambda + eps)), eigenvalues descending.
  const double eps = 0.05;
  const auto regularised = whitened_covariance(images, whitening_filters(images, 2, eps), dims);
  const auto patches = images.to(torch::kFloat64).unfold(2, 2, 1).unfold(3, 2, 1).permute({0, 2, 3, 1, 4, 5}).reshape({-1, dims});
  const auto lambda = std::get<0>(at::linalg_eigh(patches.t().matmul(patches) / double(patches.size(0)), "U")).flip({0});
  const auto expected = torch::diag(lambda / (lambda + eps));
  CHECK((regularised - expected).abs().max().item<double>() < 1e-3);
  CHECK(lambda[0].item<double>() > lambda[dims - 1].item<double>());
}

TEST_CASE("a fresh airbench94 conv is the identity on its first channels", "[recipe][dirac]") {
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(5, 8, 3).padding(1).bias(false));
  const auto before = conv->weight.detach().clone();
  dirac_first_filters(conv->weight);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 5, 6, 6});
  const auto y = conv->forward(x);
  CHECK(torch::allclose(y.narrow(1, 0, 5), x, 1e-6, 1e-6));
  CHECK(torch::equal(conv->weight.narrow(0, 5, 3), before.narrow(0, 5, 3)));  // the other filters keep theirs
  CHECK(!torch::allclose(y.narrow(1, 5, 3), torch::zeros({2, 3, 6, 6})));

  // Every 3x3 conv of the network starts that way.
  auto net = make_classifier(Arch::Airbench94, 3, 10, 32, 32);
  int64_t convs = 0;
  for (const auto& item : net->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& w = item.value();
    if (w.dim() != 4 || name.find("whiten") != std::string::npos) continue;
    ++convs;
    INFO(name);
    const int64_t in = w.size(1);
    auto ident = torch::zeros({in, in, 3, 3});
    for (int64_t i = 0; i < in; ++i) ident[i][i][1][1] = 1;
    CHECK(torch::equal(w.narrow(0, 0, in), ident));
  }
  CHECK(convs == 6);
}

TEST_CASE("airbench94 has the published layout and parameter count", "[recipe][networks]") {
  // By hand (models/README.md): whitening bias 24 (its 288 weights are fixed), convs 24*64*9 + 64*64*9 +
  // 64*256*9 + 256*256*9 + 2*256*256*9 = 1,967,616, BatchNorm biases 2*(64+256+256) = 1,152 (scales
  // fixed at 1), head 256*10 = 2,560.
  auto net = make_classifier(Arch::Airbench94, 3, 10, 32, 32);
  CHECK(count_parameters(*net) == 24 + 1'967'616 + 1'152 + 2'560);
  CHECK(net->feature_dim() == 256);
  torch::NoGradGuard no_grad;
  net->eval();
  const auto x = torch::randn({2, 3, 32, 32});
  CHECK((net->feature_map(x).sizes().vec() == std::vector<int64_t>{2, 256, 3, 3}));
  CHECK((net->forward(x).sizes().vec() == std::vector<int64_t>{2, 10}));
  // Any channels and classes (Fashion-MNIST's 28 px, CIFAR-100), not under 9 px.
  CHECK((make_classifier(Arch::Airbench94, 1, 100, 28, 28)->forward(torch::randn({2, 1, 28, 28})).sizes().vec() ==
         std::vector<int64_t>{2, 100}));
  CHECK_THROWS_WITH(make_classifier(Arch::Airbench94, 3, 10, 8, 8), Catch::Contains("too small"));
}

namespace {
// A network whose logits do not depend on its input.
struct InputBlind : ClassifierImpl {
  torch::Tensor logits = torch::tensor({0.3f, -1.7f, 2.9f});
  torch::Tensor features(torch::Tensor x) override { return torch::zeros({x.size(0), 1}); }
  torch::Tensor classify(torch::Tensor f) override { return logits.expand({f.size(0), 3}) + f; }
  int64_t feature_dim() const override { return 1; }
};
// A network whose logit is a fixed weighted sum of its input's pixels.
struct PixelSum : ClassifierImpl {
  torch::Tensor weight;
  explicit PixelSum(torch::Tensor w) : weight(std::move(w)) {}
  torch::Tensor features(torch::Tensor x) override { return (x * weight).sum({1, 2, 3}).unsqueeze(1); }
  torch::Tensor classify(torch::Tensor f) override { return f; }
  int64_t feature_dim() const override { return 1; }
};
}  // namespace

TEST_CASE("test-time augmentation of an input-blind network equals plain inference", "[recipe][tta]") {
  InputBlind blind;
  const auto x = torch::randn({4, 3, 8, 8});
  const ComputeOptions fp32;
  for (int64_t level : {0, 1, 2}) {
    torch::Tensor plain;
    const auto tta = tta_logits(blind, x, level, fp32, torch::kCPU, &plain);
    CHECK(torch::equal(tta, plain));
    CHECK(torch::equal(plain, blind.logits.expand({4, 3})));
  }
  // A network that sees its input: the level-2 average of the six views, worked out by hand.
  torch::manual_seed(1);
  PixelSum sum(torch::randn({1, 1, 4, 4}));
  const auto img = torch::randn({1, 1, 4, 4});
  const auto f = [&](const torch::Tensor& v) { return (v * sum.weight).sum().item<double>(); };
  // Reflect padding by one: row/column -1 is row/column 1. Down-right: padded rows/cols 0..3.
  const auto padded = torch::reflection_pad2d(img, {1, 1, 1, 1});
  const auto dr = padded.slice(2, 0, 4).slice(3, 0, 4), ul = padded.slice(2, 2, 6).slice(3, 2, 6);
  CHECK(dr[0][0][0][0].item<float>() == img[0][0][1][1].item<float>());
  CHECK(ul[0][0][3][3].item<float>() == img[0][0][2][2].item<float>());
  const auto m = [&](const torch::Tensor& v) { return 0.5 * f(v) + 0.5 * f(v.flip({3})); };
  const double expected = 0.5 * m(img) + 0.25 * (m(dr) + m(ul));
  CHECK(tta_logits(sum, img, 2, fp32, torch::kCPU).item<double>() == Approx(expected).epsilon(1e-6));
  CHECK(tta_logits(sum, img, 1, fp32, torch::kCPU).item<double>() == Approx(m(img)).epsilon(1e-6));
}

TEST_CASE("the lookahead EMA averages, copies back, and leaves integer buffers alone", "[recipe][lookahead]") {
  torch::nn::BatchNorm1d bn(2);
  torch::NoGradGuard no_grad;
  bn->weight.fill_(1.0);
  LookaheadEma ema(*bn);
  bn->weight.fill_(3.0);
  bn->num_batches_tracked.fill_(7);
  ema.update(0.25);  // 0.25 * 1 + 0.75 * 3
  CHECK(bn->weight[0].item<float>() == Approx(2.5));
  bn->weight.fill_(9.0);
  ema.update(1.0);  // back to the average
  CHECK(bn->weight[1].item<float>() == Approx(2.5));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 7);
}

TEST_CASE("reflect padding mirrors the image about its edge pixels before the crop", "[recipe][augment]") {
  ImageSet s;
  s.n = 1;
  s.channels = 1;
  s.height = s.width = 4;
  s.pixels = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33};
  s.labels = {0};
  const Normalization none = normalization_for(Normalize::None, s);
  const int64_t id = 0;
  std::vector<float> out(16);
  CropFlip cf{2, 0, 4, false, true};  // shifted down by 2 and left by 2: rows -2, -1, 0, 1; columns 2..5
  gather_images(s, &id, 1, none, &cf, out.data());
  // Row -2 mirrors to row 2, -1 to 1; column 4 mirrors to 2, column 5 to 1.
  const std::vector<int> rows = {2, 1, 0, 1}, cols = {2, 3, 2, 1};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) CHECK(out[y * 4 + x] * 255.0f == Approx(10 * rows[y] + cols[x]));
  cf.flip = true;  // the flip reads the crop right to left
  gather_images(s, &id, 1, none, &cf, out.data());
  for (int x = 0; x < 4; ++x) CHECK(out[x] * 255.0f == Approx(10 * rows[0] + cols[3 - x]));
}

TEST_CASE("crops and flips applied on the device equal the host's gather bit for bit", "[recipe][augment]") {
  // Odd sizes, padding up to twice the side (reflect folds more than once), both padding modes.
  ImageSet s = learnable_images(12, 3, 5, 4);
  s.width = 7;
  s.height = 3;  // 3 x 7 x 3 = 63 bytes each: reinterpret the 75-byte images' pixels
  s.pixels.resize(static_cast<size_t>(s.n * s.image_bytes()));
  const Normalization norm = normalization_for(Normalize::Dataset, s);
  Rng rng(11);
  std::vector<int64_t> ids(static_cast<size_t>(s.n));
  std::vector<CropFlip> crops(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    ids[k] = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(s.n)));  // repeats allowed
    CropFlip& cf = crops[k];
    cf.pad = static_cast<int64_t>(rng.uniform_below(7));
    cf.dy = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * cf.pad + 1)));
    cf.dx = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * cf.pad + 1)));
    cf.flip = rng.uniform_below(2) == 1;
    cf.reflect = rng.uniform_below(2) == 1;
  }
  const auto count = static_cast<int64_t>(ids.size());
  for (const CropFlip* table : {static_cast<const CropFlip*>(crops.data()), static_cast<const CropFlip*>(nullptr)}) {
    auto host = torch::empty({count, s.channels, s.height, s.width}, torch::kFloat32);
    gather_images(s, ids.data(), count, norm, table, host.data_ptr<float>());
    const torch::Tensor device = augmented_images_to_device(s, ids.data(), count, norm, table, torch::kCPU);
    REQUIRE(device.sizes() == host.sizes());
    CHECK(torch::equal(device, host));
  }
}

TEST_CASE("one epoch with crops and flips on the device trains the same weights as on the host", "[recipe][augment]") {
  const ImageSet train = learnable_images(96, 4, 32, 2), test = learnable_images(20, 4, 32, 3);
  TrainRecipe airbench = tiny_airbench_recipe();  // reflect padding, alternating flips
  TrainRecipe plain = airbench;                   // constant padding, a coin per image
  plain.arch = Arch::SmallCnn;
  plain.padding_mode = PaddingMode::Constant;
  plain.flip_mode = FlipMode::Random;
  plain.crop_padding = 4;
  for (const TrainRecipe& r : {airbench, plain}) {
    std::vector<std::vector<torch::Tensor>> weights;
    std::vector<double> losses;
    for (AugmentOn where : {AugmentOn::Host, AugmentOn::Device}) {
      torch::manual_seed(5);
      auto model = make_classifier(r.arch, train.channels, 4, train.height, train.width);
      losses.push_back(train_model_in_place(*model, train, test, r, 5, torch::kCPU, nullptr, where).final_train_loss);
      weights.emplace_back();
      for (const auto& p : model->parameters()) weights.back().push_back(p.detach().clone());
    }
    CHECK(losses[0] == losses[1]);
    REQUIRE(weights[0].size() == weights[1].size());
    for (size_t i = 0; i < weights[0].size(); ++i) CHECK(torch::equal(weights[0][i], weights[1][i]));
  }
}

TEST_CASE("one epoch of the airbench94 recipe on a tiny set is deterministic", "[recipe][determinism]") {
  const ImageSet train = learnable_images(96, 4, 32, 2), test = learnable_images(40, 4, 32, 3);
  TrainRecipe r = tiny_airbench_recipe();
  r.lookahead_start_epoch = 0;  // exercise the EMA within the one epoch (3 steps: at step 5 it would start)
  r.lookahead_every = 1;
  r.whiten_bias_epochs = 0;
  const TrainResult a = train_and_evaluate(train, test, 4, r, 7, nullptr);
  const TrainResult b = train_and_evaluate(train, test, 4, r, 7, nullptr);
  const TrainResult c = train_and_evaluate(train, test, 4, r, 8, nullptr);
  CHECK(a.steps == 3);
  CHECK(a.final_train_loss == b.final_train_loss);  // bit for bit
  CHECK(a.final_top1 == b.final_top1);
  CHECK(a.final_top1_tta == b.final_top1_tta);
  CHECK(a.final_top1_tta >= 0);
  CHECK(a.final_train_loss != c.final_train_loss);
  r.tta_level = 0;
  CHECK(train_and_evaluate(train, test, 4, r, 7, nullptr).final_top1_tta == -1);
}

TEST_CASE("the equal-steps protocol trains a subset for exactly the full-data step count", "[recipe][budget]") {
  const ImageSet full = learnable_images(96, 4, 32, 5), test = learnable_images(20, 4, 32, 6);
  TrainRecipe r = tiny_airbench_recipe();
  r.partial_epoch = 0.5;  // 1.5 epochs: the full set's 3 batches of 32 -> ceil(4.5) = 5 steps
  r.full_train_samples = full.n;
  r.budget = Budget::Steps;
  const TrainResult on_full = train_and_evaluate(full, test, 4, r, 1, nullptr);
  CHECK(on_full.steps == 5);
  // A 40-image subset has one full batch per epoch (the rest dropped): 5 epochs to take the 5 steps.
  std::vector<int64_t> ids(40);
  for (int64_t i = 0; i < 40; ++i) ids[static_cast<size_t>(i)] = 2 * i;
  const ImageSet subset = full.subset(ids);
  const TrainResult steps = train_and_evaluate(subset, test, 4, r, 1, nullptr);
  CHECK(steps.steps == on_full.steps);
  CHECK(steps.budget_steps == 5);
  CHECK(steps.epochs == 5);
  // Equal epochs on the same subset: ceil(1 x 1.5) = 2 steps in 2 epochs.
  r.budget = Budget::Epochs;
  const TrainResult epochs = train_and_evaluate(subset, test, 4, r, 1, nullptr);
  CHECK(epochs.steps == 2);
  CHECK(epochs.epochs == 2);
}

TEST_CASE("the airbench94 proxy extractor serves embeddings, GradCAM++, SPD and the MAE unchanged", "[e2e][recipe]") {
  const auto dir = test::scratch_dir("e2e_airbench_proxy");
  const std::string yaml = fmt::format(R"Y(name: airbench_proxy
database: {0}/results/proxy.db
cache_dir: {0}/cache
memory_budget: 4GiB
timeout: 10m
threads: 2
datasets:
  tiny: {{kind: synthetic_images, classes: 3, train_per_class: 40, test_per_class: 10, image_size: 32}}
extractor: {{kind: proxy, preset: airbench94, epochs: 1, partial_epoch: 0, batch_size: 32, whiten_images: 64}}
train: {{preset: airbench94, epochs: 1, partial_epoch: 0, batch_size: 16, whiten_images: 64}}
patches: {{batch: 16, reconstruct: mae, mae_dim: 16, mae_depth: 1, mae_decoder_dim: 16, mae_decoder_depth: 1, mae_heads: 2, mae_epochs: 1}}
grid:
  method: ["bgfdq(k=5,spd=on)", "bgfdq(k=5,theta=0.25)", random]
  ratio: [0.5]
)Y",
                                       dir.string());
  const test::ExperimentRun run = test::run_yaml_experiment(dir, "proxy.yaml", yaml);
  INFO(run.log);
  REQUIRE(run.summary.done == 3);
  Store store(run.experiment.database);
  for (const auto& row : store.cells("airbench_proxy")) {
    INFO(row.method);
    CHECK(test::cell_metric(store, row.cell_id, "top1_tta") >= 0);
    CHECK(test::cell_metric(store, row.cell_id, "top1") >= 0);
    if (row.method == "random") continue;
    CHECK(test::cell_metric(store, row.cell_id, "embed_dim") == 256);  // the layer before the head
    // The extractor's own accuracy, recorded by the cell that trained it and by those reading its cache.
    CHECK(test::cell_metric(store, row.cell_id, "extractor_top1") >= 0);
    CHECK(test::cell_metric(store, row.cell_id, "extractor_top1_tta") >= 0);
    CHECK(test::cell_metric(store, row.cell_id, "patches_per_image") == 64);  // 8 x 8 patches of 4 px
    if (row.method.find("spd=on") != std::string::npos) CHECK(test::cell_metric(store, row.cell_id, "spd_mean_drop") >= 0);
  }
}
