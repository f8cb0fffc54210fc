// `dqbench select`: a round trip through .npy files, the CLI wiring and its error cases.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <numeric>
#include <set>
#include <sstream>

#include "core/npy.h"
#include "harness/select_command.h"
#include "methods/method.h"
#include "tests/test_bgfdq_data.h"
#include "tests/test_helpers.h"

using namespace dq;

namespace {

struct Files {
  std::string dir, z, y;
};

// 3 classes with labels 5, -1, 2 interleaved (so grouping by label must reorder rows).
Files write_inputs(const std::string& name, const dq::test::Points& p) {
  const auto dir = dq::test::scratch_dir(name);
  Files f{dir.string(), (dir / "z.npy").string(), (dir / "y.npy").string()};
  write_npy(f.z, p.z.data(), {p.n, p.d});
  std::vector<int64_t> y(static_cast<size_t>(p.n));
  const int64_t labels[3] = {5, -1, 2};
  for (int64_t i = 0; i < p.n; ++i) y[static_cast<size_t>(i)] = labels[i % 3];
  write_npy(f.y, y.data(), {p.n});
  return f;
}

SelectOptions options_for(const Files& f, const std::string& method, double ratio) {
  SelectOptions o;
  o.method = method;
  o.embeddings = f.z;
  o.labels = f.y;
  o.ratio = ratio;
  o.out = f.dir + "/sel.npy";
  return o;
}

int run(const SelectOptions& o, std::string* err_text = nullptr) {
  std::ostringstream out, err;
  const int status = run_select(o, out, err);
  if (err_text) *err_text = err.str();
  return status;
}

}  // namespace

TEST_CASE("select writes the method's picks, class by class in label order", "[select]") {
  const dq::test::Points p = dq::test::clustered_points(300, 8, 4, 0.0, 2);
  const Files f = write_inputs("select_round_trip", p);
  SelectOptions o = options_for(f, "bgfdq(k=10)", 0.2);
  o.seed = 3;
  o.keep_out = f.dir + "/keep.npy";
  std::ostringstream out, err;
  REQUIRE(run_select(o, out, err) == 0);
  REQUIRE(err.str().empty());
  REQUIRE(out.str().find("select/neighbour_id (x3)") != std::string::npos);
  REQUIRE(out.str().find("coverage_mean") != std::string::npos);
  REQUIRE(out.str().find("lambda_c") != std::string::npos);

  // The same method called directly on the same grouping.
  std::vector<std::vector<int64_t>> members(3);  // labels -1, 2, 5
  std::vector<std::vector<float>> rows(3);
  const int slot[3] = {2, 0, 1};  // i % 3 -> position of its label in sorted order
  for (int64_t i = 0; i < p.n; ++i) {
    members[static_cast<size_t>(slot[i % 3])].push_back(i);
    rows[static_cast<size_t>(slot[i % 3])].insert(rows[static_cast<size_t>(slot[i % 3])].end(), p.z.begin() + i * 8, p.z.begin() + i * 8 + 8);
  }
  const int64_t label_of[3] = {-1, 2, 5};
  std::vector<ClassView> classes;
  for (size_t c = 0; c < 3; ++c) classes.push_back(ClassView{label_of[c], members[c], rows[c].data(), 8});
  MemoryBudget memory(1 << 30);
  StageTimer timer;
  SelectContext ctx{0.2, 3, memory, timer, {}};
  const auto expected = parse_method_spec("bgfdq(k=10)", "test").instantiate()->select(classes, ctx);
  std::vector<int64_t> want;
  for (const auto& s : expected) want.insert(want.end(), s.ids.begin(), s.ids.end());

  const NpyArray sel = read_npy(o.out);
  REQUIRE(sel.dtype == "i8");
  REQUIRE(sel.shape == std::vector<int64_t>{static_cast<int64_t>(want.size())});
  REQUIRE(sel.as_int64(o.out) == want);
  const NpyArray keep = read_npy(o.keep_out);
  REQUIRE(keep.as_float32(o.keep_out) == std::vector<float>(want.size(), 0.75f));
}

TEST_CASE("select accepts float64 embeddings and (N, 1) labels", "[select]") {
  const auto dir = dq::test::scratch_dir("select_f64");
  const std::vector<double> z = {0, 0, 1, 1, 5, 5, 6, 6};
  const std::string zpath = (dir / "z.npy").string(), ypath = (dir / "y.npy").string();
  write_npy(zpath, z.data(), {4, 2});
  const std::vector<int64_t> y = {0, 0, 0, 0};
  write_npy(ypath, y.data(), {4, 1});
  const SelectOptions o = options_for(Files{dir.string(), zpath, ypath}, "random", 0.5);
  REQUIRE(run(o) == 0);
  REQUIRE(read_npy(o.out).shape == std::vector<int64_t>{2});
}

TEST_CASE("select rejects bad input with a message and a non-zero status", "[select]") {
  const dq::test::Points p = dq::test::clustered_points(30, 4, 2, 0.0, 2);
  const Files f = write_inputs("select_errors", p);
  const SelectOptions good = options_for(f, "random", 0.5);
  std::string err;

  SelectOptions o = good;
  o.embeddings = f.dir + "/missing.npy";
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("missing.npy") != std::string::npos);

  o = good;
  o.embeddings = f.y;  // 1-D
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("2-D") != std::string::npos);

  o = good;
  const std::vector<int64_t> short_labels(29, 0);
  write_npy(f.dir + "/short.npy", short_labels.data(), {29});
  o.labels = f.dir + "/short.npy";
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("29 labels for 30") != std::string::npos);

  o = good;
  o.labels = f.z;  // float labels
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("z.npy") != std::string::npos);

  for (double ratio : {0.0, -0.1, 1.5}) {
    o = good;
    o.ratio = ratio;
    REQUIRE(run(o, &err) == 2);
    REQUIRE(err.find("outside (0, 1]") != std::string::npos);
  }

  o = good;
  o.method = "nosuchmethod";
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("unknown method 'nosuchmethod'") != std::string::npos);

  o = good;
  o.method = "bgfdq(k=0)";
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("'k'") != std::string::npos);

  o = good;
  o.bins_out = f.dir + "/bins.npy";
  REQUIRE(run(o, &err) == 2);
  REQUIRE(err.find("produces no bins") != std::string::npos);

  o = good;
  o.method = "bgfdq";
  o.memory_budget = "1KiB";
  REQUIRE(run(o, &err) == 3);
  REQUIRE(err.find("out of memory budget") != std::string::npos);
}

TEST_CASE("the select subcommand parses its options and reports failure as its exit status", "[select]") {
  const dq::test::Points p = dq::test::clustered_points(60, 4, 2, 0.0, 2);
  const Files f = write_inputs("select_cli", p);
  {
    CLI::App app("dqbench");
    add_select_command(app);
    const std::string out = f.dir + "/cli.npy";
    std::vector<std::string> args = {"dqbench", "select", "--method", "bgfdq(k=5,knn=exact)", "--embeddings", f.z, "--labels",
                                     f.y, "--ratio", "0.5", "--out", out, "--seed", "9", "--cache-dir", f.dir + "/cache"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream sink;
    auto* old = std::cout.rdbuf(sink.rdbuf());
    app.parse(static_cast<int>(argv.size()), argv.data());
    std::cout.rdbuf(old);
    const auto ids = read_npy(out).as_int64(out);
    REQUIRE(std::set<int64_t>(ids.begin(), ids.end()).size() == ids.size());
    REQUIRE(sink.str().find("knn_cache_hit") != std::string::npos);
  }
  {
    CLI::App app("dqbench");
    add_select_command(app);
    std::vector<std::string> args = {"dqbench", "select", "--method", "random", "--embeddings", f.z, "--labels",
                                     f.y,       "--ratio",  "2",      "--out",    f.dir + "/x.npy"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream sink;
    auto* old = std::cerr.rdbuf(sink.rdbuf());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
      FAIL("expected a failure status");
    } catch (const CLI::RuntimeError& e) {
      REQUIRE(e.get_exit_code() == 2);
    }
    std::cerr.rdbuf(old);
    REQUIRE(sink.str().find("outside (0, 1]") != std::string::npos);
  }
}

TEST_CASE("select refuses options it cannot honour before reading any input", "[select][hygiene]") {
  const dq::test::Points p = dq::test::clustered_points(30, 4, 2, 0.0, 2);
  const Files f = write_inputs("select_refuse_first", p);
  // Inputs that do not exist: an error about them would mean the options were checked too late.
  SelectOptions o = options_for(Files{f.dir, f.dir + "/absent_z.npy", f.dir + "/absent_y.npy"}, "bgfdq(k=10)", 0.5);
  o.bins_out = f.dir + "/bins.npy";
  std::string err;
  REQUIRE(run(o, &err) == 2);
  CHECK(err == "dqbench select: --bins-out " + o.bins_out +
                   ": method 'bgfdq' produces no bins (methods with bins: adq, dq, dqas_approx)\n");
  CHECK_FALSE(std::filesystem::exists(o.out));

  o.bins_out.clear();
  o.method = "adq";
  REQUIRE(run(o, &err) == 2);
  CHECK(err.find("dqbench select: --method adq: method 'adq' needs the training images") == 0);

  o = options_for(Files{f.dir, f.dir + "/absent_z.npy", f.dir + "/absent_y.npy"}, "random", 0.5);
  o.keep_out = o.out;
  REQUIRE(run(o, &err) == 2);
  CHECK(err == "dqbench select: --keep-out " + o.out + ": the same file as --out\n");

  o = options_for(f, "random", 0.5);
  o.out = f.z;  // would overwrite the embeddings
  REQUIRE(run(o, &err) == 2);
  CHECK(err == "dqbench select: --out " + f.z + ": would overwrite the input --embeddings\n");
  CHECK(read_npy(f.z).shape == std::vector<int64_t>{30, 4});

  o = options_for(f, "random", 0.5);
  o.out = f.dir + "/no/such/folder/sel.npy";
  REQUIRE(run(o, &err) == 2);
  CHECK(err == "dqbench select: --out " + o.out + ": folder " + f.dir + "/no/such/folder does not exist\n");

  // Before: a non-regular output was replaced by the final rename (as root, --out /dev/null turned
  // /dev/null into a file), or failed only after the whole selection.
  const std::string fifo = f.dir + "/pipe.npy";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  o = options_for(Files{f.dir, f.dir + "/absent_z.npy", f.dir + "/absent_y.npy"}, "random", 0.5);
  o.keep_out = fifo;
  REQUIRE(run(o, &err) == 2);
  CHECK(err == "dqbench select: --keep-out " + fifo + ": not a regular file (a device, pipe or socket); give a file path\n");
  CHECK(std::filesystem::is_fifo(fifo));
  o.keep_out.clear();
  o.out = "/dev/null";
  REQUIRE(run(o, &err) == 2);
  CHECK(err == "dqbench select: --out /dev/null: not a regular file (a device, pipe or socket); give a file path\n");
  CHECK(std::filesystem::is_character_file("/dev/null"));

  // A folder the user cannot write in: refused before the selection, naming the user's path, not a
  // temporary (root may write anywhere, so this part needs an ordinary user).
  if (::geteuid() != 0) {
    const std::string locked = f.dir + "/locked";
    std::filesystem::create_directory(locked);
    std::filesystem::permissions(locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    o.out = locked + "/sel.npy";
    REQUIRE(run(o, &err) == 2);
    CHECK(err == "dqbench select: --out " + o.out + ": cannot write in folder " + locked + ": Permission denied\n");
    std::filesystem::permissions(locked, std::filesystem::perms::owner_all);
  }
}

TEST_CASE("a failing select leaves no output behind, and earlier files as they were", "[select][hygiene]") {
  const dq::test::Points p = dq::test::clustered_points(30, 4, 2, 0.0, 2);
  const Files f = write_inputs("select_no_partial", p);
  SelectOptions o = options_for(f, "bgfdq", 0.5);
  o.keep_out = f.dir + "/keep.npy";
  const std::vector<int64_t> earlier = {42};
  write_npy(o.out, earlier.data(), {1});
  o.memory_budget = "1KiB";  // fails inside the selection, after the outputs were registered
  std::string err;
  REQUIRE(run(o, &err) == 3);
  CHECK(read_npy(o.out).as_int64(o.out) == earlier);
  CHECK_FALSE(std::filesystem::exists(o.keep_out));
  for (const auto& entry : std::filesystem::directory_iterator(f.dir))
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
  // The same command with a budget that fits writes both.
  o.memory_budget.clear();
  REQUIRE(run(o) == 0);
  CHECK(read_npy(o.out).shape[0] >= 15);  // 5 per class, more where patches are dropped
  CHECK(read_npy(o.keep_out).shape == read_npy(o.out).shape);
}
