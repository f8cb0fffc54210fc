#pragma once
// Declared memory: every large buffer (a dense M x M similarity, a KNN tile, a decoded dataset) asks
// the budget first. A request that would exceed it throws dq::OutOfMemory naming the buffer and the
// bytes, so the paper's OOM cells are reproduced deterministically instead of as a crashed process.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace dq {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // RAII: releases its bytes when destroyed.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(MemoryBudget* owner, uint64_t bytes) : owner_(owner), bytes_(bytes) {}
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation() { release(); }
    void release();
    uint64_t bytes() const { return bytes_; }

   private:
    MemoryBudget* owner_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // Throws dq::OutOfMemory if in_use + bytes > limit.
  [[nodiscard]] Reservation reserve(uint64_t bytes, std::string_view what);

  uint64_t limit() const { return limit_; }
  uint64_t in_use() const;
  uint64_t peak() const;  // the largest declared total seen

 private:
  void give_back(uint64_t bytes);
  uint64_t limit_;
  uint64_t in_use_ = 0;
  uint64_t peak_ = 0;
  mutable std::mutex mutex_;
};

// The machine's physical memory (for a default budget).
uint64_t physical_memory_bytes();

}  // namespace dq
