#pragma once
// A generated table (header, rows, footnotes) and its renderings: Markdown, LaTeX (booktabs) and
// HTML. Cells are plain text; "±", "–", "×" and "≥" are translated for LaTeX. Generated text holds
// no timestamps and nothing from the machine that renders it, so output is byte for byte
// reproducible from the same databases.
#include <string>
#include <vector>

namespace dq {

struct ReportTable {
  std::string title;    // "CIFAR-10, experiment cpu_table1"
  std::string caption;  // one paragraph: what the cells hold
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
  std::vector<std::string> notes;              // footnotes, numbered in order
  size_t left_columns = 1;                     // leading columns aligned left; the rest right
  bool last_column_left = false;               // in a terminal, the last column aligned left too (statuses)
};

// One output file: a paper table with one ReportTable per experiment (and its paired differences).
struct TableFile {
  std::string id;     // file stem: "table1_main"
  std::string title;  // "Table 1: main results"
  std::string intro;  // a paragraph under the title
  std::vector<ReportTable> tables;
  std::string empty_message;  // shown when `tables` is empty
};

std::string render_markdown(const TableFile& file);
// One table's header, separator and rows as a Markdown pipe table (what render_markdown writes for each
// table with rows), cells through markdown_cell.
std::string render_markdown_table(const ReportTable& table);
// One table for a terminal: the header, a rule of dashes and the rows, columns two spaces apart and
// padded to their widest cell in code points (so "±" aligns), cells through terminal_text, no
// trailing blanks.
std::string render_terminal_table(const ReportTable& table);
std::string render_latex(const TableFile& file);
// A fragment (no <html>): headings, tables, notes.
std::string render_html(const TableFile& file);

// Every string from a database goes through one of these (a database may come from someone else):
// LaTeX: specials escaped, control characters (line breaks) as spaces. HTML: & < > " as entities
// (every attribute we write is double-quoted).
// Markdown: core/text_escape.h.
std::string latex_escape(const std::string& text);
std::string html_escape(const std::string& text);

}  // namespace dq
