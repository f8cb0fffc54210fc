#pragma once
// A cell's own timeout, inside the cell process: it holds even when the runner that started the cell
// is gone. At the timeout the watchdog records TIMEOUT (if the cell is still RUNNING in this process)
// and ends the process with exit code kExitCellTimeout; an alarm one minute later ends it in any case.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace dq {

constexpr int kExitCellTimeout = 124;

class CellWatchdog {
 public:
  CellWatchdog(std::string db_path, std::string cell_id, double timeout_s);
  ~CellWatchdog();  // disarms
  CellWatchdog(const CellWatchdog&) = delete;
  CellWatchdog& operator=(const CellWatchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dq
