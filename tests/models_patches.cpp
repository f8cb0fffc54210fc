// GradCAM++ against hand-computed and brute-force maps, the MAE (kept pixels bit-identical, cache
// rebuilt when damaged, a TorchScript MAE saved here round-trips, a missing file names its key), and
// BGFDQ with SPD end to end through the real binary; bf16 autocast in the embed and patch stages
// against fp32, and fp32 against the plain forward passes.
// LibTorch first: its logging header defines a glog-style CHECK that would silently replace Catch's.
#include <torch/script.h>

#include "models/extractor_network.h"
#include "models/gradcam.h"
#include "models/mae.h"
#undef CHECK

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "models_test_helpers.h"
#include "test_helpers.h"

using namespace dq;

TEST_CASE("GradCAM++ matches a hand-computed map (linear head on pooled activations)", "[gradcam]") {
  // y_c = sum_k W_k mean(A^k): g_k = W_k / 4 everywhere, alpha_k = 1 / (2 + g_k sum A^k), w_k = 4 alpha_k relu(g_k).
  // A^0 = [[1,2],[3,4]], A^1 = [[4,0],[0,0]], W = (4, 2): g = (1, 0.5), alpha = (1/12, 1/4), w = (1/3, 1/2),
  // CAM = [[7/3, 2/3], [1, 4/3]] -> min-max [[1, 0], [0.2, 0.4]].
  auto a = torch::tensor({1.f, 2.f, 3.f, 4.f, 4.f, 0.f, 0.f, 0.f}).view({1, 2, 2, 2}).requires_grad_(true);
  auto w = torch::tensor({0.f, 0.f, 4.f, 2.f}).view({2, 2});  // class 1 has weights (4, 2)
  auto scores = torch::matmul(a.mean({2, 3}), w.t());
  const auto cam = gradcampp(a, scores, torch::tensor({1}), 2, 2);
  REQUIRE(cam.sizes() == torch::IntArrayRef({1, 2, 2}));
  CHECK(cam[0][0][0].item<float>() == Approx(1.0));
  CHECK(cam[0][0][1].item<float>() == Approx(0.0));
  CHECK(cam[0][1][0].item<float>() == Approx(0.2));
  CHECK(cam[0][1][1].item<float>() == Approx(0.4));
  // Resized to a 4 x 4 grid, bilinear with align_corners = false: corners stay, (0,1) = 0.75*1 + 0.25*0.
  auto a2 = a.detach().clone().requires_grad_(true);
  const auto up = gradcampp(a2, torch::matmul(a2.mean({2, 3}), w.t()), torch::tensor({1}), 4, 4);
  CHECK(up[0][0][0].item<float>() == Approx(1.0));
  CHECK(up[0][0][1].item<float>() == Approx(0.75));
}

TEST_CASE("GradCAM++ matches a brute-force evaluation with varying and negative gradients", "[gradcam]") {
  // y = sum_k v_k sum_ij A_ij^2 + u . A  (g = 2 v_k A + u): alpha varies over pixels, relu(g) clips.
  torch::manual_seed(3);
  const int64_t k = 3, h = 3, wd = 4;
  auto base = torch::rand({2, k, h, wd});
  auto a = base.clone().requires_grad_(true);
  const std::vector<double> v = {0.7, -0.4, 0.2};
  auto u = torch::randn({k, h, wd}) * 0.3;
  auto vt = torch::tensor({0.7f, -0.4f, 0.2f}).view({1, k, 1, 1});
  auto y = ((a * a * vt).sum({2, 3}) + (a * u).sum({2, 3}));  // 2 x k: "class scores" = channel terms
  auto scores = torch::stack({y.sum(1), y.sum(1) * 0}, 1);    // class 0 = the sum
  const auto cam = gradcampp(a, scores, torch::tensor({0, 0}), h, wd);
  for (int64_t n = 0; n < 2; ++n) {
    std::vector<double> map(static_cast<size_t>(h * wd), 0.0);
    for (int64_t c = 0; c < k; ++c) {
      double s3 = 0;
      std::vector<double> g(static_cast<size_t>(h * wd));
      for (int64_t p = 0; p < h * wd; ++p) {
        const double av = base[n][c].flatten()[p].item<double>();
        g[p] = 2 * v[c] * av + u[c].flatten()[p].item<double>();
        s3 += av * g[p] * g[p] * g[p];
      }
      double wk = 0;
      for (int64_t p = 0; p < h * wd; ++p) {
        const double den = 2 * g[p] * g[p] + s3;
        const double alpha = den != 0 ? g[p] * g[p] / den : 0;
        wk += alpha * std::max(g[p], 0.0);
      }
      for (int64_t p = 0; p < h * wd; ++p) map[p] += wk * base[n][c].flatten()[p].item<double>();
    }
    for (auto& m : map) m = std::max(m, 0.0);
    const double lo = *std::min_element(map.begin(), map.end()), hi = *std::max_element(map.begin(), map.end());
    for (int64_t p = 0; p < h * wd; ++p)
      CHECK(cam[n].flatten()[p].item<double>() == Approx((map[p] - lo) / (hi - lo)).margin(1e-5));
  }
}

namespace {
Dataset tiny_images(int64_t n, int64_t side) {
  Dataset d;
  d.kind = "test";
  d.class_names = {"a", "b"};
  d.fingerprint = fmt::format("tiny-images-{}-{}", n, side);
  for (ImageSet* s : {&d.train, &d.test}) {
    s->n = n;
    s->channels = 1;
    s->height = s->width = side;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t y = 0; y < side; ++y)
        for (int64_t x = 0; x < side; ++x) s->pixels.push_back(static_cast<uint8_t>((x * 13 + y * 7 + i * 5) % 256));
      s->labels.push_back(i % 2);
    }
  }
  return d;
}

Params tiny_mae_params() {
  Params p("patches", patch_specs());
  for (auto [k, v] : {std::pair{"mae_dim", "16"}, {"mae_decoder_dim", "16"}, {"mae_depth", "1"}, {"mae_decoder_depth", "1"},
                      {"mae_heads", "2"}, {"mae_epochs", "1"}, {"mae_batch", "16"}})
    p.set_from_text(k, v, "test");
  return p;
}

std::vector<uint8_t> alternating_masks(int64_t n, int64_t p) {
  std::vector<uint8_t> m;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < p; ++t) m.push_back(static_cast<uint8_t>((t + i) % 2));
  return m;
}

// patches params whose mae_path is a TorchScript module with `code` (forward(self, x, mask)) saved at `path`.
Params script_mae_params(const std::filesystem::path& path, const std::string& code) {
  torch::jit::Module module("ScriptMae");
  module.define(code);
  module.save(path.string());
  Params p("patches", patch_specs());
  p.set_from_text("mae_path", path.string(), "test");
  return p;
}

void check_kept_identical(const std::vector<uint8_t>& before, const std::vector<uint8_t>& after, const std::vector<uint8_t>& masks,
                          const PatchGrid& g, int64_t side, bool expect_changes) {
  int64_t changed = 0;
  for (size_t k = 0; k < before.size(); ++k) {
    const int64_t img = static_cast<int64_t>(k) / (side * side), pix = static_cast<int64_t>(k) % (side * side);
    const int64_t t = (pix / side / g.patch) * g.cols + (pix % side) / g.patch;
    if (masks[static_cast<size_t>(img * g.count() + t)]) CHECK(after[k] == before[k]);
    else changed += after[k] != before[k];
  }
  if (expect_changes) CHECK(changed > 0);
}
}  // namespace

TEST_CASE("in-project MAE keeps kept pixels bit-identical, caches, and rebuilds a damaged cache", "[mae]") {
  const auto dir = test::scratch_dir("mae_cache");
  const Dataset d = tiny_images(32, 16);
  const PatchGrid g = PatchGrid::for_image(16, 16, 4, "test");
  const Params p = tiny_mae_params();
  auto mae = make_mae(d, parse_patch_options(p), g, dir.string(), nullptr);
  auto m = mae->metrics();
  CHECK(m.at("mae_from_cache") == 0);
  CHECK(m.at("mae_train_seconds") > 0);
  CHECK(std::isfinite(m.at("mae_recon_mse")));
  CHECK(m.at("mae_mean_fill_mse") > 0);
  std::vector<uint8_t> pixels(d.train.pixels.begin(), d.train.pixels.begin() + 4 * 256);
  const auto before = pixels;
  const auto masks = alternating_masks(4, g.count());
  mae->reconstruct(pixels.data(), 4, masks);
  check_kept_identical(before, pixels, masks, g, 16, true);

  const auto file = dir / "mae" / (mae_cache_key(d, parse_patch_options(p), g) + ".pt");
  REQUIRE(std::filesystem::exists(file));
  auto again = make_mae(d, parse_patch_options(p), g, dir.string(), nullptr);
  CHECK(again->metrics().at("mae_from_cache") == 1);
  CHECK(again->metrics().at("mae_recon_mse") == Approx(m.at("mae_recon_mse")));
  std::vector<uint8_t> pixels2 = before;
  again->reconstruct(pixels2.data(), 4, masks);
  CHECK(pixels2 == pixels);  // the cached network reconstructs the same bytes

  test::write_text(file, "not a torch archive");
  auto rebuilt = make_mae(d, parse_patch_options(p), g, dir.string(), nullptr);
  CHECK(rebuilt->metrics().at("mae_from_cache") == 0);
  CHECK(make_mae(d, parse_patch_options(p), g, dir.string(), nullptr)->metrics().at("mae_from_cache") == 1);
}

TEST_CASE("a TorchScript MAE saved here loads and round-trips; a missing file names the key", "[mae]") {
  const auto dir = test::scratch_dir("mae_script");
  // Grey (0.5) in the dropped patches of a 2 x 2 grid of 4-px patches; the kept pixels as given.
  Params p = script_mae_params(dir / "mae.pt", R"(
def forward(self, x, mask):
    kept = mask.view(-1, 1, 2, 2).repeat_interleave(4, 2).repeat_interleave(4, 3) > 0.5
    return torch.where(kept, x, x * 0.0 + 0.5)
)");
  const Dataset d = tiny_images(4, 8);
  const PatchGrid g = PatchGrid::for_image(8, 8, 4, "test");
  auto mae = make_mae(d, parse_patch_options(p), g, "", nullptr);
  std::vector<uint8_t> pixels = d.train.pixels;
  const auto masks = alternating_masks(4, g.count());
  mae->reconstruct(pixels.data(), 4, masks);
  check_kept_identical(d.train.pixels, pixels, masks, g, 8, true);
  for (size_t k = 0; k < pixels.size(); ++k)
    if (pixels[k] != d.train.pixels[k]) CHECK(pixels[k] == 128);  // 0.5 * 255 rounded

  p.set_from_text("mae_path", (dir / "missing.pt").string(), "test");
  CHECK_THROWS_WITH(make_mae(d, parse_patch_options(p), g, "", nullptr), Catch::Contains("patches.mae_path") && Catch::Contains("missing.pt"));
  test::write_text(dir / "not_torchscript.pt", "not a TorchScript archive");
  p.set_from_text("mae_path", (dir / "not_torchscript.pt").string(), "test");
  CHECK_THROWS_WITH(make_mae(d, parse_patch_options(p), g, "", nullptr),
                    Catch::Contains("patches.mae_path: cannot load TorchScript MAE") && Catch::Contains("not_torchscript.pt"));
}

TEST_CASE("a TorchScript MAE that changes kept pixels is refused with their number", "[mae]") {
  const auto dir = test::scratch_dir("mae_changes_kept");
  const std::string path = (dir / "grey.pt").string();
  const Params p = script_mae_params(path, "def forward(self, x, mask):\n    return x * 0.0 + 0.5\n");
  const Dataset d = tiny_images(4, 8);
  const PatchGrid g = PatchGrid::for_image(8, 8, 4, "test");
  auto mae = make_mae(d, parse_patch_options(p), g, "", nullptr);
  const auto masks = alternating_masks(4, g.count());
  // Brute force: the kept pixels whose value is not the grey (128) the module returns.
  int64_t kept = 0, changed = 0;
  for (int64_t k = 0; k < static_cast<int64_t>(d.train.pixels.size()); ++k) {
    const int64_t img = k / 64, pix = k % 64, t = (pix / 8 / 4) * 2 + (pix % 8) / 4;
    if (!masks[static_cast<size_t>(img * 4 + t)]) continue;
    ++kept;
    changed += d.train.pixels[static_cast<size_t>(k)] != 128;
  }
  REQUIRE(changed > 0);
  std::vector<uint8_t> pixels = d.train.pixels;
  CHECK_THROWS_WITH(mae->reconstruct(pixels.data(), 4, masks),
                    Catch::Contains(fmt::format("patches.mae_path '{}': the MAE changed {} of the {} kept pixel values",
                                                path, changed, kept)));
  CHECK(pixels == d.train.pixels);  // nothing was written
}


TEST_CASE("BGFDQ with SPD and DQ-style fixed dropping run end to end with a patches stage", "[e2e][spd]") {
  const auto dir = test::scratch_dir("e2e_spd");
  const std::string yaml = fmt::format(R"Y(name: spd
database: {0}/results/spd.db
cache_dir: {0}/cache
memory_budget: 4GiB
timeout: 10m
threads: 2
datasets:
  tiny: {{kind: synthetic_images, classes: 3, train_per_class: 40, test_per_class: 10, image_size: 16}}
extractor: {{kind: proxy, epochs: 1, batch_size: 32}}
train: {{epochs: 1, batch_size: 32, lr: 0.05, augment: none}}
patches: {{patch_size: 4, batch: 16}}
grid:
  method: ["bgfdq(k=5,spd=on,lambda_scale=0)", "bgfdq(k=5,spd=on,lambda_scale=1000)", "bgfdq(k=5,theta=0.25)"]
  ratio: [0.25]
)Y",
                                       dir.string());
  const test::ExperimentRun run = test::run_yaml_experiment(dir, "spd.yaml", yaml);
  INFO(run.log);
  REQUIRE(run.summary.done == 3);
  Store store(run.experiment.database);
  for (const auto& row : store.cells("spd")) {
    INFO(row.method);
    // The storage ratio comes from the applied masks; 16 patches per 16 px image.
    CHECK(test::cell_metric(store, row.cell_id, "patches_per_image") == 16);
    const double storage = test::cell_metric(store, row.cell_id, "patch_storage_ratio");
    // What the cell reports of its selection is what it stored: the applied masks' storage, the stored
    // count (SPD cuts its candidate order), and its artefacts (dataset, network, embeddings, graph,
    // GradCAM++ scores, selection).
    CHECK(test::cell_metric(store, row.cell_id, "realised_storage_ratio") == Approx(storage));
    CHECK(test::cell_metric(store, row.cell_id, "selected_samples") == Approx(test::cell_metric(store, row.cell_id, "patch_sample_ratio") * 120));
    std::set<std::string> kinds;
    for (const auto& a : store.cell_artefacts(row.cell_id)) kinds.insert(a.kind);
    CHECK(kinds == std::set<std::string>{"dataset", "embeddings", "extractor_network", "knn_graph", "patch_scores",
                                         "selection"});
    if (row.method.find("lambda_scale=1000") != std::string::npos) {
      // A huge threshold admits every theta: theta* = 0.9 everywhere, keep floor(1.6) = 1 of 16 patches;
      // 10 images per class would need 160 candidates, so all 40 of each class are stored.
      CHECK(test::cell_metric(store, row.cell_id, "spd_theta_0.9_count") == 120);
      CHECK(test::cell_metric(store, row.cell_id, "spd_mean_drop") == Approx(0.9));
      CHECK(test::cell_metric(store, row.cell_id, "patch_kept_fraction_mean") == Approx(1.0 / 16));
      CHECK(storage == Approx(1.0 / 16));
      continue;
    }
    CHECK(std::abs(storage * 120 - 0.25 * 120) <= 3 * 0.5 + 1e-9);  // within half an image per class
    if (row.method.find("spd=on") != std::string::npos) {
      // Threshold 0: no theta qualifies, whole images, exactly the budget of 10 per class.
      CHECK(test::cell_metric(store, row.cell_id, "spd_theta_0.0_count") == 30);
      CHECK(test::cell_metric(store, row.cell_id, "patch_sample_ratio") == Approx(0.25));
      CHECK(test::cell_metric(store, row.cell_id, "patch_kept_fraction_mean") == Approx(1.0));
    } else {
      CHECK(test::cell_metric(store, row.cell_id, "patch_kept_fraction_mean") == Approx(0.75));
      CHECK(test::cell_metric(store, row.cell_id, "patch_sample_ratio") == Approx(39.0 / 120));  // round(10 / 0.75) = 13 per class
    }
  }
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(), "SELECT count(*) FROM stages WHERE stage='patches'", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int64(st, 0) == 3);
  sqlite3_finalize(st);
}

namespace {

// A small_cnn proxy extractor trained for one epoch on `d` (cached in the test's cache folder).
ExtractorOptions tiny_proxy_extractor(const std::string& precision) {
  Params e("extractor", extractor_specs());
  for (auto [k, v] : {std::pair{"arch", "small_cnn"}, {"epochs", "1"}, {"batch_size", "16"}, {"device", "cpu"},
                      {"evaluations", "1"}, {"precision", precision.c_str()}})
    e.set_from_text(k, v, "test");
  return parse_extractor_options(e);
}

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(std::isfinite(a[i]));
    REQUIRE(std::isfinite(b[i]));
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return worst;
}

}  // namespace

TEST_CASE("bf16 autocast: embeddings, GradCAM++ maps and MAE reconstructions are finite and near fp32; fp32 is unchanged",
          "[autocast][gradcam][spd][mae]") {
  const auto dir = test::scratch_dir("autocast_patch_stage");
  const Dataset d = tiny_images(32, 16);
  const PatchGrid g = PatchGrid::for_image(16, 16, 4, "test");
  const int64_t n = 8;
  const uint8_t* images = d.train.image(0);
  const std::span<const int64_t> labels(d.train.labels.data(), static_cast<size_t>(n));
  const ExtractorOptions extractor = tiny_proxy_extractor("fp32");
  Params p32 = tiny_mae_params(), p16 = tiny_mae_params();
  for (Params* p : {&p32, &p16}) {
    p->set_from_text("cam_target", "label", "test");  // the same class in both precisions: maps comparable
    p->set_from_text("reconstruct", "mae", "test");
  }
  p16.set_from_text("precision", "bf16", "test");
  const auto b32 = make_patch_backend(d, extractor, parse_patch_options(p32), dir.string(), "", nullptr);
  const auto b16 = make_patch_backend(d, extractor, parse_patch_options(p16), dir.string(), "", nullptr);  // the cached network
  CHECK(b32->ranking_key() != b16->ranking_key());
  CHECK(mae_cache_key(d, parse_patch_options(p32), g) != mae_cache_key(d, parse_patch_options(p16), g));

  // fp32: the same numbers as the plain forward passes (no autocast anywhere).
  ExtractorNetwork net = load_extractor_network(d, extractor, dir.string(), nullptr);
  REQUIRE(net.compute.precision == Precision::Fp32);
  const torch::Tensor x = net.input(images, n, 1, 16, 16);
  torch::Tensor a = net.classifier->feature_map(x);
  const torch::Tensor plain_cam =
      gradcampp(a, net.classifier->classify_map(a), torch::tensor(std::vector<int64_t>(labels.begin(), labels.end())),
                g.rows, g.cols);
  const std::vector<float> cam32 = b32->patch_scores(images, labels, g), cam16 = b16->patch_scores(images, labels, g);
  REQUIRE(cam32.size() == static_cast<size_t>(n * g.count()));
  CHECK(std::equal(cam32.begin(), cam32.end(), plain_cam.data_ptr<float>()));
  int64_t dim32 = 0, dim16 = 0;
  const std::vector<float> e32 = b32->embed(images, n, dim32), e16 = b16->embed(images, n, dim16);
  REQUIRE(dim32 == dim16);
  torch::Tensor plain_embed;
  {
    torch::NoGradGuard no_grad;
    plain_embed = net.classifier->features(x).contiguous();
  }
  CHECK(std::equal(e32.begin(), e32.end(), plain_embed.data_ptr<float>()));

  // bf16 keeps 8 significant bits (relative rounding 2^-9 per operation); through three convolutions the
  // embeddings drift by a fraction of a percent of their scale (0.4% measured), so within 5% of the largest
  // |value|. GradCAM++ maps are min-max normalised to [0, 1], where a rounding near the minimum moves a
  // whole map's scale: within 0.1 absolute (0.05 measured).
  const double scale = plain_embed.abs().max().item<double>();
  const double embed_gap = max_abs_difference(e32, e16), cam_gap = max_abs_difference(cam32, cam16);
  INFO("embedding gap " << embed_gap << " of scale " << scale << ", GradCAM++ gap " << cam_gap);
  CHECK(embed_gap > 0);  // bf16 did run
  CHECK(embed_gap <= 0.05 * scale);
  CHECK(cam_gap <= 0.1);

  // The MAE trained and reconstructing under bf16: kept pixels bit-identical, reconstructions close.
  std::vector<uint8_t> r32(images, images + n * 256), r16 = r32;
  const auto before = r32;
  const auto masks = alternating_masks(n, g.count());
  b32->reconstruct(r32.data(), n, masks, g);
  b16->reconstruct(r16.data(), n, masks, g);
  check_kept_identical(before, r16, masks, g, 16, true);
  double mean_gap = 0;
  for (size_t k = 0; k < r32.size(); ++k) mean_gap += std::abs(int{r32[k]} - int{r16[k]});
  mean_gap /= static_cast<double>(r32.size());
  const auto m32 = b32->metrics(), m16 = b16->metrics();
  INFO("MAE mean byte gap " << mean_gap << ", recon MSE " << m32.at("mae_recon_mse") << " vs " << m16.at("mae_recon_mse"));
  // Two steps of AdamW from the same initialisation: the weights part by bf16 rounding only, so the pasted
  // bytes differ by well under one level of 255 on average (0.06 measured; at most 1 allowed) and the
  // reconstruction error by under 5% (0.01% measured).
  CHECK(mean_gap <= 1);
  CHECK(std::isfinite(m16.at("mae_recon_mse")));
  CHECK(m16.at("mae_recon_mse") == Approx(m32.at("mae_recon_mse")).epsilon(0.05));

  // The embed stage takes the extractor recipe's precision (a bf16-trained proxy, so other weights): float32
  // embeddings, finite; the fp32 recipe's embeddings are the plain forward pass's.
  const ExtractorOptions extractor16 = tiny_proxy_extractor("bf16");
  CHECK(load_extractor_network(d, extractor16, dir.string(), nullptr).compute.precision == Precision::Bf16);
  const Embeddings emb16 = compute_embeddings(d, extractor16, dir.string(), nullptr);
  const Embeddings emb32 = compute_embeddings(d, extractor, dir.string(), nullptr);
  REQUIRE(emb32.d == dim32);
  torch::Tensor plain_all;  // the whole split in one batch, as the embed stage runs it (batch size changes rounding)
  {
    torch::NoGradGuard no_grad;
    plain_all = net.classifier->features(net.input(images, d.train.n, 1, 16, 16)).contiguous();
  }
  CHECK(std::equal(emb32.z.begin(), emb32.z.end(), plain_all.data_ptr<float>()));
  REQUIRE(emb16.z.size() == emb32.z.size());
  for (float v : emb16.z) REQUIRE(std::isfinite(v));
}
