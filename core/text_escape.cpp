#include "core/text_escape.h"

#include <fmt/format.h>

#include "core/error.h"

namespace dq {

namespace {
// The length in bytes of the control character at s[i] (C0, DEL, or a C1 code U+0080..U+009F in
// UTF-8, such as CSI U+009B), 0 when there is none.
size_t control_at(const std::string& s, size_t i) {
  const auto ch = static_cast<unsigned char>(s[i]);
  if (ch < 0x20 || ch == 0x7f) return 1;
  if (ch == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
      static_cast<unsigned char>(s[i + 1]) <= 0x9f)
    return 2;
  return 0;
}
}  // namespace

std::string markdown_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (const size_t n = control_at(s, i)) {
      out += ' ';
      i += n - 1;
    } else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else if (ch == '!' && i + 1 < s.size() && s[i + 1] == '[') out += "\\!";
    else out += ch;
  }
  return out;
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char ch : markdown_escape(s)) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

std::string terminal_text(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (const size_t n = control_at(s, i)) {
      out += '?';
      i += n - 1;
    } else {
      out += s[i];
    }
  }
  return out;
}

size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;                        // continuation bytes
    unsigned char lo = 0x80, hi = 0xbf;  // the range of the first continuation byte
    if (b < 0x80) n = 0;
    else if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b == 0xe0) n = 2, lo = 0xa0;
    else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) n = 2;
    else if (b == 0xed) n = 2, hi = 0x9f;  // no surrogates
    else if (b == 0xf0) n = 3, lo = 0x90;
    else if (b >= 0xf1 && b <= 0xf3) n = 3;
    else if (b == 0xf4) n = 3, hi = 0x8f;  // nothing above U+10FFFF
    else return i;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf)) return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

TableFormat table_format_from(const std::string& name) {
  if (name == "term" || name == "terminal") return TableFormat::Terminal;
  if (name == "md" || name == "markdown") return TableFormat::Markdown;
  throw Error(fmt::format("unknown table format '{}' (use term or md)", name));
}

}  // namespace dq
