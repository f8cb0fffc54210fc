#include "harness/runner.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <ostream>
#include <thread>

#include "core/child_process.h"
#include "core/error.h"
#include "core/text_escape.h"
#include "core/units.h"
#include "harness/cell_filter.h"
#include "harness/preflight.h"

namespace dq {

bool should_run(const CellRow& row, bool retry_failed, int64_t stale_after_s) {
  ClaimPolicy policy;
  policy.retry_failed = retry_failed;
  policy.stale_after_s = stale_after_s;
  return decide_resume(row, policy).run;
}

int run_exit_code(const RunSummary& s) {
  if (!s.stopped.empty()) return kExitBadInput;
  if (s.final_failed + s.final_timeout > 0) return kExitFailedCells;
  if (s.final_running + s.final_pending > 0) return kExitUnfinished;
  return kExitComplete;
}

namespace {

struct Running {
  const CellConfig* cell;
  std::string prefix;
  std::unique_ptr<ChildProcess> child;
  ProcessIdentity identity;
  bool term_sent = false, killed = false;
  double term_at = 0;
};

int64_t thread_share(const Experiment& ex, int64_t jobs) {
  if (ex.threads > 0) return ex.threads;
  const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  return std::max<int64_t>(1, cores / std::max<int64_t>(1, jobs));
}

}  // namespace

RunSummary run_experiment(const Experiment& ex, const RunOptions& options, std::ostream& out) {
  DQ_ASSERT(options.shard_count >= 1 && options.shard_index >= 0 && options.shard_index < options.shard_count,
            "bad shard");
  Store store(ex.database);
  store.record_experiment(ex);
  store.ensure_cells(ex.cells);
  std::vector<const CellConfig*> mine;
  for (size_t i = 0; i < ex.cells.size(); ++i)
    if (static_cast<int64_t>(i) % options.shard_count == options.shard_index) mine.push_back(&ex.cells[i]);

  if (!options.force.empty()) {
    const CellFilter filter = parse_cell_filter(options.force, "--force");
    std::vector<std::string> ids;
    for (const auto* c : mine)
      if (filter.matches(*c)) ids.push_back(c->id());
    const int64_t reset = store.reset_cells(ids);
    out << fmt::format("--force '{}': {} cells match, {} reset to PENDING{}\n", options.force, ids.size(), reset,
                       static_cast<int64_t>(ids.size()) > reset ? " (the others are RUNNING now)" : "");
  }

  ClaimPolicy policy;
  policy.retry_failed = options.retry_failed;
  policy.stale_after_s = options.stale_after_s;
  RunSummary summary;
  summary.total = static_cast<int64_t>(mine.size());
  std::vector<const CellConfig*> todo;
  for (const auto* cell : mine) {
    const CellRow row = *store.find_cell(cell->id());
    const ResumeDecision d = decide_resume(row, policy);
    if (d.run) {
      if (row.status == CellStatus::Running) out << fmt::format("redo {}: {}\n", cell->label(), d.reason);
      todo.push_back(cell);
    } else if (row.status == CellStatus::Done || row.status == CellStatus::Oom) {
      ++summary.skipped_done;
    } else if (row.status == CellStatus::Running) {
      ++summary.skipped_running;
      out << fmt::format("skip {}: {}\n", cell->label(), d.reason);
    } else {
      ++summary.skipped_failed;
    }
  }
  out << fmt::format("experiment '{}': {} cells, {} already finished (skipped), {} to run{}{}\n", ex.name,
                     summary.total, summary.skipped_done, todo.size(),
                     summary.skipped_failed ? fmt::format(", {} FAILED/TIMEOUT left alone (--retry-failed re-runs them)",
                                                          summary.skipped_failed)
                                            : "",
                     options.jobs > 1 ? fmt::format(", {} at a time", options.jobs) : "");
  out.flush();

  const int64_t share = thread_share(ex, options.jobs);
  std::vector<std::string> env;  // each child's thread share; a user's OMP_NUM_THREADS wins
  if (!std::getenv("OMP_NUM_THREADS")) env.push_back(fmt::format("OMP_NUM_THREADS={}", share));
  if (preflight_cache_dir(ex.cache_dir, std::cerr).empty()) env.push_back("DQBENCH_CACHE_WARNED=1");

  const auto run_start = std::chrono::steady_clock::now();
  std::vector<Running> active;
  size_t next = 0, finished = 0;
  auto launch = [&](const CellConfig& cell) {
    const std::string prefix = fmt::format("[{}/{}]", next + 1, todo.size());
    std::string eta;
    if (finished > 0) {
      const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      eta = fmt::format(", ETA {}", format_duration(spent / static_cast<double>(finished) *
                                                    static_cast<double>(todo.size() - finished)));
    }
    out << fmt::format("{} {}{}\n", prefix, cell.label(), eta);
    out.flush();
    std::vector<std::string> args = {options.self_exe,
                                     "run-cell",
                                     ex.file,
                                     "--index",
                                     std::to_string(&cell - ex.cells.data()),
                                     "--cell-id",
                                     cell.id(),
                                     "--db",
                                     ex.database,
                                     "--progress",
                                     prefix,
                                     "--parent-pid",
                                     std::to_string(::getpid())};
    if (options.retry_failed) args.push_back("--retry-failed");
    Running r{&cell, prefix, std::make_unique<ChildProcess>(args, env), {}};
    try {
      r.identity = ProcessIdentity::of(r.child->pid());  // not reaped yet: its /proc entry exists
    } catch (const Error&) {
      r.identity = {host_name(), r.child->pid(), ""};
    }
    active.push_back(std::move(r));
  };

  int unclaimed_failures = 0;  // cell processes in a row that failed before claiming their cell
  auto settle = [&](Running& r) {
    const std::string id = r.cell->id();
    ++finished;
    auto row = store.find_cell(id);
    DQ_ASSERT(row.has_value(), "cell row missing after run");
    if (row->status == CellStatus::Running && row->owner.pid == r.identity.pid && row->owner.host == r.identity.host) {
      // The child died before recording an outcome: record why, with its last words.
      std::string why = r.killed ? fmt::format("exceeded the timeout of {} (killed by the runner)",
                                               format_duration(ex.timeout_s))
                        : r.child->signal
                            ? fmt::format("cell process killed by signal {}{}", r.child->signal,
                                          r.child->signal == SIGKILL ? " (the kernel's out-of-memory killer?)" : "")
                            : fmt::format("cell process exited with code {} without recording a result",
                                          r.child->exit_code);
      const std::string tail = r.child->tail();
      if (!tail.empty()) why += "; last output:\n" + tail;
      store.end_abandoned(id, row->owner, r.killed ? CellStatus::Timeout : CellStatus::Failed, why);
      row = store.find_cell(id);
    }
    if (!(row->owner.pid == r.identity.pid && row->owner.host == r.identity.host) &&
        row->status == CellStatus::Pending && !(r.child->exit_code == 0 && r.child->signal == 0)) {
      // The cell process failed before it claimed its cell: nothing of the cell was written, and it
      // stays PENDING. Said as such (it used to read "taken by another process (PENDING)"), and a few
      // in a row stop the runner: on a full disk it went through the whole matrix in seconds.
      const std::string tail = r.child->tail(1);
      out << fmt::format("{} {}: the cell process failed before claiming its cell ({}): {}\n", r.prefix,
                         r.cell->label(),
                         r.child->signal ? fmt::format("signal {}", r.child->signal)
                                         : fmt::format("exit code {}", r.child->exit_code),
                         terminal_text(tail.empty() ? "no output" : tail));
      if (++unclaimed_failures >= kStopAfterUnclaimedFailures && summary.stopped.empty())
        summary.stopped = fmt::format("{} cell processes in a row failed before claiming their cell; the last said: {}",
                                      unclaimed_failures, terminal_text(tail.empty() ? "nothing" : tail));
      return;
    }
    if (!(row->owner.pid == r.identity.pid && row->owner.host == r.identity.host)) {
      // Another process claimed it first (a second runner, a Slurm task).
      out << fmt::format("{} {}: taken by another process ({}{})\n", r.prefix, r.cell->label(),
                         status_name(row->status),
                         row->status == CellStatus::Running ? fmt::format(" pid {} on {}", row->owner.pid, row->owner.host)
                                                            : "");
      return;
    }
    unclaimed_failures = 0;
    ++summary.ran;
    switch (row->status) {
      case CellStatus::Done: ++summary.done; break;
      case CellStatus::Oom: ++summary.oom; break;
      case CellStatus::Timeout: ++summary.timeout; break;
      default: ++summary.failed; break;
    }
    if (row->status != CellStatus::Done)
      out << fmt::format("{} {} -> {}: {}\n", r.prefix, r.cell->label(), status_name(row->status),
                         terminal_text(row->error.substr(0, row->error.find('\n'))));
    out.flush();
  };

  const size_t jobs = static_cast<size_t>(std::max<int64_t>(1, options.jobs));
  while ((next < todo.size() && summary.stopped.empty()) || !active.empty()) {
    while (active.size() < jobs && next < todo.size() && summary.stopped.empty()) {
      // Another runner may have taken or finished the cell meanwhile: look again before starting a
      // process (the child's claim stays the arbiter).
      const CellRow now = *store.find_cell(todo[next]->id());
      if (decide_resume(now, policy).run) {
        launch(*todo[next]);
      } else {
        ++finished;
        out << fmt::format("[{}/{}] {}: skipped, {}\n", next + 1, todo.size(), todo[next]->label(),
                           decide_resume(now, policy).reason);
      }
      ++next;
    }
    std::vector<pollfd> fds;
    for (const auto& r : active)
      if (r.child->stderr_fd() >= 0) fds.push_back({r.child->stderr_fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 100);
    for (size_t i = 0; i < active.size();) {
      Running& r = active[i];
      std::string lines;
      r.child->read_available(lines);
      if (!lines.empty()) std::cerr << lines << std::flush;
      // The child keeps its own timeout; this is the backstop for a child that cannot.
      const double age = r.child->age_s();
      if (!r.term_sent && age > ex.timeout_s + options.kill_grace_s) {
        r.child->send(SIGTERM);
        r.term_sent = r.killed = true;
        r.term_at = age;
      } else if (r.term_sent && age > r.term_at + 10) {
        r.child->send(SIGKILL);
      }
      if (r.child->poll_exit()) {
        r.child->read_available(lines);  // what is left in the pipe
        if (!lines.empty()) std::cerr << lines << std::flush;
        settle(r);
        active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  out << fmt::format("ran {} cells: {} done, {} OOM, {} timeout, {} failed\n", summary.ran, summary.done,
                     summary.oom, summary.timeout, summary.failed);
  if (!summary.stopped.empty())
    out << fmt::format("stopped before the end: {}; {} cells not started (a re-run starts them)\n", summary.stopped,
                       todo.size() - next);

  // The matrix after this run, whoever ran what.
  for (const auto* cell : mine) {
    const CellRow row = *store.find_cell(cell->id());
    switch (row.status) {
      case CellStatus::Done: ++summary.final_done; continue;
      case CellStatus::Oom: ++summary.final_oom; continue;
      case CellStatus::Failed: ++summary.final_failed; break;
      case CellStatus::Timeout: ++summary.final_timeout; break;
      case CellStatus::Running: ++summary.final_running; break;
      case CellStatus::Pending: ++summary.final_pending; break;
    }
    std::string why = terminal_text(row.error.substr(0, row.error.find('\n')));  // may quote another program
    if (row.status == CellStatus::Running) why = decide_resume(row, policy).reason;
    if (row.status == CellStatus::Pending) why = "not run (claimed by no one yet)";
    summary.remaining.push_back({cell->label(), cell->id(), row.status, why});
  }
  if (!summary.remaining.empty()) {
    out << fmt::format("matrix incomplete: {} of {} cells are not DONE/OOM ({} FAILED, {} TIMEOUT, {} RUNNING, {} "
                       "PENDING):\n",
                       summary.remaining.size(), summary.total, summary.final_failed, summary.final_timeout,
                       summary.final_running, summary.final_pending);
    for (const auto& r : summary.remaining)
      out << fmt::format("  {:<8} {}  {}: {}\n", status_name(r.status), r.cell_id.substr(0, 12), r.label, r.why);
  }
  return summary;
}

}  // namespace dq
