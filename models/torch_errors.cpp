#include "models/torch_errors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/units.h"

namespace dq {

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

}  // namespace

bool is_torch_out_of_memory(const c10::Error& error) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&error)) return true;
  const std::string text = lowercase(error.msg());
  return text.find("can't allocate memory") != std::string::npos || text.find("not enough memory") != std::string::npos ||
         text.find("out of memory") != std::string::npos;
}

uint64_t torch_requested_bytes(const c10::Error& error) {
  const std::string& text = error.msg();
  const std::string lower = lowercase(text), marker = "allocate ";
  // The first "allocate " followed by a number, spaces and a unit word: "you tried to allocate 123
  // bytes", "Tried to allocate 20.00 MiB" (core/units.h reads the latter); "can't allocate memory" is skipped.
  for (size_t at = lower.find(marker); at != std::string::npos; at = lower.find(marker, at + 1)) {
    const size_t start = at + marker.size();
    size_t end = start;
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) ++end;
    if (end == start) continue;
    const std::string number = text.substr(start, end - start);
    while (end < text.size() && text[end] == ' ') ++end;
    size_t unit_end = end;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) ++unit_end;
    const std::string unit = text.substr(end, unit_end - end);
    const bool in_bytes = unit == "bytes" || unit == "byte";  // LibTorch's word for core/units.h's "B"
    try {
      return parse_bytes(in_bytes ? number : number + unit, "LibTorch's message");
    } catch (const Error&) {
      return 0;  // a wording we do not know: the size stays unknown
    }
  }
  return 0;
}

void throw_as_dq_error(const c10::Error& error, const std::string& context) {
  const std::string message = error.what_without_backtrace();
  if (is_torch_out_of_memory(error))
    throw OutOfMemory::in_process(fmt::format("{}: LibTorch could not allocate memory: {}", context, message), 0,
                                  torch_requested_bytes(error));
  throw Error(fmt::format("{}: {}", context, message));
}

}  // namespace dq
