#pragma once
// Wall time, CPU time and peak resident memory of named stages ("embed", "select/neighbour_id").
// Peak RSS per stage uses Linux's resettable high-water mark (/proc/self/clear_refs = 5).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dq {

struct StageRecord {
  std::string name;
  double wall_s = 0;
  double cpu_s = 0;
  int64_t peak_rss_bytes = 0;
};

class StageTimer {
 public:
  class Scope {
   public:
    Scope(StageTimer* owner, std::string name);
    Scope(const Scope&) = delete;
    ~Scope();
    // Ends the stage now (otherwise at destruction) and returns its record.
    const StageRecord& stop();

   private:
    StageTimer* owner_;
    std::string name_;
    std::chrono::steady_clock::time_point wall_start_;
    double cpu_start_;
    bool stopped_ = false;
    size_t index_ = 0;
  };

  // Sub-stages nest by name: a scope opened inside "select" is recorded as "select/<name>".
  [[nodiscard]] Scope scope(const std::string& name) { return Scope(this, name); }
  const std::vector<StageRecord>& records() const { return records_; }
  void add(StageRecord record) { records_.push_back(std::move(record)); }

 private:
  friend class Scope;
  std::vector<std::string> open_;
  std::vector<StageRecord> records_;
};

double process_cpu_seconds();
int64_t current_rss_bytes();
int64_t peak_rss_bytes();   // high-water mark since the last reset (VmHWM)
void reset_peak_rss();      // best effort; no-op where the kernel does not allow it

}  // namespace dq
