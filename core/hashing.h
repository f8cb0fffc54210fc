#pragma once
#include <string>
#include <string_view>

namespace dq {
// Lower-case hex SHA-256 (OpenSSL). Cell ids and cache keys are hashes of canonical JSON.
std::string sha256_hex(std::string_view data);
// Hex SHA-256 of a file's bytes; throws dq::Error if unreadable.
std::string sha256_file_hex(const std::string& path);
}  // namespace dq
