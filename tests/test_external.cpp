// External-command methods (methods/external.cpp): the command template, the inputs a command sees,
// the selection it gives back, and every way it can go wrong (FAILED, Timeout, OutOfMemory).
// Commands are small Python scripts (Debian's python3-numpy, scripts/install-deps.sh).
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "methods/class_partition.h"
#include "methods/external_command.h"
#include "methods/method.h"
#include "test_helpers.h"

using namespace dq;
namespace fs = std::filesystem;

namespace {

// Debian's interpreter first: install-deps.sh installs numpy for it.
std::string python_with_numpy() {
  for (const char* p : {"/usr/bin/python3", "python3"})
    if (std::system((std::string(p) + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return p;
  FAIL("no python3 with numpy found (scripts/install-deps.sh installs python3-numpy)");
  return "";
}

// 3 classes x 4 samples, d = 2; sample i sits at (i, -i) and has label i % 3.
struct Toy {
  std::vector<float> z;
  std::vector<int64_t> labels;
  ClassPartition part;
  Toy() {
    for (int64_t i = 0; i < 12; ++i) {
      z.push_back(static_cast<float>(i));
      z.push_back(static_cast<float>(-i));
      labels.push_back(i % 3);
    }
    part = partition_by_class(z.data(), 2, labels, 3);
  }
};

struct Run {
  std::vector<ClassSelection> selections;
  std::map<std::string, std::string> notes;
};

std::unique_ptr<SelectionMethod> external(const std::string& command, const std::string& params = "{}") {
  const auto& info = MethodRegistry::instance().find("external", "test");
  MethodSpec spec{"external", Params("method 'external'", info.params)};
  spec.params.set_from_text("command", command, "test");
  spec.params.set_from_text("params", params, "test");
  return spec.instantiate();
}

// Writes `body` as a Python script in `dir` and runs it as the external method over the toy classes.
Run run_script(const fs::path& dir, const std::string& body, uint64_t memory_limit = 1ull << 32,
               std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
               const ImageSet* images = nullptr, int drop_class = -1) {
  const fs::path script = dir / "method.py";
  // numpy only where the body uses it: its import is most of a short script's time.
  const bool numpy = body.find("np.") != std::string::npos;
  test::write_text(script, std::string("import json, sys\n") + (numpy ? "import numpy as np\n" : "") + body);
  Toy toy;
  MemoryBudget memory(memory_limit);
  StageTimer timer;
  Run run;
  SelectContext ctx{0.5, 42, memory, timer, {}};
  ctx.resources.work_dir = (dir / "cell").string();
  ctx.resources.deadline = deadline;
  ctx.resources.train_images = images;
  ctx.resources.cache_dir = (dir / "cache").string();
  ctx.resources.note = [&run](const std::string& k, const std::string& v) { run.notes[k] = v; };
  std::vector<ClassView> views = toy.part.views;
  if (drop_class >= 0) views.erase(views.begin() + drop_class);
  run.selections = external(python_with_numpy() + " " + script.string())->select(views, ctx);
  return run;
}

bool process_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  return state == "Z";  // a zombie waiting for its reaper is dead too
}

}  // namespace

TEST_CASE("external: the command is split like a shell would, and a value is always one argument", "[external]") {
  const CommandTemplate t(R"(python3 my.py --alpha {alpha} --tag '{tag} x' "a\"b" c\ d {{alpha}} {1} {})", "test");
  CHECK(t.arguments() == std::vector<std::string>{"python3", "my.py", "--alpha", "{alpha}", "--tag", "{tag} x",
                                                  "a\"b", "c d", "{{alpha}}", "{1}", "{}"});
  CHECK(t.placeholders() == std::set<std::string>{"alpha", "tag"});
  const auto argv = t.expand({{"alpha", "0.5"}, {"tag", "a b; rm -rf ~ $(x)"}}, "test");
  CHECK(argv == std::vector<std::string>{"python3", "my.py", "--alpha", "0.5", "--tag", "a b; rm -rf ~ $(x) x",
                                         "a\"b", "c d", "{alpha}", "{1}", "{}"});
  CHECK(shell_quote_join({"python3", "a b", "it's", "x=1"}) == R"(python3 'a b' 'it'\''s' x=1)");
  CHECK_THROWS_WITH(t.expand({{"alpha", "1"}}, "cfg.yaml:3:5"),
                    Catch::Contains("cfg.yaml:3:5: the command uses {tag} but params has no 'tag' (params: alpha)"));
  CHECK_THROWS_WITH(CommandTemplate("python3 'open", "here"), Catch::Contains("here: unterminated '"));
  CHECK_THROWS_WITH(CommandTemplate("  ", "here"), Catch::Contains("here: the command is empty"));
}

TEST_CASE("external: the command sees the cell's inputs and its picks come back per class, in its order",
          "[external]") {
  const fs::path dir = test::scratch_dir("external_roundtrip");
  // Checks its inputs, then picks, from classes 2 then 0, the sample with the largest first
  // coordinate; keeps half of each picked image.
  const Run run = run_script(dir, R"(
cell = json.load(open("cell.json"))
z, y, ids = np.load("embeddings.npy"), np.load("labels.npy"), np.load("ids.npy")
assert z.dtype == np.float32 and z.shape == (12, 2), z.shape
assert y.dtype == np.int64 and ids.dtype == np.int64
assert (z[:, 0] == ids).all() and (y == ids % 3).all()
assert [c["budget"] for c in cell["classes"]] == [2, 2, 2] and cell["seed"] == 42 and cell["ratio"] == 0.5
print("picked by", sys.argv[0])
pick = [int(ids[y == c][np.argmax(z[y == c, 0])]) for c in (2, 0)]
np.save("selection.npy", np.array(pick, dtype=np.int64))
np.save("keep.npy", np.array([0.5, 0.5], dtype=np.float32))
)");
  REQUIRE(run.selections.size() == 3);
  CHECK(run.selections[0].ids == std::vector<int64_t>{9});
  CHECK(run.selections[1].ids.empty());
  CHECK(run.selections[2].ids == std::vector<int64_t>{11});
  CHECK(run.selections[2].keep == std::vector<float>{0.5f});
  const std::string script = (dir / "method.py").string();
  CHECK(run.notes.at("external_script") == script);
  CHECK(run.notes.at("external_script_sha256") == sha256_file_hex(script));
  CHECK(run.notes.at("external_exit") == "code 0");
  CHECK(run.notes.at("external_command").find(script) != std::string::npos);
  std::ifstream log(run.notes.at("external_log"));
  std::string line;
  std::getline(log, line);
  CHECK(line == "picked by " + script);
}

TEST_CASE("external: the decoded training images are one uint8 N x C x H x W file per dataset, row = id",
          "[external]") {
  const fs::path dir = test::scratch_dir("external_images");
  ImageSet images;
  images.n = 12, images.channels = 3, images.height = 2, images.width = 1;
  for (int64_t i = 0; i < 12 * 6; ++i) images.pixels.push_back(static_cast<uint8_t>(i / 6 * 10 + i % 6));
  const std::string body = R"(
cell = json.load(open("cell.json"))
info = cell["images"]
x = np.load(info["path"])
assert x.dtype == np.uint8 and x.shape == (12, 3, 2, 1) and info["shape"] == [12, 3, 2, 1], x.shape
assert (x[:, 0, 0, 0] == np.arange(12) * 10).all() and (x[:, 2, 1, 0] == np.arange(12) * 10 + 5).all()
print(info["path"])
np.save("selection.npy", np.array([0], dtype=np.int64))
)";
  const Run first = run_script(dir, body, 1ull << 32, std::chrono::steady_clock::time_point::max(), &images);
  CHECK(first.selections[0].ids == std::vector<int64_t>{0});
  // Written once under the cache; a second cell reads the same file.
  const auto cached = std::distance(fs::directory_iterator(dir / "cache" / "external"), fs::directory_iterator());
  CHECK(cached == 1);
  run_script(dir, body, 1ull << 32, std::chrono::steady_clock::time_point::max(), &images);
  CHECK(std::distance(fs::directory_iterator(dir / "cache" / "external"), fs::directory_iterator()) == 1);
}

namespace {
void fails_with(const fs::path& dir, const std::string& body, const std::string& message) {
  INFO(body);
  CHECK_THROWS_WITH(run_script(dir, body), Catch::Contains(message));
}
}  // namespace

TEST_CASE("external: a selection with bad ids or dtype fails the cell with a precise message", "[external]") {
  const fs::path dir = test::scratch_dir("external_bad_ids");
  auto fails_with = [&](const std::string& body, const std::string& message) { ::fails_with(dir, body, message); };
  fails_with("np.save('selection.npy', np.array([0, 12], dtype=np.int64))",
             "selection.npy[1] = 12 is outside the training split (dataset ids 0..11)");
  fails_with("np.save('selection.npy', np.array([-1], dtype=np.int64))", "selection.npy[0] = -1 is outside");
  fails_with("np.save('selection.npy', np.array([3, 4, 3], dtype=np.int64))",
             "selection.npy holds id 3 twice (positions 0 and 2); ids must be unique");
  fails_with("np.save('selection.npy', np.array([3, 4], dtype=np.int32))",
             "selection.npy has dtype 'i4'; it must be int64 ('<i8')");
  fails_with("np.save('selection.npy', np.array([3.0]))", "selection.npy has dtype 'f8'");
  fails_with("np.save('selection.npy', np.array([[3, 4]], dtype=np.int64))", "selection.npy has 2 dimensions");
  // Class 1 (ids 1, 4, 7, 10) not given to the command: its ids are not the command's to pick.
  CHECK_THROWS_WITH(run_script(dir, "np.save('selection.npy', np.array([0, 4], dtype=np.int64))", 1ull << 32,
                               std::chrono::steady_clock::time_point::max(), nullptr, 1),
                    Catch::Contains("selection.npy[1] = 4 is not a training sample given to the command (not in ids.npy)"));
}

TEST_CASE("external: a failing command, no selection or a bad keep.npy fails the cell with a precise message",
          "[external]") {
  const fs::path dir = test::scratch_dir("external_bad_run");
  auto fails_with = [&](const std::string& body, const std::string& message) { ::fails_with(dir, body, message); };
  fails_with("pass", "the external command exited with code 0 but wrote no selection.npy in");
  fails_with("print('loading', flush=True); sys.exit('boom: no features')",
             "the external command exited with code 1 (last lines: loading | boom: no features; log: ");
  fails_with("import os; os.kill(os.getpid(), 9)", "the external command was killed by signal 9 (SIGKILL)");
  fails_with("np.save('selection.npy', np.array([3], dtype=np.int64)); np.save('keep.npy', np.array([1.5], dtype=np.float32))",
             "keep.npy[0] = 1.5 is outside (0, 1]");
  fails_with("np.save('selection.npy', np.array([3], dtype=np.int64)); np.save('keep.npy', np.array([0.5, 1], dtype=np.float32))",
             "keep.npy has shape (2); it must be (1,)");
  fails_with("np.save('selection.npy', np.array([3], dtype=np.int64)); np.save('keep.npy', np.array([0.5]))",
             "keep.npy has dtype 'f8'; it must be float32");
  // A selection left over from an earlier attempt is never read back.
  fails_with("np.save('selection.npy', np.array([3], dtype=np.int64)); sys.exit(2)", "exited with code 2");
  fails_with("pass", "wrote no selection.npy");
}

TEST_CASE("external: a command still running at the deadline is stopped with everything it started", "[external]") {
  const fs::path dir = test::scratch_dir("external_timeout");
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(run_script(dir, R"(
import os, subprocess, time
child = subprocess.Popen(["sleep", "60"])
open("pids.txt", "w").write(f"{os.getpid()} {child.pid}\n")
time.sleep(60)
)", 1ull << 32, start + std::chrono::milliseconds(4000)),
                  Timeout);
  // 4 s: the script must have written pids.txt before the deadline. 1.5 s was too short for Python to
  // start on a loaded machine (the sanitizer build's run failed at REQUIRE(sleeper > 0) at load 6).
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(waited < 14);
  std::ifstream pids(dir / "cell" / "pids.txt");
  pid_t script = 0, sleeper = 0;
  pids >> script >> sleeper;
  REQUIRE(sleeper > 0);
  for (int i = 0; i < 50 && !(process_gone(script) && process_gone(sleeper)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(process_gone(script));
  CHECK(process_gone(sleeper));
}

TEST_CASE("external: an allocation past the cell's memory limit ends as out of memory", "[external]") {
  const fs::path dir = test::scratch_dir("external_oom");
  // 4 GiB of address space under a 1 GiB cap: MemoryError at once, nothing touched.
  CHECK_THROWS_WITH(run_script(dir, "a = np.empty(4 << 30, dtype=np.uint8)\nnp.save('selection.npy', np.zeros(0, dtype=np.int64))",
                               1ull << 30),
                    Catch::Contains("the external command ran out of memory under its limit of 1.0 GiB (exited with "
                                    "code 1; last lines:") &&
                        Catch::Contains("Unable to allocate 4.00 GiB"));
  CHECK_THROWS_AS(run_script(dir, "a = np.empty(4 << 30, dtype=np.uint8)", 1ull << 30), OutOfMemory);
}

TEST_CASE("external: YAML params are part of the cell id and the label names the method in tables", "[external]") {
  const fs::path dir = test::scratch_dir("external_yaml");
  const auto yaml = [&](const std::string& methods) {
    test::write_text(dir / "x.yaml", "name: x\ndatabase: " + (dir / "x.db").string() +
                                         "\ndatasets:\n  b: {kind: synthetic_embeddings, classes: 2, per_class: 5, dim: 2}\n"
                                         "extractor: {kind: none}\ngrid:\n  ratio: [0.5]\n  method:\n" + methods);
    return load_experiment((dir / "x.yaml").string());
  };
  const std::string cmd = "command: \"python3 m.py --alpha {alpha} --tag {tag}\"";
  const Experiment ex = yaml("    - {name: external, " + cmd + ", label: mine, params: {alpha: 0.5, tag: a b}}\n"
                             "    - {name: external, " + cmd + ", label: mine, params: {tag: a b, alpha: 0.25}}\n");
  REQUIRE(ex.cells.size() == 2);
  CHECK(ex.cells[0].id() != ex.cells[1].id());
  CHECK(ex.cells[0].method.display() == "mine(alpha=0.5,tag=a b)");
  CHECK(ex.cells[1].label() == "b mine(alpha=0.25,tag=a b) r=0.5 s=0");
  CHECK(ex.cells[0].method.params.get_string("params") == R"({"alpha":"0.5","tag":"a b"})");
  CHECK_THROWS_WITH(yaml("    - {name: external, " + cmd + ", params: {alpha: 1}}\n"),
                    Catch::Contains("x.yaml:9:7 (key 'method'): ") && Catch::Contains("params has no 'tag'"));
  CHECK_THROWS_WITH(yaml("    - {name: external, params: {alpha: 1}}\n"), Catch::Contains("needs a command"));
  CHECK_THROWS_WITH(yaml("    - {name: external, " + cmd + ", params: {alpha: [1, 2], tag: x}}\n"),
                    Catch::Contains("value of 'alpha' must be a single value"));
}
