// ADQ: texture level and diversity against hand-worked and brute-force values, the per-bin shares,
// and the method end to end (exact budgets, importance moving samples, no-image behaviour).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "datasets/dataset.h"
#include "methods/adq_scores.h"
#include "methods/dq_common.h"
#include "test_dq_data.h"

using namespace dq;

TEST_CASE("texture level: Sobel with reflect-101 borders, hand-worked", "[dq]") {
  // A vertical step (0 0 255 in every row): with reflect-101 only the middle column sees it, where
  // G_x = (1 + 2 + 1) * (1 - 0) = 4 and G_y = 0. Mean of 0.5|G_x| + 0.5|G_y| = 3 * 2 / 9.
  const std::vector<uint8_t> step = {0, 0, 255, 0, 0, 255, 0, 0, 255};
  CHECK(texture_level(step.data(), 1, 3, 3) == Approx(2.0 / 3.0).epsilon(1e-12));
  const std::vector<uint8_t> flat(16, 77);
  CHECK(texture_level(flat.data(), 1, 4, 4) == 0.0);
  // Three channels: grey = 0.299 R + 0.587 G + 0.114 B; the step only in G.
  std::vector<uint8_t> rgb(27, 0);
  for (int r = 0; r < 3; ++r) rgb[9 + r * 3 + 2] = 255;
  CHECK(texture_level(rgb.data(), 3, 3, 3) == Approx(0.587 * 2.0 / 3.0).epsilon(1e-12));
}

TEST_CASE("diversity is the inverse mean cosine similarity, computed from the sum", "[dq]") {
  CHECK(diversity_from_sum(std::vector<double>{3, 0}, 3) == Approx(1.0));  // three identical unit vectors
  CHECK(diversity_from_sum(std::vector<double>{1, 1}, 2) == Approx(2.0));  // two orthogonal ones: mean cos 1/2
  CHECK(diversity_from_sum(std::vector<double>{}, 0) == 0.0);
  // Against the n x n matrix for random unit vectors.
  Rng rng(5);
  const int n = 40, d = 6;
  std::vector<std::vector<double>> v(n, std::vector<double>(d));
  std::vector<double> sum(d, 0.0);
  for (auto& x : v) {
    double n2 = 0;
    for (auto& e : x) e = rng.normal() + 0.5, n2 += e * e;
    for (int k = 0; k < d; ++k) x[k] /= std::sqrt(n2), sum[k] += x[k];
  }
  double mean = 0;
  for (const auto& a : v)
    for (const auto& b : v)
      for (int k = 0; k < d; ++k) mean += a[k] * b[k] / (n * n);
  CHECK(diversity_from_sum(sum, n) == Approx(1.0 / mean).epsilon(1e-12));
}

TEST_CASE("projection head matches a direct evaluation and is fixed by its seed", "[dq]") {
  const int64_t d = 10, n = 3;
  const auto rows = test::gaussian_mixture(n, d, 2, 0.5, 8);
  const ProjectionHead head(d, 4);
  std::vector<float> out(n * ProjectionHead::kOut), again(out.size()), other(out.size());
  head.project(rows.data(), n, out.data());
  head.project(rows.data(), n, again.data());
  ProjectionHead(d, 5).project(rows.data(), n, other.data());
  CHECK(out == again);
  CHECK(out != other);
  // A plain-loop evaluation of Linear -> ReLU -> Linear -> L2 normalisation with the same weights.
  const int64_t h = ProjectionHead::kHidden, o = ProjectionHead::kOut;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> hidden(h), y(o);
    for (int64_t j = 0; j < h; ++j) {
      double s = head.b1()[j];
      for (int64_t k = 0; k < d; ++k) s += static_cast<double>(head.w1()[j * d + k]) * rows[i * d + k];
      hidden[j] = std::max(0.0, s);
    }
    double n2 = 0;
    for (int64_t j = 0; j < o; ++j) {
      double s = head.b2()[j];
      for (int64_t k = 0; k < h; ++k) s += head.w2()[j * h + k] * hidden[k];
      y[j] = s, n2 += s * s;
    }
    for (int64_t j = 0; j < o; ++j) CHECK(out[i * o + j] == Approx(y[j] / std::sqrt(n2)).margin(1e-5));
  }
  // PyTorch's default ranges: |w1| <= 1/sqrt(d), |w2| <= 1/sqrt(512).
  auto within = [](const std::vector<float>& w, double bound) {
    return std::all_of(w.begin(), w.end(), [&](float x) { return std::abs(x) <= bound; });
  };
  CHECK(within(head.w1(), 1.0 / std::sqrt(static_cast<double>(d))));
  CHECK(within(head.w2(), 1.0 / std::sqrt(static_cast<double>(h))));
}

TEST_CASE("ADQ shares r_n = alpha * I_n + (1 - alpha) * N_n / sum N, hand-worked", "[dq]") {
  // Rep^ = (.25, .75), Div^ = (.5, .5) -> I = (.375, .625); size shares (.25, .75); alpha .5.
  const auto r = adq_bin_shares(std::vector<double>{1, 3}, std::vector<double>{2, 2}, std::vector<int64_t>{10, 30}, 0.5);
  CHECK(r[0] == Approx(0.3125));
  CHECK(r[1] == Approx(0.6875));
  // An empty bin scores nothing; all-zero texture falls back to equal shares over non-empty bins.
  const auto e = adq_bin_shares(std::vector<double>{0, 0, 0}, std::vector<double>{1, 0, 3}, std::vector<int64_t>{5, 0, 5}, 1.0);
  CHECK(e[0] == Approx(0.5 * (0.5 + 0.25)));
  CHECK(e[1] == 0.0);
  CHECK(e[2] == Approx(0.5 * (0.5 + 0.75)));
}

namespace {

std::vector<ClassSelection> run_adq(const std::string& spec, const test::MultiClass& data, const ImageSet* images,
                                    double ratio, uint64_t budget = 1ull << 32) {
  MemoryBudget memory(budget);
  StageTimer timer;
  SelectContext ctx{ratio, 11, memory, timer, {images, "", ""}};
  const auto views = data.views();
  return parse_method_spec(spec, "test").instantiate()->select(views, ctx);
}

}  // namespace

TEST_CASE("ADQ gives each class exactly its budget and follows the importance of bins", "[dq]") {
  const auto data = test::multi_class({150, 150, 120}, 12, 21);
  const auto views = data.views();
  // Bins are deterministic: find them first, then texture bin 0 of every class.
  std::vector<ClassBins> bins;
  std::set<int64_t> textured;
  for (const auto& v : views) {
    MemoryBudget memory(1ull << 30);
    bins.push_back(generate_graphcut_bins(v, BinParams{}, memory));
    for (int64_t p : bins.back()[0]) textured.insert(v.ids[static_cast<size_t>(p)]);
  }
  const ImageSet images = test::textured_images(data, textured);
  const double ratio = 0.15, theta = 0.25, alpha = 0.65;
  const auto adq = run_adq("adq", data, &images, ratio);

  // Expected shares from brute force: texture per bin by texture_level, diversity from the n x n
  // cosine matrix of the projected embeddings (pooled over classes).
  const ProjectionHead head(data.d, 0);
  std::vector<double> rep(10, 0), div(10, 0);
  std::vector<int64_t> sizes(10, 0);
  for (size_t b = 0; b < 10; ++b) {
    std::vector<std::vector<float>> units;
    for (size_t c = 0; c < views.size(); ++c)
      for (int64_t p : bins[c][b]) {
        const int64_t id = views[c].ids[static_cast<size_t>(p)];
        rep[b] += texture_level(images.image(id), 1, 6, 6);
        std::vector<float> u(ProjectionHead::kOut);
        head.project(views[c].row(p), 1, u.data());
        units.push_back(u);
      }
    sizes[b] = static_cast<int64_t>(units.size());
    rep[b] /= static_cast<double>(sizes[b]);
    double mean = 0;
    for (const auto& a : units)
      for (const auto& u : units)
        for (int64_t k = 0; k < ProjectionHead::kOut; ++k) mean += static_cast<double>(a[k]) * u[k];
    div[b] = static_cast<double>(sizes[b]) * sizes[b] / mean;
  }
  const auto shares = adq_bin_shares(rep, div, sizes, alpha);
  CHECK(shares[0] > 0.3);  // the only textured bin: 0.65 * (1 + ~0.1) / 2 + 0.35 * 0.1

  for (size_t c = 0; c < views.size(); ++c) {
    const auto m = views[c].size();
    const int64_t budget = std::llround(ratio * static_cast<double>(m) / (1 - theta));
    std::vector<int64_t> caps;
    for (const auto& bin : bins[c]) caps.push_back(static_cast<int64_t>(bin.size()));
    std::vector<int64_t> want = apportion(budget, shares, caps);
    CHECK(static_cast<int64_t>(adq[c].ids.size()) == budget);
    for (size_t b = 0; b < 10; ++b) {
      std::set<int64_t> members;
      for (int64_t p : bins[c][b]) members.insert(views[c].ids[static_cast<size_t>(p)]);
      const auto got = std::count_if(adq[c].ids.begin(), adq[c].ids.end(), [&](int64_t id) { return members.count(id); });
      CHECK(got == want[b]);
    }
    CHECK(adq[c].diagnostics.at("adq_share_bin0") == Approx(shares[0]).epsilon(1e-6));
  }
}

TEST_CASE("ADQ with alpha 0 on equal classes is DQ", "[dq]") {
  const auto data = test::multi_class({100, 100}, 6, 22);
  const ImageSet images = test::textured_images(data, {});
  const auto adq = run_adq("adq(alpha=0,mode=memo)", data, &images, 0.2);
  const auto dq = run_adq("dq(mode=memo)", data, nullptr, 0.2);
  for (size_t c = 0; c < 2; ++c) CHECK(adq[c].ids == dq[c].ids);
}

TEST_CASE("ADQ without images fails clearly, but only after bin generation", "[dq]") {
  const auto data = test::multi_class({100, 90}, 6, 23);
  CHECK_THROWS_WITH(run_adq("adq", data, nullptr, 0.1), Catch::Contains("embeddings only"));
  CHECK_THROWS_AS(run_adq("adq", data, nullptr, 0.1, 4ull * 100 * 100 - 1), OutOfMemory);
}
