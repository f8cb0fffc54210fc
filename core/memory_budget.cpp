#include "core/memory_budget.h"

#include <unistd.h>

#include <algorithm>

#include "core/error.h"

namespace dq {

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    bytes_ = other.bytes_;
    other.owner_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void MemoryBudget::Reservation::release() {
  if (owner_) owner_->give_back(bytes_);
  owner_ = nullptr;
  bytes_ = 0;
}

MemoryBudget::Reservation MemoryBudget::reserve(uint64_t bytes, std::string_view what) {
  std::lock_guard lock(mutex_);
  if (bytes > limit_ || in_use_ + bytes > limit_) throw OutOfMemory(std::string(what), bytes, in_use_, limit_);
  in_use_ += bytes;
  peak_ = std::max(peak_, in_use_);
  return Reservation(this, bytes);
}

void MemoryBudget::give_back(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  DQ_ASSERT(bytes <= in_use_, "memory budget released more than it reserved");
  in_use_ -= bytes;
}

uint64_t MemoryBudget::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}
uint64_t MemoryBudget::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

}  // namespace dq
