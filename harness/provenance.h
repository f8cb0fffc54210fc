#pragma once
#include <string>

#include "harness/store.h"

namespace dq {
// Where and how a result was produced: git commit (+ dirty flag) of the source tree this binary was
// built from, host, CPU, cores, library versions, thread settings, build type and command line; the
// build's code identity (core/code_identity.h) and the load average now (load1_end). The caller adds
// what only it knows: the producers the cell used (code_identities) and the load when it started.
Provenance collect_provenance(int64_t threads, const std::string& torch_version, const std::string& command_line);
}  // namespace dq
