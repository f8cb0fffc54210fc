#include "cli/report_commands.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.h"
#include "report/paper_tables.h"
#include "report/publish.h"
#include "report/results.h"
#include "report/table_model.h"

namespace dq {

void add_report_commands(CLI::App& app) {
  auto dbs = std::make_shared<std::vector<std::string>>();
  auto out_dir = std::make_shared<std::string>("paper_tables");
  auto print_id = std::make_shared<std::string>();
  auto options = std::make_shared<TableOptions>();
  const char* baseline_help =
      "the row every accuracy table pairs the others with, per seed: a row label, method spec or "
      "name (ignoring case)";
  CLI::App* tables = app.add_subcommand(
      "tables", "regenerate the paper's tables (Markdown + LaTeX) and figures (SVG) from result databases");
  tables->add_option("--db", *dbs, "a result database (repeat for several)")->required();
  auto* out_option = tables->add_option("--out", *out_dir, "output folder (default paper_tables)");
  tables->add_option("--print", *print_id,
                     "print one table's Markdown (table1_main, table5_selection_ablation, table4_runtime, "
                     "table_scale, table_sweeps, table_cross_architecture) instead of writing the folder")
      ->excludes(out_option);
  tables->add_option("--baseline", options->baseline, baseline_help)->capture_default_str();
  tables->callback([dbs, out_dir, print_id, options] {
    const ResultSet rs = load_results(*dbs);
    if (!print_id->empty()) {
      std::string known;
      for (const auto& t : build_paper_tables(rs, *options)) {
        if (t.id == *print_id) {
          std::cout << render_markdown(t);
          return;
        }
        known += (known.empty() ? "" : ", ") + t.id;
      }
      throw Error(fmt::format("--print {}: no such table (tables: {})", *print_id, known));
    }
    for (const auto& path : write_paper_tables(rs, *out_dir, *options)) std::cout << path << "\n";
  });

  auto report_dbs = std::make_shared<std::vector<std::string>>();
  auto report_out = std::make_shared<std::string>("report.html");
  CLI::App* report = app.add_subcommand("report", "write one self-contained HTML page of tables and figures");
  report->add_option("--db", *report_dbs, "a result database (repeat for several)")->required();
  report->add_option("--out", *report_out, "output HTML file (default report.html)");
  report->add_option("--baseline", options->baseline, baseline_help)->capture_default_str();
  report->callback([report_dbs, report_out, options] {
    const std::string html = render_report_html(load_results(*report_dbs), *options);
    const auto parent = std::filesystem::path(*report_out).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    std::ofstream out(*report_out, std::ios::binary | std::ios::trunc);
    if (!out || !(out << html).flush()) throw Error(fmt::format("{}: cannot write", *report_out));
    std::cout << *report_out << "\n";
  });
}

}  // namespace dq
