// Deterministic class-conditional images for fast end-to-end tests. Each class is a striped
// texture with its own direction and period (8 directions x 6 periods) and, in RGB, its own base
// colour; each sample gets a small random phase shift, contrast and uniform pixel noise. A small
// CNN (or even a nearest-centroid rule) separates the classes well above chance within an epoch.
// Only integer arithmetic and IEEE + - * / are used (no libm), so the bytes are the same everywhere.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

struct Direction {
  int64_t dx, dy;
};
constexpr Direction kDirections[8] = {{1, 0}, {0, 1}, {1, 1}, {1, -1}, {2, 1}, {1, 2}, {2, -1}, {1, -2}};

struct ClassLook {
  Direction direction;
  int64_t period;
  double base[3];  // per-channel mean level
};

ClassLook class_look(int64_t c) {
  ClassLook look{kDirections[c % 8], 4 + 2 * ((c / 8) % 6), {}};
  uint64_t state = static_cast<uint64_t>(c) * 0x9E3779B97F4A7C15ULL + 12345;  // colour: from the class only
  for (double& b : look.base) b = 64.0 + static_cast<double>(splitmix64(state) % 129);
  return look;
}

uint8_t clamp_round(double v) { return static_cast<uint8_t>(std::clamp(std::floor(v + 0.5), 0.0, 255.0)); }

void draw(const ClassLook& look, int64_t size, int64_t channels, double noise, Rng& rng, uint8_t* out) {
  const int64_t phase = static_cast<int64_t>(rng.uniform_below(3));
  const double contrast = 0.6 + 0.4 * rng.uniform01();
  const int64_t p = look.period;
  for (int64_t c = 0; c < channels; ++c) {
    const double base = channels == 1 ? 128.0 : look.base[c];
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) {
        const int64_t u = (((look.direction.dx * x + look.direction.dy * y + phase) % p) + p) % p;
        const double triangle = static_cast<double>(std::abs(2 * u - p)) / static_cast<double>(p);  // in [0, 1]
        const double jitter = (2.0 * rng.uniform01() - 1.0) * noise * 127.0;
        out[(c * size + y) * size + x] = clamp_round(base + contrast * (triangle - 0.5) * 160.0 + jitter);
      }
  }
}

ImageSet make_split(const Params& p, const std::string& split, int64_t per_class) {
  const int64_t classes = p.get_int("classes"), size = p.get_int("image_size");
  const int64_t channels = p.get_string("channels") == "1" ? 1 : 3;
  const double noise = p.get_double("noise");
  const uint64_t split_seed = derive_seed(static_cast<uint64_t>(p.get_int("seed")), split);
  ImageSet s;
  s.n = classes * per_class;
  s.channels = channels;
  s.height = s.width = size;
  s.pixels.resize(static_cast<size_t>(s.n * s.image_bytes()));
  s.labels.resize(static_cast<size_t>(s.n));
  // Samples interleave the classes (0, 1, ..., k-1, 0, 1, ...) like a shuffled real dataset would.
  for (int64_t i = 0; i < s.n; ++i) {
    const int64_t c = i % classes;
    Rng rng(derive_seed(split_seed, static_cast<uint64_t>(i)));
    draw(class_look(c), size, channels, noise, rng, s.pixels.data() + i * s.image_bytes());
    s.labels[static_cast<size_t>(i)] = c;
  }
  return s;
}

Dataset load_synthetic_images(const Params& p) {
  Dataset d;
  d.kind = "synthetic_images";
  for (int64_t c = 0; c < p.get_int("classes"); ++c) d.class_names.push_back(fmt::format("class_{:03}", c));
  d.train = make_split(p, "train", p.get_int("train_per_class"));
  d.test = make_split(p, "test", p.get_int("test_per_class"));
  validate_dataset(d, "synthetic_images");
  return d;
}

DatasetLoaderInfo make_synthetic_images_info() {
  DatasetLoaderInfo info;
  info.kind = "synthetic_images";
  info.description = "deterministic class-conditional striped textures with noise, for fast end-to-end tests";
  info.params = {
      {"classes", ParamType::Int, int64_t{10}, "number of classes", {}, 2.0, 1000.0},
      {"train_per_class", ParamType::Int, int64_t{100}, "train images per class", {}, 1.0, {}},
      {"test_per_class", ParamType::Int, int64_t{20}, "test images per class", {}, 0.0, {}},
      {"image_size", ParamType::Int, int64_t{32}, "side length in pixels", {}, 8.0, 1024.0},
      {"channels", ParamType::String, std::string("3"), "3 = RGB, 1 = grey", {"1", "3"}, {}, {}},
      {"noise", ParamType::Double, 0.25, "uniform pixel noise amplitude, as a fraction of 127", {}, 0.0, 2.0},
      {"seed", ParamType::Int, int64_t{0}, "seed of the per-sample variation", {}, 0.0, {}},
  };
  info.load = load_synthetic_images;
  info.fingerprint = [](const Params& p) { return "synthetic_images|" + params_identity(p); };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_synthetic_images_info);
}  // namespace dq
