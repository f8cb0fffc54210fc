#pragma once
#include <string>

#include "harness/store.h"

namespace dq {
// Where and how a result was produced: git commit (+ dirty flag) of the source tree this binary was
// built from, host, CPU, cores, library versions, thread settings, build type and command line.
Provenance collect_provenance(int64_t threads, const std::string& torch_version, const std::string& command_line);
}  // namespace dq
