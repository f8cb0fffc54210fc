#include "core/text_escape.h"

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

}  // namespace dq
