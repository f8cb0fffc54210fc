// Issue 11, kind 1: non-finite or unrepresentable embeddings are refused once, where they enter,
// naming the source, the dataset row, its class and the dimension, before any selection runs.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/embedding_check.h"
#include "core/error.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "harness/select_command.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
namespace fs = std::filesystem;

namespace {

// The example: 30 x 4 finite values, labels i % 3 (file row 7 is the third sample of class 1).
struct Example {
  std::string dir, z, y, out;
};

template <typename T>
Example write_example(const std::string& name, T bad) {
  const fs::path dir = test::scratch_dir(name);
  Example e{dir.string(), (dir / "z.npy").string(), (dir / "y.npy").string(), (dir / "sel.npy").string()};
  std::vector<T> z(30 * 4);
  for (size_t i = 0; i < z.size(); ++i) z[i] = static_cast<T>(0.25 * static_cast<double>(i % 17));
  z[7 * 4 + 2] = bad;
  std::vector<int64_t> y(30);
  for (int64_t i = 0; i < 30; ++i) y[static_cast<size_t>(i)] = i % 3;
  write_npy(e.z, z.data(), {30, 4});
  write_npy(e.y, y.data(), {30});
  return e;
}

int select(const Example& e, const std::string& method, std::string& err) {
  SelectOptions o;
  o.method = method;
  o.embeddings = e.z;
  o.labels = e.y;
  o.ratio = 0.5;
  o.out = e.out;
  std::ostringstream out, errs;
  const int status = run_select(o, out, errs);
  err = errs.str();
  return status;
}

}  // namespace

TEST_CASE("select: a NaN or inf in a .npy names the file, the dataset row, its class and the dim", "[hygiene]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const std::string method : {"bgfdq(k=3)", "random", "dq"}) {
    INFO(method);
    const Example e = write_example("check_nan_" + method.substr(0, 3), nan);
    std::string err;
    REQUIRE(select(e, method, err) == 2);
    CHECK(err == "dqbench select: " + e.z +
                     ": embedding row 7 (class 1), dim 2 is NaN (1 bad value in rows 0..29): embeddings must be finite\n");
    CHECK_FALSE(fs::exists(e.out));
  }
  const Example e = write_example("check_inf", inf);
  std::string err;
  REQUIRE(select(e, "random", err) == 2);  // random ignores embeddings, yet the file is still refused
  CHECK(err == "dqbench select: " + e.z +
                   ": embedding row 7 (class 1), dim 2 is +inf (1 bad value in rows 0..29): embeddings must be finite\n");
  CHECK_FALSE(fs::exists(e.out));
}

TEST_CASE("select: a float64 value beyond float32 is reported as such, not as non-finite", "[hygiene]") {
  const Example e = write_example("check_f64_overflow", -1e39);
  std::string err;
  REQUIRE(select(e, "bgfdq(k=3)", err) == 2);
  CHECK(err == "dqbench select: " + e.z +
                   ": embedding row 7 (class 1), dim 2 is -1e+39 in float64, beyond the float32 range (|x| <= "
                   "3.40282e+38) (1 bad value in rows 0..29): embeddings are used as float32\n");
  const Example n = write_example("check_f64_nan", std::numeric_limits<double>::quiet_NaN());
  REQUIRE(select(n, "random", err) == 2);
  CHECK(err.find("dim 2 is NaN") != std::string::npos);
  // 3.4e38 fits float32, but its squared distances do not: refused by the row-norm rule, not as float64.
  const Example max = write_example("check_f64_max", 3.4e38);
  REQUIRE(select(max, "random", err) == 2);
  CHECK(err.find("embedding row 7 (class 1) has squared norm 1.156e+77") != std::string::npos);
  const Example ok = write_example("check_f64_large", 1e18);  // large, and its distances fit float32
  REQUIRE(select(ok, "random", err) == 0);
}

TEST_CASE("check_embeddings: first bad row in order, class names, batch offsets, a count", "[hygiene]") {
  std::vector<float> z(5 * 3, 1.0f);
  z[4 * 3 + 0] = -std::numeric_limits<float>::infinity();
  z[2 * 3 + 1] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<int64_t> labels = {0, 1, 2, 0, 2};
  const std::vector<std::string> names = {"a", "b", "c"};
  CHECK_THROWS_WITH(check_embeddings(z.data(), 5, 3, {"src", labels, &names}),
                    "src: embedding row 2 (class 2 'c'), dim 1 is NaN (2 bad values in rows 0..4): embeddings must be "
                    "finite");
  // A batch of rows 100..104 of a larger set.
  CHECK_THROWS_WITH(check_embeddings(z.data(), 5, 3, {"net", labels, &names, 100}),
                    Catch::StartsWith("net: embedding row 102 (class 2 'c'), dim 1 is NaN (2 bad values in rows 100..104)"));
  const std::vector<double> wide = {1.0, 2.0, 5e38, 4.0};
  CHECK_THROWS_WITH(check_embeddings(wide.data(), 2, 2, {"net", std::span<const int64_t>(labels).first(2), &names}),
                    Catch::StartsWith("net: embedding row 1 (class 1 'b'), dim 0 is 5e+38 in float64"));
  const std::vector<float> fine(12, 5e18f);  // squared norm 7.5e37: every squared distance fits float32
  CHECK_NOTHROW(check_embeddings(fine.data(), 4, 3, {"ok", labels}));
}

TEST_CASE("finite embeddings whose squared distances overflow float32 are refused, naming the row", "[hygiene]") {
  // Before: 1e20 in every dim passed the finiteness check, and every method ran on inf distances
  // and printed inf coverage metrics (exit 0).
  std::vector<float> z(5 * 3, 1.0f);
  for (int j = 0; j < 3; ++j) z[3 * 3 + j] = 3e38f;  // finite floats, squared norm 2.7e77
  const std::vector<int64_t> labels = {0, 1, 2, 0, 2};
  const std::vector<std::string> names = {"a", "b", "c"};
  CHECK_THROWS_WITH(check_embeddings(z.data(), 5, 3, {"src", labels, &names, 10}),
                    "src: embedding row 13 (class 0 'a') has squared norm 2.7e+77, beyond 8.50706e+37 (1 such row in "
                    "rows 10..14): squared distances between rows would overflow float32; scale the embeddings down "
                    "(or subtract their mean, where a common offset makes the norms large)");
  const Example e = write_example<float>("hygiene_huge_row", 1e20f);
  {  // row 7 of the example gets 1e20 in every dim
    std::vector<float> v(30 * 4);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(0.25 * static_cast<double>(i % 17));
    for (int j = 0; j < 4; ++j) v[7 * 4 + j] = 1e20f;
    write_npy(e.z, v.data(), {30, 4});
  }
  for (const std::string method : {"random", "dq", "bgfdq(k=3)"}) {
    INFO(method);
    std::string err;
    CHECK(select(e, method, err) == 2);
    CHECK(err == "dqbench select: " + e.z + ": embedding row 7 (class 1) has squared norm 4e+40, beyond 8.50706e+37 "
                 "(1 such row in rows 0..29): squared distances between rows would overflow float32; scale the "
                 "embeddings down (or subtract their mean, where a common offset makes the norms large)\n");
    CHECK_FALSE(fs::exists(e.out));
  }
}

TEST_CASE("a dataset's own features are checked where they enter (synthetic_embeddings)", "[hygiene]") {
  // A class spread of 1e300 overflows float32 while the class centres are generated.
  CHECK_THROWS_WITH(test::load_with("synthetic_embeddings", {{"classes", "2"}, {"per_class", "5"}, {"dim", "3"},
                                                             {"clusters_per_class", "1"}, {"class_spread", "1e300"}}),
                    Catch::StartsWith("synthetic_embeddings features: embedding row 0 (class 0 'class_0'), dim 0 is ") &&
                        Catch::Contains("inf (30 bad values in rows 0..9): embeddings must be finite"));
  Dataset d = test::load_with("synthetic_embeddings", {{"classes", "2"}, {"per_class", "5"}, {"dim", "3"}});
  d.train_features[6 * 3 + 1] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(validate_dataset(d, "cache.dqds"),
                    "cache.dqds features: embedding row 6 (class 1 'class_1'), dim 1 is NaN (1 bad value in rows 0..9): "
                    "embeddings must be finite");
}

TEST_CASE("float64 rows that float32 cannot tell apart are found (and warned about, not refused)", "[hygiene]") {
  // A newcomer's float64 rows 1e-3 apart on an offset of 1e6 all became one row in float32, silently.
  std::vector<double> z = {1e6, 0.0, 1e6 + 1e-3, 0.0, 1e6, 0.0, 1e6 + 2e-3, 0.0, 5.0, 1e-50, 7.0, 1.0};
  // rows: 0 and 2 equal; 1 and 3 differ from 0 only below float32's step at 1e6; row 4 has 1e-50.
  const Float32Loss loss = float32_loss(z.data(), 6, 2);
  CHECK(loss.merged_rows == 2);  // rows 1 and 3 (row 2 is a float64 copy of row 0)
  CHECK(loss.merged_with == 0);
  CHECK(loss.merged_row == 1);
  CHECK(loss.zeroed_values == 1);
  CHECK(loss.zeroed_row == 4);
  CHECK(loss.zeroed_dim == 1);
  // Exact float32 values lose nothing.
  const std::vector<double> fine = {1.5, -2.0, 0.25, 3.0};
  const Float32Loss none = float32_loss(fine.data(), 2, 2);
  CHECK(none.merged_rows == 0);
  CHECK(none.zeroed_values == 0);
}
