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

// Every problem found, one line each ("<file>: dataset 'x': ..."); empty if none.
std::vector<std::string> check_before_running(const Experiment& ex);
// Throws one dq::Error listing every problem of check_before_running.
void require_runnable(const Experiment& ex);

// `cache_dir` if a file can be created in it (creating the folder if needed), else "" after one
// warning on `warn` (none if the environment has DQBENCH_CACHE_WARNED set: the runner warned already).
std::string preflight_cache_dir(const std::string& cache_dir, std::ostream& warn);

}  // namespace dq
