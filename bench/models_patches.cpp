// The patch stage's network costs, side by side in one run (images/s): GradCAM++ ranking and
// embedding with the CPU recipe's extractor (small CNN, 32 px), mean-fill and in-project-MAE
// reconstruction at theta = 0.25 on the 8 x 8 grid. SPD costs 1 ranking + 9 reconstructions +
// 10 embeddings per candidate, so these rates bound its throughput. Built as dq_bench_models.
#include <benchmark/benchmark.h>

#include "datasets/dataset.h"
#include "models/gradcam.h"
#include "models/mae.h"
#include "models/networks.h"
#include "patching/patch_stage.h"
#include "patching/patches.h"

namespace {

constexpr int64_t kBatch = 128;

dq::Dataset bench_images(int64_t n) {
  dq::Dataset d;
  d.kind = "bench";
  d.class_names = {"a", "b"};
  d.fingerprint = "bench-images";
  for (dq::ImageSet* s : {&d.train, &d.test}) {
    s->n = n;
    s->channels = 3;
    s->height = s->width = 32;
    for (int64_t i = 0; i < n * 3 * 32 * 32; ++i) s->pixels.push_back(static_cast<uint8_t>((i * 2654435761u) >> 24));
    s->labels.assign(static_cast<size_t>(n), 0);
  }
  return d;
}

const std::vector<float> kMean = {0.5f, 0.5f, 0.5f}, kStd = {0.25f, 0.25f, 0.25f};

void BM_GradCamPP(benchmark::State& state) {
  torch::manual_seed(0);
  auto net = dq::make_classifier("small_cnn", 3, 10);
  net->eval();
  const dq::Dataset d = bench_images(kBatch);
  const auto x = dq::images_to_tensor(d.train.pixels.data(), kBatch, 3, 32, 32, dq::Normalization{kMean, kStd});
  for (auto _ : state) {
    auto a = net->feature_map(x);
    auto s = net->classify_map(a);
    benchmark::DoNotOptimize(dq::gradcampp(a, s, s.detach().argmax(1), 8, 8));
  }
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GradCamPP)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Embed(benchmark::State& state) {
  torch::manual_seed(0);
  auto net = dq::make_classifier("small_cnn", 3, 10);
  net->eval();
  const dq::Dataset d = bench_images(kBatch);
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const auto x = dq::images_to_tensor(d.train.pixels.data(), kBatch, 3, 32, 32, dq::Normalization{kMean, kStd});
    benchmark::DoNotOptimize(net->features(x));
  }
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Embed)->Unit(benchmark::kMillisecond)->UseRealTime();

std::vector<uint8_t> cam_like_masks(int64_t n, int64_t p, int64_t keep) {
  std::vector<uint8_t> m;
  dq::Rng rng(1);
  for (int64_t i = 0; i < n; ++i) {
    auto one = dq::random_patch_mask(p, keep, rng);
    m.insert(m.end(), one.begin(), one.end());
  }
  return m;
}

void BM_MeanFill(benchmark::State& state) {
  const dq::Dataset d = bench_images(kBatch);
  const auto grid = dq::PatchGrid::for_image(32, 32, 0, "bench");
  const auto masks = cam_like_masks(kBatch, grid.count(), dq::kept_patch_count(grid.count(), 0.25));
  const std::vector<uint8_t> fill = {125, 123, 114};
  std::vector<uint8_t> pixels = d.train.pixels;
  for (auto _ : state)
    for (int64_t i = 0; i < kBatch; ++i)
      dq::fill_dropped_patches(pixels.data() + i * 3072, 3, 32, 32, grid,
                               std::span(masks).subspan(static_cast<size_t>(i * 64), 64), fill);
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MeanFill)->Unit(benchmark::kMillisecond)->UseRealTime();

// The MAE size of experiments/cpu/cifar10_spd_mae.yaml (width 32); trained one epoch on 128 images
// only so that it exists: the cost of a forward pass does not depend on the weights.
void BM_MaeReconstruct(benchmark::State& state) {
  const dq::Dataset d = bench_images(kBatch);
  const auto grid = dq::PatchGrid::for_image(32, 32, 0, "bench");
  dq::Params p("patches", dq::patch_specs());
  for (auto [k, v] : {std::pair{"mae_dim", "32"}, {"mae_depth", "2"}, {"mae_decoder_dim", "32"}, {"mae_decoder_depth", "1"},
                      {"mae_heads", "4"}, {"mae_epochs", "1"}})
    p.set_from_text(k, v, "bench");
  auto mae = dq::make_mae(d, dq::parse_patch_options(p), grid, "", nullptr);
  const auto masks = cam_like_masks(kBatch, grid.count(), dq::kept_patch_count(grid.count(), 0.25));
  std::vector<uint8_t> pixels = d.train.pixels;
  for (auto _ : state) mae->reconstruct(pixels.data(), kBatch, masks);
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MaeReconstruct)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
