#pragma once
// A child process whose standard error comes back through a pipe, so that the parent can forward it
// and keep its last lines (recorded as the cell's error when the child dies without recording one).
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

namespace dq {

class ChildProcess {
 public:
  // Starts argv[0] with `extra_env` ("NAME=value") added to this process's environment. The child
  // gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG, set before exec): start
  // children from a thread that lives as long as they should.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env);
  ~ChildProcess();  // kills and reaps a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stderr_fd() const { return fd_; }
  // Reads what is available; each complete line goes to `forward` and to the tail.
  void read_available(std::string& forward);
  // Non-blocking reap; true once the child has exited (then exit_code / signal are set).
  bool poll_exit();
  void send(int signal) const;
  std::string tail(size_t lines = 8, size_t line_chars = 300) const;
  double age_s() const;

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
