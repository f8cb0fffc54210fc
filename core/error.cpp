#include "core/error.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dq {

OutOfMemory::OutOfMemory(std::string what, uint64_t requested_bytes, uint64_t in_use_bytes,
                         uint64_t budget_bytes)
    : Error(fmt::format("out of memory: '{}' asked for {} ({} bytes) with {} in use, over the budget of {}",
                        what, format_bytes(requested_bytes), requested_bytes, format_bytes(in_use_bytes),
                        format_bytes(budget_bytes))),
      buffer_(std::move(what)),
      requested_(requested_bytes),
      budget_(budget_bytes) {}

OutOfMemory::OutOfMemory(const std::string& message, uint64_t budget_bytes)
    : Error(message), requested_(0), budget_(budget_bytes) {}

OutOfMemory OutOfMemory::in_process(const std::string& message, uint64_t budget_bytes) {
  return OutOfMemory(message, budget_bytes);
}

void assertion_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "dqbench internal error: %s:%d: assertion '%s' failed: %s\n", file, line, expr,
               msg.c_str());
  std::abort();
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

uint64_t parse_bytes(const std::string& text, const std::string& where) {
  size_t pos = 0;
  double number = 0;
  try {
    number = std::stod(text, &pos);
  } catch (const std::exception&) {
    throw Error(fmt::format("{}: '{}' is not a size (expected e.g. 12GiB, 512MiB, 1000000)", where, text));
  }
  std::string unit = text.substr(pos);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) unit.erase(0, 1);
  double scale = 1;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "KiB") scale = 1024.0;
  else if (unit == "MiB") scale = 1024.0 * 1024;
  else if (unit == "GiB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "TiB") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB") scale = 1e3;
  else if (unit == "MB") scale = 1e6;
  else if (unit == "GB") scale = 1e9;
  else if (unit == "TB") scale = 1e12;
  else
    throw Error(fmt::format("{}: unknown size unit '{}' in '{}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)",
                            where, unit, text));
  if (!(number >= 0) || !std::isfinite(number))
    throw Error(fmt::format("{}: size '{}' must be a non-negative number", where, text));
  return static_cast<uint64_t>(std::llround(number * scale));
}

}  // namespace dq
