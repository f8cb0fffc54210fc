#include "core/stage_timer.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace dq {

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

namespace {
int64_t status_field_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0) return std::stoll(line.substr(n + 1)) * 1024;
  return 0;
}
}  // namespace

int64_t current_rss_bytes() { return status_field_kib("VmRSS"); }
int64_t peak_rss_bytes() { return status_field_kib("VmHWM"); }

void reset_peak_rss() {
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

StageTimer::Scope::Scope(StageTimer* owner, std::string name) : owner_(owner) {
  std::string full;
  for (const auto& part : owner_->open_) full += part + "/";
  name_ = full + name;
  owner_->open_.push_back(name);
  if (owner_->open_.size() == 1) reset_peak_rss();  // top-level stages get their own peak
  wall_start_ = std::chrono::steady_clock::now();
  cpu_start_ = process_cpu_seconds();
}

const StageRecord& StageTimer::Scope::stop() {
  if (!stopped_) {
    stopped_ = true;
    StageRecord r;
    r.name = name_;
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    r.cpu_s = process_cpu_seconds() - cpu_start_;
    r.peak_rss_bytes = peak_rss_bytes();
    owner_->open_.pop_back();
    index_ = owner_->records_.size();
    owner_->records_.push_back(std::move(r));
  }
  return owner_->records_[index_];
}

StageTimer::Scope::~Scope() { stop(); }

}  // namespace dq
