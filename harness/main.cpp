// dqbench: the command line. Each subcommand is a thin layer over a library function.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "datasets/dataset.h"
#include "harness/cmd_datasets.h"
#include "harness/experiment.h"
#include "harness/run_cell.h"
#include "harness/select_command.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "harness/table.h"
#include "methods/method.h"
#include "models/models.h"

namespace {

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "dqbench" : p.string();
}

std::string joined_command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

void print_params(const std::vector<dq::ParamSpec>& specs) {
  for (const auto& p : specs) {
    std::string extra;
    if (!p.choices.empty()) {
      for (const auto& c : p.choices) extra += (extra.empty() ? " {" : "|") + c;
      extra += "}";
    }
    std::cout << fmt::format("    {:<16} {:<6} = {:<12} {}{}\n", p.name, dq::param_type_name(p.type),
                             dq::param_value_to_string(p.default_value), p.help, extra);
  }
}

// glibc serves large blocks (LibTorch's activations and gradients) with fresh mmap pages and unmaps
// them on free; on the VMs we measured, faulting those pages in again every step made training 5x
// slower than the arithmetic (31.6 s vs 6.2 s for one epoch on 6,000 Fashion-MNIST images). Keep
// freed memory in the heap instead.
void keep_freed_memory_in_heap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_in_heap();
  // Cell processes inherit this: spinning OpenMP threads took the second core from FAISS's k-means
  // and BLAS (the clustered KNN ran 1.7-2.2x slower without it; methods/docs/bgfdq.md). libgomp reads
  // it when it loads, so it takes effect in the children `run` spawns; an explicit setting wins.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  CLI::App app{"dqbench: dataset-quantization experiments (selection, training, results in SQLite)"};
  app.require_subcommand(1);
  const std::string command_line = joined_command_line(argc, argv);

  // run
  auto* run = app.add_subcommand("run", "run an experiment matrix (resumes: finished cells are skipped)");
  std::string run_yaml;
  bool retry_failed = false;
  std::string run_format = "term";
  run->add_option("experiment", run_yaml, "experiment YAML file")->required();
  run->add_flag("--retry-failed", retry_failed, "also re-run FAILED and TIMEOUT cells");
  run->add_option("--format", run_format, "result table format: term | md");

  // run-cell
  auto* run_cell = app.add_subcommand("run-cell", "run one cell of an experiment in this process (used by run and Slurm)");
  std::string cell_yaml, cell_id, progress;
  int64_t cell_index = -1;
  bool no_hard_limit = false;
  run_cell->add_option("experiment", cell_yaml, "experiment YAML file")->required();
  auto* id_opt = run_cell->add_option("--cell-id", cell_id, "the cell's id (sha256 of its config)");
  run_cell->add_option("--index", cell_index, "the cell's position in the expanded matrix (0-based)")->excludes(id_opt);
  run_cell->add_option("--progress", progress, "prefix for progress lines");
  run_cell->add_flag("--no-hard-limit", no_hard_limit, "do not cap the address space at the memory budget");

  // table
  auto* table = app.add_subcommand("table", "print results from a database: accuracy mean ± std over seeds");
  std::string table_source, table_experiment, table_format = "term";
  table->add_option("source", table_source, "experiment YAML or database file")->required();
  table->add_option("--experiment", table_experiment, "only this experiment (default: all in the database)");
  table->add_option("--format", table_format, "term | md");

  // cells
  auto* cells = app.add_subcommand("cells", "list an experiment's expanded cells with their ids and status");
  std::string cells_yaml;
  cells->add_option("experiment", cells_yaml, "experiment YAML file")->required();

  // methods
  auto* methods = app.add_subcommand("methods", "list registered selection methods and their parameters");

  // models (models/catalog.cpp)
  auto* models = app.add_subcommand("models", "list target networks with parameter counts, and recipe presets");

  // datasets list | inspect (harness/cmd_datasets.cpp); throws dq::Error from its callbacks
  dq::add_datasets_command(app);
  // select (harness/select_command.cpp): numpy in, numpy out, no training
  dq::add_select_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dq::Error& e) {  // from subcommand callbacks (datasets inspect)
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }

  try {
    if (*run) {
      const dq::TableFormat format = dq::table_format_from(run_format);  // every option before any work
      const dq::Experiment ex = dq::load_experiment(run_yaml);  // validates before touching the database
      dq::RunOptions options;
      options.retry_failed = retry_failed;
      options.self_exe = self_executable();
      options.command_line = command_line;
      const dq::RunSummary summary = dq::run_experiment(ex, options, std::cout);
      dq::Store store(ex.database);
      std::cout << "\n" << dq::render_results_table(store, ex.name, format);
      std::cout << "results: " << ex.database << "\n";
      return summary.failed + summary.timeout > 0 ? 1 : 0;
    }
    if (*run_cell) {
      const dq::Experiment ex = dq::load_experiment(cell_yaml);
      const dq::CellConfig* cell = nullptr;
      if (cell_index >= 0) {
        if (cell_index >= static_cast<int64_t>(ex.cells.size()))
          throw dq::Error(fmt::format("--index {} is outside the matrix of {} cells", cell_index, ex.cells.size()));
        cell = &ex.cells[static_cast<size_t>(cell_index)];
      } else {
        for (const auto& c : ex.cells)
          if (c.id() == cell_id) cell = &c;
        if (!cell) throw dq::Error(fmt::format("{}: no cell with id '{}'", cell_yaml, cell_id));
      }
      dq::Store store(ex.database);
      store.record_experiment(ex);
      store.ensure_cell(*cell);
      dq::CellRunOptions options{progress, command_line, !no_hard_limit};
      const dq::CellStatus status = dq::run_cell(ex, *cell, store, options);
      return status == dq::CellStatus::Done || status == dq::CellStatus::Oom ? 0 : 1;
    }
    if (*table) {
      const dq::TableFormat format = dq::table_format_from(table_format);
      std::string db = table_source, experiment = table_experiment;
      if (table_source.ends_with(".yaml") || table_source.ends_with(".yml")) {
        const dq::Experiment ex = dq::load_experiment(table_source);
        db = ex.database;
        if (experiment.empty()) experiment = ex.name;
      }
      if (!std::filesystem::exists(db)) throw dq::Error(fmt::format("{}: no such database", db));
      dq::Store store(db);
      std::cout << dq::render_results_table(store, experiment, format);
      return 0;
    }
    if (*cells) {
      const dq::Experiment ex = dq::load_experiment(cells_yaml);
      std::unique_ptr<dq::Store> store;
      if (std::filesystem::exists(ex.database)) store = std::make_unique<dq::Store>(ex.database);
      for (size_t i = 0; i < ex.cells.size(); ++i) {
        const auto& c = ex.cells[i];
        std::string status = "PENDING";
        if (store)
          if (auto row = store->find_cell(c.id())) status = dq::status_name(row->status);
        std::cout << fmt::format("{:>4}  {}  {:<8} {}\n", i, c.id().substr(0, 12), status, c.label());
      }
      return 0;
    }
    if (*models) {
      dq::print_models_catalog(std::cout);
      return 0;
    }
    if (*methods) {
      for (const auto* m : dq::MethodRegistry::instance().list()) {
        std::cout << m->name << ": " << m->description << "\n";
        print_params(m->params);
      }
      return 0;
    }
  } catch (const dq::Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
