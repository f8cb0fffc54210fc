#include "harness/preflight.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "datasets/dataset.h"
#include "methods/method.h"

namespace dq {

std::vector<PreflightProblem> check_before_running(const Experiment& ex) {
  std::vector<PreflightProblem> problems;
  std::map<std::string, bool> dataset_ok;  // by the experiment's dataset name
  std::set<std::string> reported;
  for (const auto& cell : ex.cells) {
    const DatasetDefinition& d = cell.dataset;
    const DatasetLoaderInfo& info = DatasetRegistry::instance().find(d.kind, ex.file);
    if (!dataset_ok.count(d.name)) {
      dataset_ok[d.name] = true;
      if (info.fingerprint) {
        try {
          (void)info.fingerprint(d.params);  // stats every source file without decoding
        } catch (const Error& e) {
          dataset_ok[d.name] = false;
          problems.push_back({PreflightProblem::Kind::MissingData,
                              fmt::format("{}: dataset '{}': {}", ex.file, d.name, e.what())});
        }
      }
    }
    const std::string key = d.name + "|" + cell.method.name;
    if (reported.count(key)) continue;
    if (cell.method.traits().needs_images && !info.provides_images) {  // asked, not built again
      reported.insert(key);
      problems.push_back({PreflightProblem::Kind::Config,
                          fmt::format("{}: method '{}' needs the training images, but dataset '{}' (kind {}) provides "
                                      "features only",
                                      ex.file, cell.method.name, d.name, d.kind)});
    }
  }
  return problems;
}

void require_runnable(const Experiment& ex) {
  const auto problems = check_before_running(ex);
  if (problems.empty()) return;
  std::string msg = fmt::format("{} problem{} found before running (nothing was run or written):", problems.size(),
                                problems.size() == 1 ? "" : "s");
  for (const auto& p : problems) msg += "\n  " + p.message;
  throw Error(msg);
}

std::string render_preflight_problems(const std::vector<PreflightProblem>& problems) {
  if (problems.empty()) return "";
  std::string out = fmt::format("{} problem{} a real run would stop at before running anything:\n", problems.size(),
                                problems.size() == 1 ? "" : "s");
  for (const auto& p : problems)
    out += fmt::format("  [{}] {}\n", p.kind == PreflightProblem::Kind::Config ? "config" : "data", p.message);
  return out;
}

int dry_run_exit_code(const std::vector<PreflightProblem>& problems) {
  if (problems.empty()) return 0;
  for (const auto& p : problems)
    if (p.kind == PreflightProblem::Kind::Config) return 2;
  return 4;
}

std::string preflight_cache_dir(const std::string& cache_dir, std::ostream& warn) {
  if (cache_dir.empty()) return "";
  std::string why;
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) {
    why = ec.message();
  } else {
    std::string probe = (std::filesystem::path(cache_dir) / ".write-probe-XXXXXX").string();
    const int fd = ::mkstemp(probe.data());
    if (fd < 0) {
      why = std::strerror(errno);
    } else {
      ::close(fd);
      ::unlink(probe.c_str());
      return cache_dir;
    }
  }
  if (!std::getenv("DQBENCH_CACHE_WARNED"))
    warn << fmt::format("warning: cache_dir '{}' cannot be written ({}); running without caches (decoded "
                        "datasets, embeddings, bins and KNN graphs are recomputed by every cell)\n",
                        cache_dir, why)
         << std::flush;
  return "";
}

}  // namespace dq
