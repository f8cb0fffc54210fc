#include "harness/cell_watchdog.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "harness/process_identity.h"
#include "harness/store.h"

namespace dq {

CellWatchdog::CellWatchdog(std::string db_path, std::string cell_id, double timeout_s) {
  // The last resort, should the watchdog thread itself be unable to act (a database that never
  // answers): SIGALRM's default action ends the process; the runner or the next run redoes the row.
  ::alarm(static_cast<unsigned>(std::ceil(timeout_s)) + 60);
  thread_ = std::thread([this, db = std::move(db_path), id = std::move(cell_id), timeout_s] {
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [this] { return stop_; })) return;
    try {
      Store store(db);
      const std::string why = fmt::format("exceeded the timeout of {:.0f}s (stopped by the cell's watchdog)", timeout_s);
      if (!store.end_abandoned(id, ProcessIdentity::self(), CellStatus::Timeout, why)) return;  // it just finished
      std::cerr << "TIMEOUT: " << why << std::endl;
    } catch (const std::exception& e) {
      std::cerr << "TIMEOUT: could not record it: " << e.what() << std::endl;
    }
    std::_Exit(kExitCellTimeout);
  });
}

CellWatchdog::~CellWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  ::alarm(0);
}

}  // namespace dq
