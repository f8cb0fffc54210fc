#pragma once
// Writes the regenerated tables and figures: `dqbench tables` (a folder of Markdown, LaTeX and SVG
// files plus an index) and `dqbench report` (one self-contained HTML page).
#include <string>
#include <vector>

#include "report/paper_tables.h"
#include "report/results.h"

namespace dq {

// Writes into `out_dir` (created if needed): <table>.md and <table>.tex for each paper table,
// figures/<figure>.svg, and index.md (every table in Markdown, the figures, the databases read).
// Other files in the folder (its README.md) are left alone. Returns the paths written, sorted.
std::vector<std::string> write_paper_tables(const ResultSet& rs, const std::string& out_dir,
                                            const TableOptions& options = {});

// The whole report as one HTML page: inline CSS, tables, inline SVG figures; no scripts and no
// network access.
std::string render_report_html(const ResultSet& rs, const TableOptions& options = {});

}  // namespace dq
