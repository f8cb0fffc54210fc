// synthetic_images: determinism and learnability.
#include <catch2/catch.hpp>

#include "test_datasets_helpers.h"

using namespace dq;
using namespace dq::test;

namespace {
// Test accuracy of the nearest class mean (in pixel space) fitted on the train split.
double nearest_centroid_accuracy(const Dataset& d) {
  const int64_t k = d.num_classes(), b = d.train.image_bytes();
  std::vector<double> means(static_cast<size_t>(k * b), 0.0);
  std::vector<int64_t> counts(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < d.train.n; ++i) {
    const int64_t c = d.train.labels[i];
    ++counts[c];
    for (int64_t j = 0; j < b; ++j) means[c * b + j] += d.train.image(i)[j];
  }
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < b; ++j) means[c * b + j] /= static_cast<double>(counts[c]);
  int64_t correct = 0;
  for (int64_t i = 0; i < d.test.n; ++i) {
    int64_t best = -1;
    double best_dist = 0;
    for (int64_t c = 0; c < k; ++c) {
      double dist = 0;
      for (int64_t j = 0; j < b; ++j) {
        const double diff = d.test.image(i)[j] - means[c * b + j];
        dist += diff * diff;
      }
      if (best < 0 || dist < best_dist) best = c, best_dist = dist;
    }
    correct += best == d.test.labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(d.test.n);
}
}  // namespace

TEST_CASE("synthetic_images is deterministic and balanced", "[datasets]") {
  const KeyValues base = {{"classes", "5"}, {"train_per_class", "7"}, {"test_per_class", "3"}, {"image_size", "16"}};
  const Dataset a = load_with("synthetic_images", base);
  const Dataset b = load_with("synthetic_images", base);
  CHECK(a.train.pixels == b.train.pixels);
  CHECK(a.test.pixels == b.test.pixels);
  CHECK(a.train.n == 35);
  CHECK(a.test.n == 15);
  CHECK(a.train.channels == 3);
  CHECK(a.train.height == 16);
  CHECK(a.class_names.size() == 5);
  std::vector<int> counts(5, 0);
  for (auto l : a.train.labels) ++counts[l];
  CHECK(counts == std::vector<int>(5, 7));
  KeyValues other = base;
  other.push_back({"seed", "1"});
  const Dataset c = load_with("synthetic_images", other);
  CHECK(c.train.labels == a.train.labels);
  CHECK(c.train.pixels != a.train.pixels);
  CHECK(a.test.pixels != std::vector<uint8_t>(a.test.pixels.size(), a.test.pixels[0]));
}

TEST_CASE("synthetic_images classes are separable far above chance", "[datasets]") {
  const Dataset rgb = load_with("synthetic_images", {{"train_per_class", "50"}, {"test_per_class", "20"}});
  CHECK(nearest_centroid_accuracy(rgb) >= 0.8);  // chance: 0.1
  const Dataset grey = load_with("synthetic_images", {{"train_per_class", "50"}, {"test_per_class", "20"}, {"channels", "1"}});
  CHECK(grey.train.channels == 1);
  CHECK(nearest_centroid_accuracy(grey) >= 0.5);
}
