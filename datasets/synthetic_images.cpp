// Deterministic class-conditional images for fast end-to-end tests. Each class is a striped
// texture with its own direction and period (8 directions x 6 periods) and, in RGB, its own base
// colour; each sample gets a small random phase shift, contrast and uniform pixel noise. A small
// CNN (or even a nearest-centroid rule) separates the classes well above chance within an epoch.
// Only integer arithmetic and IEEE + - * / are used (no libm), so the bytes are the same everywhere.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/param_table.h"
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

struct SyntheticImagesOptions {
  int64_t classes = 10;
  int64_t train_per_class = 100;
  int64_t test_per_class = 20;
  int64_t image_size = 32;  // side in px
  int64_t channels = 3;     // 3 = RGB, 1 = grey (given as the name "3" or "1")
  double noise = 0.25;      // uniform pixel noise amplitude, as a fraction of 127
  int64_t seed = 0;
};

const ParamTable<SyntheticImagesOptions>& synthetic_images_table() {
  using O = SyntheticImagesOptions;
  static const ParamTable<SyntheticImagesOptions> table{{
      field({.name = "classes", .help = "number of classes", .min = 2, .max = 1000}, &O::classes),
      field({.name = "train_per_class", .help = "train images per class", .min = 1}, &O::train_per_class),
      field({.name = "test_per_class", .help = "test images per class", .min = 0}, &O::test_per_class),
      field({.name = "image_size", .help = "side length in pixels", .min = 8, .max = 1024}, &O::image_size),
      field({.name = "channels", .help = "3 = RGB, 1 = grey"},
            named_values({int64_t{1}, int64_t{3}}, [](int64_t c) { return std::to_string(c); }), &O::channels),
      field({.name = "noise", .help = "uniform pixel noise amplitude, as a fraction of 127", .min = 0, .max = 2},
            &O::noise),
      field({.name = "seed", .help = "seed of the per-sample variation", .min = 0}, &O::seed),
  }};
  return table;
}

ImageSet make_split(const SyntheticImagesOptions& o, const std::string& split, int64_t per_class) {
  const int64_t classes = o.classes, size = o.image_size, channels = o.channels;
  const double noise = o.noise;
  const uint64_t split_seed = derive_seed(static_cast<uint64_t>(o.seed), split);
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
  const SyntheticImagesOptions o = synthetic_images_table().parse(p);
  Dataset d;
  d.kind = "synthetic_images";
  for (int64_t c = 0; c < o.classes; ++c) d.class_names.push_back(fmt::format("class_{:03}", c));
  d.train = make_split(o, "train", o.train_per_class);
  d.test = make_split(o, "test", o.test_per_class);
  validate_dataset(d, "synthetic_images");
  return d;
}

DatasetLoaderInfo make_synthetic_images_info() {
  DatasetLoaderInfo info;
  info.kind = "synthetic_images";
  info.description = "deterministic class-conditional striped textures with noise, for fast end-to-end tests";
  info.params = synthetic_images_table().specs();
  info.load = load_synthetic_images;
  info.fingerprint = [](const Params& p) { return "synthetic_images|" + params_identity(p); };
  info.sizes = [](const Params& p) -> std::optional<DatasetSizes> {
    const SyntheticImagesOptions o = synthetic_images_table().parse(p);
    return DatasetSizes{.train = o.classes * o.train_per_class,
                        .largest_class = o.train_per_class,
                        .image_height = o.image_size,
                        .image_width = o.image_size};
  };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_synthetic_images_info);
}  // namespace dq
