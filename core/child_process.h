#pragma once
// Child processes, the one home for fork/exec. Two ways to run one, both without a shell and both
// with PR_SET_PDEATHSIG set between fork and exec, so a child never outlives its parent:
//  - run_child_process: another program run to completion on behalf of a cell
//    (methods/external.cpp), in its own process group, with an address-space cap, stdout and stderr
//    appended to a log file, and a deadline. The whole group dies with the cell: at the deadline
//    (SIGTERM, then SIGKILL after a grace period), when the cell process itself receives SIGTERM or
//    SIGINT while waiting (the runner's watchdog), and when the cell process dies outright.
//  - ChildProcess: a process that runs alongside the caller, which polls it (the runner's cell
//    processes, harness/runner.cpp), its standard error coming back through a pipe so the caller can
//    forward it and keep its last lines (recorded as the cell's error when the child dies without
//    recording one).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
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

class ChildProcess {
 public:
  // Starts argv[0] (a path: no PATH lookup) with `extra_env` ("NAME=value", replacing a variable of
  // that name) added to this process's environment. Throws dq::Error when it cannot start. The child
  // gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG, set before exec): start
  // children from a thread that lives as long as they should.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env);
  ~ChildProcess();  // kills and reaps a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stderr_fd() const { return fd_; }  // non-blocking; -1 once the child closed it
  // Reads what is available; each complete line goes to `forward` and to the tail.
  void read_available(std::string& forward);
  // Non-blocking reap; true once the child has exited (then exit_code / signal are set).
  bool poll_exit();
  void send(int signal) const;
  // The last `lines` lines of its standard error, each cut at `line_chars` characters.
  std::string tail(size_t lines = 8, size_t line_chars = 300) const;
  double age_s() const;  // seconds since it was started

  int exit_code = -1;
  int signal = 0;

 private:
  void keep_line(const std::string& line);
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string partial_;
  std::deque<std::string> tail_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dq
