#include "core/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "core/error.h"

extern char** environ;

namespace dq {

namespace {

// The process group of the command being waited for, read by the signal handler below.
std::atomic<pid_t> g_group{0};

// SIGTERM/SIGINT while a command runs: take its whole group down, then die of the signal as before.
extern "C" void kill_group_and_reraise(int sig) {
  kill_running_child_process();
  signal(sig, SIG_DFL);
  raise(sig);
}

// Installs the handler for the lifetime of one wait and restores what was there.
class ForwardTerminationSignals {
 public:
  explicit ForwardTerminationSignals(pid_t group) {
    g_group.store(group);
    struct sigaction sa {};
    sa.sa_handler = kill_group_and_reraise;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term_);
    sigaction(SIGINT, &sa, &old_int_);
  }
  ~ForwardTerminationSignals() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
    g_group.store(0);
  }

 private:
  struct sigaction old_term_ {}, old_int_ {};
};

// argv for execve: pointers into `args` (which must outlive the call), null-terminated.
std::vector<char*> exec_argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

void kill_running_child_process() {
  const pid_t group = g_group.load();
  if (group > 0) kill(-group, SIGKILL);
}

std::string resolve_program(const std::string& program) {
  if (program.empty()) throw Error("empty command");
  if (program.find('/') != std::string::npos) return program;
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end > start ? path.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + program;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  throw Error(fmt::format("program '{}' was not found in PATH ({})", program, path));
}

ChildProcessResult run_child_process(const ChildProcessSpec& spec) {
  DQ_ASSERT(!spec.argv.empty(), "run_child_process needs a program");
  DQ_ASSERT(g_group.load() == 0, "one child process at a time per process");
  // Everything the child needs is prepared here: between fork and exec only async-signal-safe calls.
  const std::string program = resolve_program(spec.argv[0]);
  std::vector<char*> argv = exec_argv(spec.argv);
  const int log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw Error(fmt::format("{}: cannot open the log file: {}", spec.log_path, std::strerror(errno)));
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    close(log_fd);
    throw Error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  rlimit limit{};
  getrlimit(RLIMIT_AS, &limit);
  if (spec.address_space_bytes > 0) {
    const rlim_t want = static_cast<rlim_t>(spec.address_space_bytes);
    if (limit.rlim_max == RLIM_INFINITY || want < limit.rlim_max) limit.rlim_max = want;
    limit.rlim_cur = limit.rlim_max;
  }
  const pid_t parent = getpid();
  const auto start = std::chrono::steady_clock::now();

  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    close(error_pipe[0]);
    close(error_pipe[1]);
    throw Error(fmt::format("cannot start '{}': fork failed: {}", spec.argv[0], std::strerror(errno)));
  }
  if (pid == 0) {
    // The child. Report a failure before exec through the pipe (errno, then a step number).
    auto fail = [&](int step) {
      const int codes[2] = {errno, step};
      [[maybe_unused]] ssize_t w = write(error_pipe[1], codes, sizeof codes);
      _exit(127);
    };
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the cell already died
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) fail(1);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) fail(2);
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // the cell's files (its database) stay out of the command
    if (setrlimit(RLIMIT_AS, &limit) != 0) fail(3);
    execve(program.c_str(), argv.data(), environ);
    fail(4);
  }
  // The parent. Set the group from this side too, so a signal right after fork already reaches it.
  setpgid(pid, pid);
  close(log_fd);
  close(error_pipe[1]);
  ForwardTerminationSignals forward(pid);
  int codes[2] = {0, 0};
  const ssize_t got = read(error_pipe[0], codes, sizeof codes);  // returns 0 at exec (close-on-exec)
  close(error_pipe[0]);

  ChildProcessResult result;
  int status = 0;
  if (got == static_cast<ssize_t>(sizeof codes)) {
    waitpid(pid, &status, 0);
    static const char* steps[] = {"", "enter its working directory", "redirect its output", "set its memory limit",
                                  "execute"};
    throw Error(fmt::format("cannot start '{}': failed to {} ({}): {}", spec.argv[0],
                            steps[codes[1] >= 1 && codes[1] <= 4 ? codes[1] : 0],
                            codes[1] == 1 ? spec.cwd : program, std::strerror(codes[0])));
  }
  bool term_sent = false;
  std::chrono::steady_clock::time_point term_time;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    const auto now = std::chrono::steady_clock::now();
    if (!term_sent && now >= spec.deadline) {
      kill(-pid, SIGTERM);
      term_sent = true;
      result.timed_out = true;
      term_time = now;
    } else if (term_sent && now - term_time > std::chrono::duration<double>(spec.kill_grace_s)) {
      kill(-pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);  // whatever the command left running in its group goes with it
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

std::vector<std::string> tail_lines(const std::string& path, size_t max_lines, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > static_cast<std::streamoff>(max_bytes) ? size - static_cast<std::streamoff>(max_bytes) : 0;
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<std::string> lines;
  size_t end = text.size();
  while (end > 0 && lines.size() < max_lines) {
    size_t begin = text.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string line = text.substr(begin, end - begin);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t lead = 0;
    while (lead < line.size() && std::isspace(static_cast<unsigned char>(line[lead]))) ++lead;
    if (lead < line.size()) lines.insert(lines.begin(), line.substr(lead));
    if (begin == 0) break;
    end = begin - 1;
  }
  return lines;
}

// ---- ChildProcess: polled by its parent, standard error through a pipe ----

ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::vector<std::string>& extra_env)
    : start_(std::chrono::steady_clock::now()) {
  std::vector<char*> argv = exec_argv(args);
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
