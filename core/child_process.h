#pragma once
// Runs another program to completion on behalf of a cell (methods/external.cpp): no shell, its own
// process group, an address-space cap, stdout and stderr appended to a log file, and a deadline.
// The whole group dies with the cell: at the deadline (SIGTERM, then SIGKILL after a grace period),
// when the cell process itself receives SIGTERM or SIGINT while waiting (the runner's watchdog), and
// when the cell process dies outright (PR_SET_PDEATHSIG on the direct child).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dq {

struct ChildProcessSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in PATH
  std::string cwd;                // working directory of the child
  std::string log_path;           // stdout and stderr are appended here
  uint64_t address_space_bytes = 0;  // RLIMIT_AS of the child; 0 = inherit the caller's
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  double kill_grace_s = 2.0;      // SIGTERM -> SIGKILL delay at the deadline
};

struct ChildProcessResult {
  int exit_code = -1;   // when it exited normally
  int signal = 0;       // when a signal ended it (SIGKILL after a timeout included)
  bool timed_out = false;
  double wall_s = 0;
  bool ok() const { return !timed_out && signal == 0 && exit_code == 0; }
};

// Throws dq::Error if the program cannot be found or started (the message names it and errno's text).
ChildProcessResult run_child_process(const ChildProcessSpec& spec);
// SIGKILLs the whole process group of the command run_child_process is waiting for, if any. Async-signal
// safe; for whoever ends this process abruptly (a signal handler, the cell's own timeout watchdog).
void kill_running_child_process();

// argv[0] as execvp would find it: itself if it contains '/', else the first executable PATH entry.
// Throws dq::Error naming the program when none is found.
std::string resolve_program(const std::string& program);

// The last `max_lines` non-empty lines of a text file (empty if unreadable), each trimmed.
std::vector<std::string> tail_lines(const std::string& path, size_t max_lines, size_t max_bytes = 64 * 1024);

}  // namespace dq
