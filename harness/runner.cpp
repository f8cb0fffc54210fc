#include "harness/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ostream>
#include <thread>

#include "core/error.h"

extern char** environ;

namespace dq {

bool should_run(const CellRow& row, bool retry_failed, int64_t stale_after_s) {
  switch (row.status) {
    case CellStatus::Pending: return true;
    case CellStatus::Done:
    case CellStatus::Oom: return false;
    case CellStatus::Failed:
    case CellStatus::Timeout: return retry_failed;
    case CellStatus::Running: return row.heartbeat_age_s < 0 || row.heartbeat_age_s > stale_after_s;
  }
  return false;
}

namespace {

std::string format_duration(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{}h{:02}m", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
}

struct ChildResult {
  bool timed_out = false;
  int exit_code = -1;
  int signal = 0;
};

ChildResult run_child(const std::vector<std::string>& args, double timeout_s) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
    throw Error(fmt::format("cannot start cell process '{}'", args[0]));
  const auto start = std::chrono::steady_clock::now();
  ChildResult r;
  int status = 0;
  bool term_sent = false;
  std::chrono::steady_clock::time_point term_time;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!term_sent && elapsed > timeout_s) {
      kill(pid, SIGTERM);  // cooperative first
      term_sent = true;
      r.timed_out = true;
      term_time = std::chrono::steady_clock::now();
    } else if (term_sent && std::chrono::steady_clock::now() - term_time > std::chrono::seconds(10)) {
      kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace

RunSummary run_experiment(const Experiment& ex, const RunOptions& options, std::ostream& out) {
  Store store(ex.database);
  store.record_experiment(ex);
  RunSummary summary;
  summary.total = static_cast<int64_t>(ex.cells.size());
  std::vector<const CellConfig*> todo;
  for (const auto& cell : ex.cells) {
    const CellRow row = store.ensure_cell(cell);
    if (should_run(row, options.retry_failed, options.stale_after_s)) {
      todo.push_back(&cell);
    } else if (row.status == CellStatus::Done || row.status == CellStatus::Oom) {
      ++summary.skipped_done;
    } else if (row.status == CellStatus::Running) {
      ++summary.skipped_running;
      out << fmt::format("skip {}: RUNNING elsewhere (heartbeat {}s ago)\n", cell.label(), row.heartbeat_age_s);
    } else {
      ++summary.skipped_failed;
    }
  }
  out << fmt::format("experiment '{}': {} cells, {} already finished (skipped), {} to run{}\n", ex.name,
                     summary.total, summary.skipped_done, todo.size(),
                     summary.skipped_failed ? fmt::format(", {} FAILED/TIMEOUT left alone (--retry-failed re-runs them)",
                                                          summary.skipped_failed)
                                            : "");
  out.flush();
  const auto run_start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < todo.size(); ++i) {
    const CellConfig& cell = *todo[i];
    const std::string id = cell.id();
    std::string eta = "";
    if (i > 0) {
      const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      eta = fmt::format(", ETA {}", format_duration(spent / static_cast<double>(i) * static_cast<double>(todo.size() - i)));
    }
    const std::string prefix = fmt::format("[{}/{}]", i + 1, todo.size());
    out << fmt::format("{} {}{}\n", prefix, cell.label(), eta);
    out.flush();
    const ChildResult child =
        run_child({options.self_exe, "run-cell", ex.file, "--cell-id", id, "--progress", prefix}, ex.timeout_s);
    ++summary.ran;
    auto row = store.find_cell(id);
    DQ_ASSERT(row.has_value(), "cell row missing after run");
    if (child.timed_out) {
      store.set_status(id, CellStatus::Timeout, fmt::format("exceeded the timeout of {}", format_duration(ex.timeout_s)));
    } else if (row->status == CellStatus::Running || row->status == CellStatus::Pending) {
      // The child died before recording an outcome.
      const std::string why =
          child.signal ? fmt::format("cell process killed by signal {}{}", child.signal,
                                     child.signal == SIGKILL ? " (the kernel's out-of-memory killer?)" : "")
                       : fmt::format("cell process exited with code {} without recording a result", child.exit_code);
      store.set_status(id, CellStatus::Failed, why);
    }
    row = store.find_cell(id);
    switch (row->status) {
      case CellStatus::Done: ++summary.done; break;
      case CellStatus::Oom: ++summary.oom; break;
      case CellStatus::Timeout: ++summary.timeout; break;
      default: ++summary.failed; break;
    }
    if (row->status != CellStatus::Done)
      out << fmt::format("{} {} -> {}: {}\n", prefix, cell.label(), status_name(row->status), row->error);
  }
  out << fmt::format("ran {} cells: {} done, {} OOM, {} timeout, {} failed\n", summary.ran, summary.done,
                     summary.oom, summary.timeout, summary.failed);
  return summary;
}

}  // namespace dq
