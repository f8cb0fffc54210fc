#pragma once
// Text from a database or another program (a results database someone sent, an external command's
// message) shown to a reader: it must not be able to restyle, run or fetch anything, nor break the
// table it sits in. The report's LaTeX and HTML escaping live with their renderers
// (report/table_model.h); these are shared by the report and the command line, as is the choice
// between the two forms of a command's table (TableFormat).
#include <cstddef>
#include <string>
#include <string_view>

namespace dq {

// Markdown: one line (control characters, as terminal_text counts them, become spaces: a line break cannot end a table row or start
// a heading), no raw HTML (& < > as entities: a Markdown viewer renders tags), no image a viewer would
// fetch ("![" becomes "\![", a link stays a link). Code spans (`...`) are kept: generated text uses them.
std::string markdown_escape(const std::string& text);
// A Markdown table cell: markdown_escape, and '|' escaped so that it cannot split the cell.
std::string markdown_cell(const std::string& text);
// A terminal: control characters (C0, DEL and C1, which make up escape sequences that move the
// cursor, retitle the window or write the clipboard) become '?'; one line.
std::string terminal_text(const std::string& text);

// The offset of the first byte that is not well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or npos. Text that becomes JSON (cell ids, cell.json) must be
// UTF-8: the YAML reader and spec strings check it where the text enters.
size_t invalid_utf8_at(std::string_view text);

// Where a command's table goes: a terminal (aligned columns, terminal_text) or Markdown (markdown_cell).
enum class TableFormat { Terminal, Markdown };
// "term" | "terminal" | "md" | "markdown"; anything else is a dq::Error naming the value.
TableFormat table_format_from(const std::string& name);

}  // namespace dq
