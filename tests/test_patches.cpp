// Patch grid, masks, mean-fill reconstruction, SPD's decision rule and budget, and the patch stage
// with a fake backend: hand-worked values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "patching/patch_stage.h"
#include "patching/patches.h"
#include "patching/spd.h"
#include "test_helpers.h"

using namespace dq;

TEST_CASE("patch grid defaults per resolution and rejects sizes that do not tile", "[patches]") {
  const PatchGrid cifar = PatchGrid::for_image(32, 32, 0, "t");
  CHECK(cifar.rows == 8);
  CHECK(cifar.cols == 8);
  CHECK(cifar.patch == 4);
  const PatchGrid imagenet = PatchGrid::for_image(224, 224, 0, "t");
  CHECK(imagenet.count() == 196);
  CHECK(imagenet.patch == 16);
  CHECK(PatchGrid::for_image(28, 28, 0, "t").count() == 49);
  CHECK(PatchGrid::for_image(32, 32, 8, "t").count() == 16);
  CHECK_THROWS_WITH(PatchGrid::for_image(32, 32, 5, "exp.yaml (key 'patch_size')"),
                    Catch::Contains("exp.yaml (key 'patch_size')") && Catch::Contains("does not tile"));
}

TEST_CASE("patches section: parsed once into PatchOptions, and written back to the same identity text", "[patches]") {
  const PatchOptions defaults;
  CHECK(patch_params(defaults).canonical() == Params("patches", patch_specs()).canonical());
  Params p("patches", patch_specs());
  for (auto [k, v] : {std::pair{"patch_size", "8"}, {"drop", "random"}, {"reconstruct", "mae"}, {"batch", "3"},
                      {"cam_network", "torchscript"}, {"cam_path", "cam.pt"}, {"cam_target", "label"},
                      {"mae_path", "m.pt"}, {"mae_epochs", "7"}, {"mae_dim", "40"}, {"mae_depth", "3"},
                      {"mae_decoder_dim", "24"}, {"mae_decoder_depth", "5"}, {"mae_heads", "2"}, {"mae_mask_ratio", "0.3"},
                      {"mae_lr", "0.01"}, {"mae_batch", "9"}, {"mae_train_samples", "11"}, {"mae_seed", "13"},
                      {"precision", "bf16"}})
    p.set_from_text(k, v, "t");
  const PatchOptions o = parse_patch_options(p);
  CHECK(o.patch_size == 8);
  CHECK(o.drop == PatchDrop::Random);
  CHECK(o.reconstruct == PatchFill::Mae);
  CHECK(o.batch == 3);
  CHECK(o.cam_network == CamNetwork::TorchScript);
  CHECK(o.cam_path == "cam.pt");
  CHECK(o.cam_target == CamTarget::Label);
  CHECK(o.mae.path == "m.pt");
  CHECK((o.mae.epochs == 7 && o.mae.dim == 40 && o.mae.depth == 3 && o.mae.decoder_dim == 24 && o.mae.decoder_depth == 5 &&
         o.mae.heads == 2 && o.mae.batch == 9 && o.mae.train_samples == 11 && o.mae.seed == 13));
  CHECK(o.mae.mask_ratio == 0.3);
  CHECK(o.mae.lr == 0.01);
  CHECK(o.precision == PatchPrecision::Bf16);
  // Every key round-trips (cell ids and cache keys are made of this text).
  CHECK(patch_params(o).canonical() == p.canonical());
  CHECK(patch_params(o).canonical() != patch_params(defaults).canonical());
  // precision is left out of identity at its default only.
  CHECK(patch_params(defaults).canonical().find("precision") == std::string::npos);
  CHECK(patch_params(o).canonical().find("precision=bf16") != std::string::npos);
}

TEST_CASE("kept patch counts are floor(P(1-theta)) as in the spec", "[patches]") {
  // methods-spec 2.3/5.4: 196 patches drop 20, 40, 59, 79, 98, 118, 138, 157, 177 at theta 0.1..0.9.
  const int64_t dropped[] = {20, 40, 59, 79, 98, 118, 138, 157, 177};
  for (int t = 1; t <= 9; ++t) CHECK(196 - kept_patch_count(196, t / 10.0) == dropped[t - 1]);
  CHECK(kept_patch_count(196, 0.25) == 147);
  CHECK(kept_patch_count(64, 0.25) == 48);
  CHECK(kept_patch_count(64, 0.0) == 64);
  CHECK(kept_patch_count(10, 1.0 - double(0.9f)) == 9);  // float keep fractions do not lose a patch
}

TEST_CASE("top_patch_mask keeps the highest scores, ties to the lower index", "[patches]") {
  const std::vector<float> scores = {0.5f, 0.9f, 0.5f, 0.1f, 0.5f, std::nanf("")};
  CHECK(top_patch_mask(scores, 1) == std::vector<uint8_t>{0, 1, 0, 0, 0, 0});
  CHECK(top_patch_mask(scores, 3) == std::vector<uint8_t>{1, 1, 1, 0, 0, 0});
  CHECK(top_patch_mask(scores, 5) == std::vector<uint8_t>{1, 1, 1, 1, 1, 0});
  CHECK(top_patch_mask(scores, 0) == std::vector<uint8_t>(6, 0));
}

TEST_CASE("random_patch_mask keeps exactly the requested count, reproducibly", "[patches]") {
  Rng a(7), b(7);
  const auto m1 = random_patch_mask(64, 48, a), m2 = random_patch_mask(64, 48, b);
  CHECK(m1 == m2);
  CHECK(std::count(m1.begin(), m1.end(), uint8_t{1}) == 48);
  Rng c(8);
  CHECK(random_patch_mask(64, 48, c) != m1);
}

TEST_CASE("mean fill overwrites dropped patches only; kept pixels are bit-identical", "[patches]") {
  // 2 channels, 4 x 4 px, 2 x 2 patches of 2 px; drop patch 1 (top right) and 2 (bottom left).
  const PatchGrid grid = PatchGrid::for_image(4, 4, 2, "t");
  std::vector<uint8_t> img(2 * 16);
  std::iota(img.begin(), img.end(), uint8_t{1});
  const std::vector<uint8_t> original = img;
  fill_dropped_patches(img.data(), 2, 4, 4, grid, std::vector<uint8_t>{1, 0, 0, 1}, std::vector<uint8_t>{100, 200});
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        const int i = c * 16 + y * 4 + x;
        const bool dropped = (y < 2 && x >= 2) || (y >= 2 && x < 2);
        CHECK(img[i] == (dropped ? (c == 0 ? 100 : 200) : original[i]));
      }
  ImageSet set;
  set.n = 2;
  set.channels = 1;
  set.height = set.width = 1;
  set.pixels = {10, 13};
  CHECK(channel_mean_bytes(set) == std::vector<uint8_t>{12});  // 11.5 rounds half away from zero
}

TEST_CASE("SPD picks the largest admissible theta, also when offsets are not monotone", "[spd]") {
  const std::vector<double> thetas(kSpdThetas.begin(), kSpdThetas.end());
  // Monotone: below 1.0 up to theta 0.4.
  CHECK(spd_pick_theta(thetas, std::vector<double>{.1, .2, .3, .9, 1.1, 1.2, 1.3, 1.4, 1.5}, 1.0) == 0.4);
  // Not monotone: 0.5 fails but 0.7 passes again: theta* = 0.7 (no early stop).
  CHECK(spd_pick_theta(thetas, std::vector<double>{.1, .2, .3, .4, 2.0, .5, .6, 3.0, 4.0}, 1.0) == 0.7);
  // None below the threshold: the whole image is stored.
  CHECK(spd_pick_theta(thetas, std::vector<double>(9, 5.0), 1.0) == 0.0);
  // Strictly below: an offset equal to the threshold does not qualify.
  CHECK(spd_pick_theta(thetas, std::vector<double>{1.0, 1, 1, 1, 1, 1, 1, 1, 1}, 1.0) == 0.0);
}

TEST_CASE("SPD accumulates keep fractions to the class budget within one sample, in batches", "[spd]") {
  // 64 patches; candidate id i has its offsets below the threshold up to theta (i % 10) / 10.
  std::vector<int64_t> candidates(100);
  std::iota(candidates.begin(), candidates.end(), 0);
  int64_t calls = 0;
  auto offsets = [&](std::span<const int64_t> ids) {
    ++calls;
    std::vector<double> out;
    for (int64_t id : ids)
      for (int t = 1; t <= 9; ++t) out.push_back(t <= id % 10 ? 0.5 : 2.0);
    return out;
  };
  const double budget = 7.3;
  const SpdResult r = semantic_offset_dropping(candidates, 1.0, budget, 64, kSpdThetas, 4, offsets);
  // theta* = 0, .1, .2, ...: keeps 64, 57, 51, 44, 38, 32, 25, 19, 12, 6 patches of 64.
  double sum = 0;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    CHECK(r.ids[i] == static_cast<int64_t>(i));  // a prefix of the priority order
    CHECK(r.theta[i] == Approx((i % 10) / 10.0));
    sum += r.keep[i];
  }
  CHECK(r.keep[1] == Approx(57.0 / 64));
  CHECK(sum == Approx(r.stored));
  CHECK(std::abs(sum - budget) <= 0.5);
  // Hand-worked: the first 10 sum to 348/64 = 5.4375, then 64/64 -> 6.4375, 57/64 -> 7.328 (>= 7.3,
  // overshoot 0.028 < half of 0.89: kept). 12 samples stored.
  CHECK(r.ids.size() == 12);
  CHECK(r.evaluated == 12);  // batches of 4: exactly three calls
  CHECK(calls == 3);
  // A sample overshooting by more than half of itself is left out: budget 5.5 stops after 10
  // (5.4375) because the 11th (a whole image) would overshoot by 0.94 > 0.5.
  const SpdResult r2 = semantic_offset_dropping(candidates, 1.0, 5.5, 64, kSpdThetas, 7, offsets);
  CHECK(r2.ids.size() == 10);
  CHECK(r2.stored == Approx(348.0 / 64));
  // Too few candidates: all are stored.
  const SpdResult r3 = semantic_offset_dropping(std::span(candidates).first(3), 1.0, 50, 64, kSpdThetas, 2, offsets);
  CHECK(r3.ids.size() == 3);
}

namespace {
// Scores patch p of image i as (p + id) % P (its id is written in pixel 0); embeds an image as its
// mean pixel value; "reconstructs" with value 7 except kept pixels.
class FakeBackend final : public PatchBackend {
 public:
  explicit FakeBackend(int64_t bytes) : bytes_(bytes) {}
  std::string ranking_key() const override { return "fake"; }
  std::vector<float> patch_scores(const uint8_t* images, std::span<const int64_t> labels, const PatchGrid& g) override {
    std::vector<float> out;
    for (size_t i = 0; i < labels.size(); ++i)
      for (int64_t p = 0; p < g.count(); ++p) out.push_back(static_cast<float>((p + images[i * bytes_]) % g.count()));
    ranked += static_cast<int64_t>(labels.size());
    return out;
  }
  void reconstruct(uint8_t* images, int64_t n, std::span<const uint8_t> masks, const PatchGrid& g) override {
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<uint8_t> fill(1, 7);
      fill_dropped_patches(images + i * bytes_, 1, g.rows * g.patch, g.cols * g.patch, g,
                           masks.subspan(static_cast<size_t>(i * g.count()), static_cast<size_t>(g.count())), fill);
    }
  }
  std::vector<float> embed(const uint8_t* images, int64_t n, int64_t& dim) override {
    dim = 1;
    std::vector<float> out;
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t k = 0; k < bytes_; ++k) s += images[i * bytes_ + k];
      out.push_back(static_cast<float>(s / bytes_));
    }
    return out;
  }
  int64_t ranked = 0;

 private:
  int64_t bytes_;
};

// n grey 8 x 8 images (2 x 2 patches of 4 px), pixel value 100 + (id % 50), pixel 0 = the id (a marker).
ImageSet marker_images(int64_t n) {
  ImageSet s;
  s.n = n;
  s.channels = 1;
  s.height = s.width = 8;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<uint8_t> img(64, static_cast<uint8_t>(100 + i % 50));
    img[0] = static_cast<uint8_t>(i);
    s.pixels.insert(s.pixels.end(), img.begin(), img.end());
    s.labels.push_back(i % 3);
  }
  return s;
}
}  // namespace

TEST_CASE("patch stage: training images are the reconstructions of exactly the selected ids", "[patches]") {
  const ImageSet train = marker_images(40);
  std::vector<ClassSelection> sel(2);
  sel[0].ids = {5, 17, 2};
  sel[0].keep = {0.75f, 0.5f, 1.0f};
  sel[1].ids = {33, 8};
  sel[1].keep = {0.25f, 0.75f};
  Params params("patches", patch_specs());
  params.set_from_text("patch_size", "4", "t");
  StageTimer timer;
  FakeBackend backend(64);
  for (const std::string recon : {"mean", "mae"}) {
    params.set_from_text("reconstruct", recon, "t");
    std::vector<ClassSelection> s = sel;
    const PatchStageResult r = run_patch_stage(s, {train, parse_patch_options(params), &backend, timer, 1, ""});
    REQUIRE(r.ids == std::vector<int64_t>{5, 17, 2, 33, 8});
    CHECK(r.keep == std::vector<float>{0.75f, 0.5f, 1.0f, 0.25f, 0.75f});
    const uint8_t fill = recon == "mean" ? channel_mean_bytes(train)[0] : 7;
    for (size_t i = 0; i < r.ids.size(); ++i) {
      const int64_t id = r.ids[i];
      const uint8_t* img = r.images.image(static_cast<int64_t>(i));
      CHECK(r.images.labels[i] == id % 3);
      // Patch p's score is (p + id) % 4: the kept patches are the top-ranked ones.
      const std::vector<float> scores = {float(id % 4), float((1 + id) % 4), float((2 + id) % 4), float((3 + id) % 4)};
      const auto mask = top_patch_mask(scores, static_cast<int64_t>(r.keep[i] * 4));
      for (int64_t y = 0; y < 8; ++y)
        for (int64_t x = 0; x < 8; ++x) {
          const int64_t patch = (y / 4) * 2 + x / 4;
          const uint8_t original = train.image(id)[y * 8 + x];
          CHECK(img[y * 8 + x] == (mask[patch] ? original : fill));
        }
    }
    CHECK(r.metrics.at("patch_storage_ratio") == Approx((0.75 + 0.5 + 1 + 0.25 + 0.75) / 40));
    CHECK(r.metrics.at("patch_sample_ratio") == Approx(5.0 / 40));
  }
}

TEST_CASE("patch stage: random drop needs no network; random keeps whole images", "[patches]") {
  const ImageSet train = marker_images(10);
  std::vector<ClassSelection> sel(1);
  sel[0].ids = {8, 9};
  sel[0].keep = {1.0f, 1.0f};  // Random: whole images
  Params params("patches", patch_specs());
  params.set_from_text("drop", "random", "t");
  params.set_from_text("patch_size", "2", "t");
  StageTimer timer;
  const PatchOptions config = parse_patch_options(params);
  CHECK_FALSE(config.needs_backend(sel));
  PatchStageResult r = run_patch_stage(sel, {train, config, nullptr, timer, 1, ""});
  CHECK(std::equal(r.images.pixels.begin(), r.images.pixels.begin() + 64, train.image(8)));
  REQUIRE(channel_mean_bytes(train)[0] != 108);  // so that filled pixels can be counted
  CHECK(r.metrics.at("patch_storage_ratio") == Approx(0.2));
  sel[0].keep = {0.5f, 0.5f};
  r = run_patch_stage(sel, {train, config, nullptr, timer, 1, ""});
  const uint8_t* img = r.images.image(0);
  const int64_t filled = std::count(img, img + 64, channel_mean_bytes(train)[0]);
  CHECK(filled == 32);  // 8 of 16 patches of 2 x 2 px
  CHECK(r.keep == std::vector<float>{0.5f, 0.5f});
  // The same seed gives the same masks.
  const PatchStageResult again = run_patch_stage(sel, {train, config, nullptr, timer, 1, ""});
  CHECK(again.images.pixels == r.images.pixels);
}

TEST_CASE("masks pack to bits as numpy's packbits lays them out, and unpack exactly", "[patches]") {
  // Two images of 9 patches: np.packbits([[1,0,0,0,0,0,0,1,1],[0,1,1,1,1,1,1,1,0]], axis=1) = [[129, 128], [127, 0]].
  const std::vector<uint8_t> masks = {1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0};
  const std::vector<uint8_t> packed = pack_masks(masks, 9);
  CHECK(packed == std::vector<uint8_t>{129, 128, 127, 0});
  CHECK(unpack_masks(packed, 2, 9) == masks);
  CHECK_THROWS_WITH(unpack_masks(packed, 3, 9), Catch::Contains("3 images of 9 patches need 6"));
}

TEST_CASE("patch stage: masks a method gives are applied as given, with no network", "[patches]") {
  const ImageSet train = marker_images(10);
  std::vector<ClassSelection> sel(1);
  sel[0].ids = {4, 7};
  sel[0].keep = {0.25f, 1.0f};
  sel[0].masks = {0, 0, 1, 0, 1, 1, 1, 1};  // image 4 keeps patch 2 of 4 only
  Params params("patches", patch_specs());
  params.set_from_text("patch_size", "4", "t");
  StageTimer timer;
  const PatchOptions config = parse_patch_options(params);  // drop: gradcampp, which would need a network
  CHECK_FALSE(config.needs_backend(sel));
  const PatchStageResult r = run_patch_stage(sel, {train, config, nullptr, timer, 1, ""});
  CHECK(r.masks == sel[0].masks);
  CHECK(r.grid.count() == 4);
  CHECK(r.keep == std::vector<float>{0.25f, 1.0f});
  const uint8_t fill = channel_mean_bytes(train)[0];
  const uint8_t* img = r.images.image(0);
  CHECK(img[0] == fill);                               // patch 0 dropped
  CHECK(img[4 * 8] == train.image(4)[4 * 8]);          // patch 2 (rows 4-7, columns 0-3) kept
  // Masks cut for another grid are refused, naming the grid.
  sel[0].masks.resize(6);
  CHECK_THROWS_WITH(run_patch_stage(sel, {train, config, nullptr, timer, 1, ""}),
                    Catch::Contains("2 x 2 patches of 4 px"));
}

TEST_CASE("patch stage: SPD cuts a candidate order to the budget and ranks through the cache", "[spd]") {
  const ImageSet train = marker_images(30);
  std::vector<ClassSelection> sel(1);
  sel[0].ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  sel[0].keep.assign(10, 1.0f);
  // every theta admissible: theta* = 0.9 keeps floor(4 * 0.1) = 0 of 4 patches
  sel[0].spd = SpdRequest{.threshold = 1e9, .budget = 0.0};
  Params params("patches", patch_specs());
  params.set_from_text("patch_size", "4", "t");
  StageTimer timer;
  FakeBackend backend(64);
  const auto dir = test::scratch_dir("patch_stage_spd");
  {
    auto s = sel;
    s[0].spd = SpdRequest{.threshold = -1, .budget = 3};  // nothing admissible: whole images, 3 of them for a budget of 3
    const PatchStageResult r = run_patch_stage(s, {train, parse_patch_options(params), &backend, timer, 1, dir.string()});
    CHECK(s[0].ids == std::vector<int64_t>{1, 2, 3});
    CHECK(r.ids == std::vector<int64_t>{1, 2, 3});
    CHECK(r.metrics.at("spd_theta_0.0_count") == 3);
    CHECK(r.metrics.at("spd_mean_drop") == 0);
    CHECK(r.metrics.at("patch_storage_ratio") == Approx(3.0 / 30));
  }
  const int64_t ranked_before = backend.ranked;
  {
    auto s = sel;
    // every theta admissible: theta* = 0.9, 6 of 64 patches at 8 x 8 patches of 1 px
    s[0].spd = SpdRequest{.threshold = 1e9, .budget = 0.25};
    params.set_from_text("patch_size", "1", "t");
    const PatchStageResult r = run_patch_stage(s, {train, parse_patch_options(params), &backend, timer, 1, dir.string()});
    CHECK(r.metrics.at("spd_theta_0.9_count") == static_cast<double>(r.ids.size()));
    CHECK(r.metrics.at("spd_mean_drop") == Approx(0.9));
    for (float w : r.keep) CHECK(w == Approx(6.0 / 64));
    CHECK(std::abs(r.metrics.at("patch_storage_ratio") * 30 - 0.25) <= 0.5 * 6.0 / 64 + 1e-9);
    CHECK(backend.ranked > ranked_before);
  }
  // The second run with the same grid ranks nothing new: scores come from the cache file.
  const int64_t ranked_mid = backend.ranked;
  {
    auto s = sel;
    s[0].spd = SpdRequest{.threshold = 1e9, .budget = 0.25};
    const PatchStageResult r = run_patch_stage(s, {train, parse_patch_options(params), &backend, timer, 1, dir.string()});
    CHECK(backend.ranked == ranked_mid);
    CHECK(r.metrics.at("patch_rankings_computed") == 0);
  }
}

TEST_CASE("copy_dropped_patches takes only the dropped patches from the source", "[patches]") {
  const PatchGrid grid = PatchGrid::for_image(2, 4, 2, "t");  // 1 x 2 patches of 2 px
  std::vector<uint8_t> dst(8, 1), src(8, 9);
  copy_dropped_patches(dst.data(), src.data(), 1, 2, 4, grid, std::vector<uint8_t>{1, 0});
  CHECK(dst == std::vector<uint8_t>{1, 1, 9, 9, 1, 1, 9, 9});
}

namespace {
// Uniform images of value 200 on a `side` x `side` grid; reconstruction fills 7 (FakeBackend), and the
// embedding is the mean pixel, so the semantic offset of dropping d of P patches is ((200-7) d / P)^2:
// it grows with theta, and a threshold between two thetas' offsets makes SPD choose the lower one.
ImageSet uniform_images(int64_t n, int64_t side) {
  ImageSet s;
  s.n = n;
  s.channels = 1;
  s.height = s.width = side;
  s.pixels.assign(static_cast<size_t>(n * side * side), 200);
  for (int64_t i = 0; i < n; ++i) s.labels.push_back(0);
  return s;
}
double drop_offset(int64_t patches, double theta) {
  const double dropped = static_cast<double>(patches - kept_patch_count(patches, theta));
  return std::pow((200.0 - 7.0) * dropped / static_cast<double>(patches), 2);
}
}  // namespace

TEST_CASE("SPD's mask keeps exactly kept_patch_count(P, theta*) patches for every theta at P = 49, 64, 196", "[spd]") {
  // (image side, patch side): 7 x 7, 8 x 8 and 14 x 14 grids. The float k / P and back lost a patch for
  // P = 196 at theta 0.1, 0.2, 0.6, 0.8 and for P = 49 at 0.2 before the count was carried as an integer.
  for (const auto& [side, patch] : {std::pair<int64_t, int64_t>{28, 4}, {32, 4}, {28, 2}}) {
    const int64_t p = (side / patch) * (side / patch);
    const ImageSet train = uniform_images(4, side);
    Params params("patches", patch_specs());
    params.set_from_text("patch_size", std::to_string(patch), "t");
    params.set_from_text("batch", "2", "t");
    params.set_from_text("reconstruct", "mae", "t");  // the backend's fill (7), not the mean (200)
    StageTimer timer;
    FakeBackend backend(side * side);
    for (size_t t = 0; t < kSpdThetas.size(); ++t) {
      const double theta = kSpdThetas[t];
      INFO("P = " << p << ", theta = " << theta);
      std::vector<ClassSelection> sel(1);
      sel[0].ids = {0, 1, 2, 3};
      sel[0].keep.assign(4, 1.0f);
      // Between this theta's offset and the next one's: theta* = theta.
      const double threshold = t + 1 < kSpdThetas.size() ? (drop_offset(p, theta) + drop_offset(p, kSpdThetas[t + 1])) / 2
                                                         : drop_offset(p, theta) + 1;
      sel[0].spd = SpdRequest{.threshold = threshold, .budget = 2};
      const PatchStageResult r = run_patch_stage(sel, {train, parse_patch_options(params), &backend, timer, 1, ""});
      REQUIRE(!r.ids.empty());
      CHECK(r.metrics.at("spd_mean_drop") == Approx(theta));
      const int64_t kept = kept_patch_count(p, theta);
      for (size_t i = 0; i < r.ids.size(); ++i) {
        const uint8_t* img = r.images.image(static_cast<int64_t>(i));
        const int64_t filled = std::count(img, img + side * side, uint8_t{7});
        CHECK(filled == (p - kept) * patch * patch);  // the mask applied is the one SPD evaluated
        CHECK(r.keep[i] == static_cast<float>(static_cast<double>(kept) / static_cast<double>(p)));
      }
      CHECK(sel[0].keep == r.keep);  // the selection's keep fractions are those of the applied masks
    }
  }
}

TEST_CASE("SPD reports the kept-patch count it evaluated, as an integer", "[spd]") {
  const std::vector<int64_t> candidates = {0, 1, 2};
  for (const int64_t p : {49, 64, 196})
    for (double theta : kSpdThetas) {
      const auto offsets = [&](std::span<const int64_t> ids) {
        std::vector<double> out;
        for (size_t i = 0; i < ids.size(); ++i)
          for (double th : kSpdThetas) out.push_back(th <= theta + 1e-9 ? 0.0 : 2.0);
        return out;
      };
      const SpdResult r = semantic_offset_dropping(candidates, 1.0, 10, p, kSpdThetas, 3, offsets);
      REQUIRE(r.kept.size() == r.ids.size());
      for (size_t i = 0; i < r.ids.size(); ++i) {
        CHECK(r.kept[i] == kept_patch_count(p, theta));
        CHECK(r.keep[i] == static_cast<float>(static_cast<double>(r.kept[i]) / static_cast<double>(p)));
      }
    }
}

TEST_CASE("patch stage: an SPD selection's diagnostics become those of its stored prefix", "[spd]") {
  const ImageSet train = marker_images(30);
  std::vector<ClassSelection> sel(1);
  sel[0].ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  sel[0].keep.assign(10, 1.0f);
  sel[0].spd = SpdRequest{.threshold = -1, .budget = 3};  // whole images: 3 stored for a budget of 3
  sel[0].diagnostics["removals"] = 99;  // of the whole order
  sel[0].diagnostics["lambda_c"] = 0.5;
  sel[0].prefix_diagnostics = [](size_t n) { return std::map<std::string, double>{{"removals", double(n) * 10}}; };
  Params params("patches", patch_specs());
  params.set_from_text("patch_size", "4", "t");
  StageTimer timer;
  FakeBackend backend(64);
  (void)run_patch_stage(sel, {train, parse_patch_options(params), &backend, timer, 1, ""});
  REQUIRE(sel[0].ids.size() == 3);
  CHECK(sel[0].diagnostics.at("removals") == 30);
  CHECK(sel[0].diagnostics.at("lambda_c") == 0.5);  // what does not depend on the prefix stays
}
