#pragma once
// What can be known before a cell runs is checked before anything runs or is written: every
// dataset's files exist, methods that need images get datasets that have them (a method that needs
// embeddings without an extractor is refused when the file loads: harness/experiment.cpp). And a
// cache folder that cannot be written is not an error: caching is optional, so the run goes on
// without it after one warning.
#include <ostream>
#include <string>
#include <vector>

#include "harness/experiment.h"

namespace dq {

// One problem a run would stop at. `MissingData`: a dataset's files are absent or unreadable on this
// machine (the file itself may be fine: a paper-tier YAML on a machine without the data);
// `Config`: the file asks for something no machine can run (a method that needs images on a
// features-only dataset).
struct PreflightProblem {
  enum class Kind { MissingData, Config };
  Kind kind;
  std::string message;  // "<file>: dataset 'x': ..."
};

// Every problem found; empty if none.
std::vector<PreflightProblem> check_before_running(const Experiment& ex);
// Throws one dq::Error listing every problem of check_before_running.
void require_runnable(const Experiment& ex);

// `dqbench run --dry-run`: the problems as a labelled list ("" if none), and the dry run's exit status:
// 0 a real run would start, 2 a configuration problem (fix the file: a real run refuses it
// everywhere), 4 only data missing on this machine (a real run here refuses; the file is fine).
std::string render_preflight_problems(const std::vector<PreflightProblem>& problems);
int dry_run_exit_code(const std::vector<PreflightProblem>& problems);

// `cache_dir` if a file can be created in it (creating the folder if needed), else "" after one
// warning on `warn` (none if the environment has DQBENCH_CACHE_WARNED set: the runner warned already).
std::string preflight_cache_dir(const std::string& cache_dir, std::ostream& warn);

}  // namespace dq
