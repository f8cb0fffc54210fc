#pragma once
// Sizes and durations as people write them (YAML keys such as `memory_budget: 12GiB` and
// `timeout: 2h`, options such as `--memory-budget`) and as dqbench prints them. The one home for
// units: every size or duration read from text goes through parse_bytes / parse_duration.
#include <cstdint>
#include <string>

namespace dq {

// Bytes -> "512 B", "1.5 KiB", "12.0 GiB" (binary units, one decimal above bytes).
std::string format_bytes(uint64_t bytes);

// "12GiB", "1.5 MiB", "2GB", "1024" -> bytes (rounded to the nearest byte). A number, optional
// spaces, then a unit: B, KiB, MiB, GiB, TiB (powers of 1024) or KB/kB, MB, GB, TB (powers of
// 1000); no unit means bytes. Zero is allowed. Throws dq::Error naming `where` (e.g.
// "x.yaml:3:16 (key 'memory_budget')") for a missing number, an unknown unit or a negative,
// infinite or NaN value.
uint64_t parse_bytes(const std::string& text, const std::string& where);

// "90", "90s", "30m", "30min", "2h", "1.5 h" -> seconds. A number, optional spaces, then a unit:
// s (or none), m/min, h. Throws dq::Error naming `where` for a missing number, an unknown unit or
// a value that is not positive and finite.
double parse_duration(const std::string& text, const std::string& where);

// Seconds -> "4.2s", "5m07s", "3h05m" (tenths below a minute, whole minutes and seconds below an
// hour, hours and minutes above; truncated, not rounded); a negative or NaN value (unknown) is "-".
std::string format_duration(double seconds);

}  // namespace dq
