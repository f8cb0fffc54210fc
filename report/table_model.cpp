#include "report/table_model.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/text_escape.h"

namespace dq {

namespace {

void check_shape(const ReportTable& t) {
  for (const auto& r : t.rows) DQ_ASSERT(r.size() == t.header.size(), "a table row and its header differ in length");
}

}  // namespace

std::string latex_escape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    // A line break or a tab from a database would end a caption or a row's paragraph (a blank line
    // is \par, an error inside a table): control characters become spaces.
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) { out += ' '; continue; }
    auto starts = [&](const char* s) { return text.compare(i, std::char_traits<char>::length(s), s) == 0; };
    if (starts("±")) { out += "$\\pm$"; i += 1; continue; }
    if (starts("–")) { out += "--"; i += 2; continue; }
    if (starts("×")) { out += "$\\times$"; i += 1; continue; }
    if (starts("≥")) { out += "$\\geq$"; i += 2; continue; }
    if (starts("θ")) { out += "$\\theta$"; i += 1; continue; }
    if (starts("ρ")) { out += "$\\rho$"; i += 1; continue; }
    if (starts("λ")) { out += "$\\lambda$"; i += 1; continue; }
    if (starts("α")) { out += "$\\alpha$"; i += 1; continue; }
    switch (ch) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += ch; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      case '<': out += "$<$"; break;
      case '>': out += "$>$"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

namespace {
// `code` spans (the Markdown form every generated text uses) in another markup: open/close tags.
std::string code_spans(const std::string& text, const char* open, const char* close) {
  std::string out;
  bool inside = false;
  for (char ch : text) {
    if (ch == '`') {
      out += inside ? close : open;
      inside = !inside;
    } else {
      out += ch;
    }
  }
  if (inside) out += close;
  return out;
}
std::string tex(const std::string& text) { return code_spans(latex_escape(text), "\\texttt{", "}"); }
// A row's first cell: after the previous row's "\\\\", LaTeX reads a "[" as the start of a vertical
// space and a "*" as part of the command, so a cell that begins with either is shielded by an empty group.
std::string tex_first_cell(const std::string& text) {
  std::string out = tex(text);
  if (!out.empty() && (out[0] == '[' || out[0] == '*')) out = "{}" + out;
  return out;
}
std::string html(const std::string& text) { return code_spans(html_escape(text), "<code>", "</code>"); }
}  // namespace

std::string render_markdown_table(const ReportTable& t) {
  check_shape(t);
  auto line = [](const std::vector<std::string>& cells) {
    std::string l = "|";
    for (const auto& c : cells) l += " " + markdown_cell(c) + " |";
    return l + "\n";
  };
  std::string out = line(t.header) + "|";
  for (size_t i = 0; i < t.header.size(); ++i) out += i < t.left_columns ? "---|" : "---:|";
  out += "\n";
  for (const auto& r : t.rows) out += line(r);
  return out;
}

std::string render_terminal_table(const ReportTable& t) {
  check_shape(t);
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (unsigned char c : s) w += (c & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> widths(t.header.size());
  for (size_t i = 0; i < t.header.size(); ++i) {
    widths[i] = width(t.header[i]);
    for (const auto& r : t.rows) widths[i] = std::max(widths[i], width(r[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string text = terminal_text(cells[i]);
      const std::string pad(widths[i] - std::min(widths[i], width(text)), ' ');
      const bool left = i < t.left_columns || (t.last_column_left && i + 1 == cells.size());
      l += (i ? "  " : "") + (left ? text + pad : pad + text);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    return l + "\n";
  };
  std::string out = line(t.header);
  size_t total = 0;
  for (size_t w : widths) total += w + 2;
  out += std::string(total - 2, '-') + "\n";
  for (const auto& r : t.rows) out += line(r);
  return out;
}

std::string render_markdown(const TableFile& file) {
  std::string out = fmt::format("# {}\n\n", markdown_escape(file.title));
  if (!file.intro.empty()) out += markdown_escape(file.intro) + "\n\n";
  if (file.tables.empty()) out += markdown_escape(file.empty_message) + "\n";
  for (const auto& t : file.tables) {
    check_shape(t);
    out += fmt::format("## {}\n\n", markdown_escape(t.title));
    if (!t.caption.empty()) out += markdown_escape(t.caption) + "\n\n";
    if (t.rows.empty()) {
      out += "(no rows)\n\n";
    } else {
      out += render_markdown_table(t) + "\n";
    }
    for (size_t i = 0; i < t.notes.size(); ++i) out += fmt::format("{}. {}\n", i + 1, markdown_escape(t.notes[i]));
    if (!t.notes.empty()) out += "\n";
  }
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

std::string render_latex(const TableFile& file) {
  std::string out = fmt::format("% {} (generated by dqbench tables; needs \\usepackage{{booktabs}})\n",
                                latex_escape(file.title));
  if (file.tables.empty()) out += "% " + latex_escape(file.empty_message) + "\n";
  for (const auto& t : file.tables) {
    check_shape(t);
    out += "\\begin{table}[t]\n\\centering\\small\n";
    out += fmt::format("\\caption{{{}. {}}}\n", tex(t.title), tex(t.caption));
    std::string spec;
    for (size_t i = 0; i < t.header.size(); ++i) spec += i < t.left_columns ? "l" : "r";
    out += fmt::format("\\begin{{tabular}}{{{}}}\n\\toprule\n", spec);
    auto line = [](const std::vector<std::string>& cells) {
      std::string l;
      for (size_t i = 0; i < cells.size(); ++i) l += i ? " & " + tex(cells[i]) : tex_first_cell(cells[i]);
      return l + " \\\\\n";
    };
    out += line(t.header) + "\\midrule\n";
    for (const auto& r : t.rows) out += line(r);
    out += "\\bottomrule\n\\end{tabular}\n";
    if (!t.notes.empty()) {
      out += "\\par\\footnotesize\n";
      for (size_t i = 0; i < t.notes.size(); ++i)
        out += fmt::format("({}) {}\\\\\n", i + 1, tex(t.notes[i]));
    }
    out += "\\end{table}\n\n";
  }
  return out;
}

std::string render_html(const TableFile& file) {
  std::string out = fmt::format("<h2 id=\"{}\">{}</h2>\n", file.id, html_escape(file.title));
  if (!file.intro.empty()) out += "<p>" + html_escape(file.intro) + "</p>\n";
  if (file.tables.empty()) out += "<p class=\"empty\">" + html_escape(file.empty_message) + "</p>\n";
  for (const auto& t : file.tables) {
    check_shape(t);
    out += "<h3>" + html_escape(t.title) + "</h3>\n";
    if (!t.caption.empty()) out += "<p>" + html(t.caption) + "</p>\n";
    out += "<table>\n<thead><tr>";
    for (const auto& h : t.header) out += "<th>" + html_escape(h) + "</th>";
    out += "</tr></thead>\n<tbody>\n";
    for (const auto& r : t.rows) {
      out += "<tr>";
      for (size_t i = 0; i < r.size(); ++i)
        out += (i < t.left_columns ? "<td>" : "<td class=\"num\">") + html(r[i]) + "</td>";
      out += "</tr>\n";
    }
    out += "</tbody>\n</table>\n";
    if (!t.notes.empty()) {
      out += "<ol class=\"notes\">\n";
      for (const auto& n : t.notes) out += "<li>" + html(n) + "</li>\n";
      out += "</ol>\n";
    }
  }
  return out;
}

}  // namespace dq
