#include "core/units.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace dq {

namespace {

struct NumberWithUnit {
  double number = 0;
  std::string unit;  // what follows the number, spaces between them removed
};

// The shared grammar of sizes and durations: a number std::stod accepts, optional spaces, a unit.
// False when the text does not start with a number.
bool split_number_unit(const std::string& text, NumberWithUnit& out) {
  size_t pos = 0;
  try {
    out.number = std::stod(text, &pos);
  } catch (const std::exception&) {
    return false;
  }
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  out.unit = text.substr(pos);
  return true;
}

}  // namespace

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
  NumberWithUnit v;
  if (!split_number_unit(text, v))
    throw Error(fmt::format("{}: '{}' is not a size (expected e.g. 12GiB, 512MiB, 1000000)", where, text));
  double scale = 1;
  if (v.unit.empty() || v.unit == "B") scale = 1;
  else if (v.unit == "KiB") scale = 1024.0;
  else if (v.unit == "MiB") scale = 1024.0 * 1024;
  else if (v.unit == "GiB") scale = 1024.0 * 1024 * 1024;
  else if (v.unit == "TiB") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (v.unit == "KB" || v.unit == "kB") scale = 1e3;
  else if (v.unit == "MB") scale = 1e6;
  else if (v.unit == "GB") scale = 1e9;
  else if (v.unit == "TB") scale = 1e12;
  else
    throw Error(fmt::format("{}: unknown size unit '{}' in '{}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)",
                            where, v.unit, text));
  if (!(v.number >= 0) || !std::isfinite(v.number))
    throw Error(fmt::format("{}: size '{}' must be a non-negative number", where, text));
  // Beyond 1 EiB no machine has it, and the conversion to an integer would not be defined.
  if (v.number * scale > 0x1p60)
    throw Error(fmt::format("{}: size '{}' is beyond any machine (at most 1024PiB)", where, text));
  return static_cast<uint64_t>(std::llround(v.number * scale));
}

double parse_duration(const std::string& text, const std::string& where) {
  NumberWithUnit v;
  if (!split_number_unit(text, v))
    throw Error(fmt::format("{}: '{}' is not a duration (e.g. 90s, 30m, 2h)", where, text));
  double scale = 0;
  if (v.unit.empty() || v.unit == "s") scale = 1;
  else if (v.unit == "m" || v.unit == "min") scale = 60;
  else if (v.unit == "h") scale = 3600;
  else
    throw Error(fmt::format("{}: unknown duration unit '{}' in '{}' (use s, m or h)", where, v.unit, text));
  if (!(v.number > 0) || !std::isfinite(v.number))
    throw Error(fmt::format("{}: duration '{}' must be positive", where, text));
  // Deadlines and the watchdog's alarm are integers of nanoseconds and seconds: a timeout of 1e300h
  // would overflow them (undefined behaviour). Ten years is beyond any run.
  if (v.number * scale > 87600.0 * 3600)
    throw Error(fmt::format("{}: duration '{}' is beyond any run (at most 87600h, ten years)", where, text));
  return v.number * scale;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0)) return "-";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  if (seconds < 3600)
    return fmt::format("{}m{:02}s", static_cast<int64_t>(seconds / 60), static_cast<int64_t>(seconds) % 60);
  return fmt::format("{}h{:02}m", static_cast<int64_t>(seconds / 3600), static_cast<int64_t>(seconds / 60) % 60);
}

}  // namespace dq
