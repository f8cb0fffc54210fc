#pragma once
// Who runs a cell: host name, process id and the process's start time (so that a reused pid is not
// mistaken for the original). A RUNNING row records its owner; a runner on the same host can then
// tell at once whether the owner is still alive, instead of waiting for its heartbeat to go stale.
#include <cstdint>
#include <string>

namespace dq {

struct ProcessIdentity {
  std::string host;    // gethostname()
  int64_t pid = 0;
  std::string start;   // "<boot id>/<start time in clock ticks since boot>" (/proc/<pid>/stat field 22)

  static ProcessIdentity self();
  // The identity of a live process on this host (throws dq::Error if it does not exist).
  static ProcessIdentity of(int64_t pid);
  bool operator==(const ProcessIdentity&) const = default;
};

enum class Liveness { Alive, Dead, Unknown };  // Unknown: another host (or no identity recorded)

// Alive when `who` is this host's process with the same pid and start time (a zombie counts as dead);
// Dead when it is on this host and gone (or this host has rebooted since).
Liveness liveness(const ProcessIdentity& who);

std::string host_name();

}  // namespace dq
