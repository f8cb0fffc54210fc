#include "harness/child_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "core/error.h"

extern char** environ;

namespace dq {

ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::vector<std::string>& extra_env)
    : start_(std::chrono::steady_clock::now()) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const auto& x : extra_env)
      if (entry.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) replaced = true;
    if (!replaced) env_store.push_back(entry);
  }
  for (const auto& x : extra_env) env_store.push_back(x);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Only async-signal-safe calls until exec. The death signal is set before exec, so the child dies
    // with this process even while it is still loading its libraries; it survives exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fds[1], 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid_ < 0) {
    ::close(fds[0]);
    throw Error(fmt::format("cannot start cell process '{}': {}", args[0], std::strerror(errno)));
  }
  fd_ = fds[0];
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (fd_ >= 0) ::close(fd_);
}

void ChildProcess::keep_line(const std::string& line) {
  tail_.push_back(line);
  while (tail_.size() > 32) tail_.pop_front();
}

void ChildProcess::read_available(std::string& forward) {
  if (fd_ < 0) return;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      partial_.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = partial_.find('\n')) != std::string::npos) {
        const std::string line = partial_.substr(0, nl);
        partial_.erase(0, nl + 1);
        forward += line + "\n";
        keep_line(line);
      }
      continue;
    }
    if (n == 0) {  // end of file: the child (and everything it started) closed stderr
      if (!partial_.empty()) {
        forward += partial_ + "\n";
        keep_line(partial_);
        partial_.clear();
      }
      ::close(fd_);
      fd_ = -1;
    }
    return;  // EAGAIN or EOF
  }
}

bool ChildProcess::poll_exit() {
  if (exited_) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  exited_ = true;
  if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) signal = WTERMSIG(status);
  return true;
}

void ChildProcess::send(int sig) const {
  if (!exited_) ::kill(pid_, sig);
}

std::string ChildProcess::tail(size_t lines, size_t line_chars) const {
  std::string out;
  const size_t first = tail_.size() > lines ? tail_.size() - lines : 0;
  for (size_t i = first; i < tail_.size(); ++i) {
    std::string l = tail_[i];
    if (l.size() > line_chars) l = l.substr(0, line_chars) + "...";
    out += (out.empty() ? "" : "\n") + l;
  }
  return out;
}

double ChildProcess::age_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace dq
