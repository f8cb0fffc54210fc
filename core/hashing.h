#pragma once
#include <string>
#include <string_view>

#include <cstddef>
#include <memory>

namespace dq {
// Lower-case hex SHA-256 (OpenSSL). Cell ids and cache keys are hashes of canonical JSON.
std::string sha256_hex(std::string_view data);
// Hex SHA-256 of a file's bytes; throws dq::Error if unreadable.
std::string sha256_file_hex(const std::string& path);
// Incremental SHA-256 of data given in pieces; hex() ends it (call once).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t bytes);
  void update(std::string_view text) { update(text.data(), text.size()); }
  std::string hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};
}  // namespace dq
