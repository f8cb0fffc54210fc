// dqbench: the command line. Each subcommand is a thin layer over a library function.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <set>

#include "cli/export_command.h"
#include "cli/report_commands.h"
#include "core/error.h"
#include "datasets/dataset.h"
#include "harness/cell_filter.h"
#include "harness/cell_process.h"
#include "harness/datasets_command.h"
#include "harness/experiment.h"
#include "harness/run_cell.h"
#include "harness/merge.h"
#include "harness/param_docs.h"
#include "harness/plugin_loader.h"
#include "harness/select_command.h"
#include "harness/slurm.h"
#include "harness/status.h"
#include "harness/preflight.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "harness/verify.h"
#include "methods/method.h"
#include "models/models_library.h"
#include "report/results_table.h"

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

// `source` is an experiment YAML (its database, its experiment unless one is given) or a database.
std::pair<std::string, std::string> database_of(const std::string& source, const std::string& experiment) {
  if (!source.ends_with(".yaml") && !source.ends_with(".yml")) return {source, experiment};
  const dq::Experiment ex = dq::load_experiment(source);
  return {ex.database, experiment.empty() ? ex.name : experiment};
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
  // Cell processes inherit this: spinning OpenMP threads took the second core from BLAS and FAISS
  // (the clustered KNN, whose k-means was FAISS's then, ran 1.7-2.2x slower; methods/docs/bgfdq.md). libgomp reads
  // it when it loads, so it takes effect in the children `run` spawns; an explicit setting wins.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  dq::enable_models_library_loading(self_executable());  // LibTorch loads only when a network is needed
  CLI::App app{"dqbench: dataset-quantization experiments (selection, training, results in SQLite)"};
  app.require_subcommand(1);
  // The LibTorch flavour (README "GPU"): its version and whether CUDA is compiled in.
  app.set_version_flag("--version", [] { return "dqbench, LibTorch " + dq::torch_build().text(); });
  const std::string command_line = joined_command_line(argc, argv);

  // run
  auto* run = app.add_subcommand("run", "run an experiment matrix (resumes: finished cells are skipped)");
  std::string run_yaml;
  bool retry_failed = false;
  std::string run_format = "term", run_force, run_db, run_shard;
  int64_t run_jobs = 1;
  run->add_option("experiment", run_yaml, "experiment YAML file")->required();
  run->add_flag("--retry-failed", retry_failed, "also re-run FAILED and TIMEOUT cells");
  run->add_option("--force", run_force, "re-run cells matching FILTER even if finished: 'method=dq,ratio=0.1', 'all'");
  run->add_option("-j,--jobs", run_jobs, "cells at a time, each with its share of the threads")->check(CLI::Range(1, 1024));
  run->add_option("--db", run_db, "write to this database instead of the YAML's (a shard)");
  run->add_option("--shard", run_shard, "K/N: run only cells whose index % N == K-1");
  run->add_option("--format", run_format, "result table format: term | md");
  bool dry_run = false;
  run->add_flag("--dry-run", dry_run, "list the cells, their status and estimated peak memory; run nothing");

  // status
  auto* status = app.add_subcommand("status", "where a matrix stands: counts, running cells, slowest, failures");
  std::string status_source, status_experiment;
  status->add_option("source", status_source, "experiment YAML or database file")->required();
  status->add_option("--experiment", status_experiment, "only this experiment (default: all in the database)");

  // merge
  auto* merge = app.add_subcommand("merge", "fold shard databases into one (newest finished attempt per cell)");
  std::string merge_out;
  std::vector<std::string> merge_shards;
  merge->add_option("out", merge_out, "the database to merge into (created if missing)")->required();
  merge->add_option("shards", merge_shards, "shard databases")->required();

  // slurm
  auto* slurm = app.add_subcommand("slurm", "run the matrix as a Slurm job array (+ a dependent merge job)");
  std::string slurm_yaml;
  dq::SlurmOptions slurm_options;
  bool slurm_no_submit = false;
  slurm->add_option("experiment", slurm_yaml, "experiment YAML file")->required();
  slurm->add_option("--partition", slurm_options.partition, "Slurm partition")->required();
  slurm->add_option("--gpus", slurm_options.gpus, "GPUs per task (--gres=gpu:G)");
  slurm->add_option("--time", slurm_options.time, "time limit per task (Slurm syntax, default 24:00:00)");
  slurm->add_option("--array-parallelism", slurm_options.array_parallelism, "at most N tasks at once");
  slurm->add_option("--cpus-per-task", slurm_options.cpus_per_task, "CPUs per task");
  slurm->add_option("--mem", slurm_options.mem, "memory per task (Slurm syntax, e.g. 32G)");
  slurm->add_option("--dir", slurm_options.out_dir, "scripts, logs and shards (default: <database>.slurm)");
  slurm->add_flag("--no-submit", slurm_no_submit, "write the scripts only");

  // run-cell
  auto* run_cell = app.add_subcommand("run-cell", "run one cell of an experiment in this process (used by run and Slurm)");
  std::string cell_yaml, cell_id, progress, cell_db;
  int64_t cell_index = -1, parent_pid = 0;
  bool no_hard_limit = false, cell_retry = false;
  run_cell->add_option("experiment", cell_yaml, "experiment YAML file")->required();
  run_cell->add_option("--db", cell_db, "write to this database instead of the YAML's (a shard)");
  run_cell->add_option("--parent-pid", parent_pid, "die with this process (set by run)");
  run_cell->add_flag("--retry-failed", cell_retry, "run the cell even if it is FAILED or TIMEOUT");
  run_cell->add_option("--cell-id", cell_id, "the cell's id (sha256 of its config); with --index, checked against it");
  run_cell->add_option("--index", cell_index, "the cell's position in the expanded matrix (0-based)");
  run_cell->add_option("--progress", progress, "prefix for progress lines");
  run_cell->add_flag("--no-hard-limit", no_hard_limit, "do not cap the address space at the memory budget");

  // table
  auto* table = app.add_subcommand("table", "print results from a database: accuracy mean ± std over seeds");
  std::string table_source, table_experiment, table_format = "term", table_baseline = "random";
  table->add_option("source", table_source, "experiment YAML or database file")->required();
  table->add_option("--experiment", table_experiment, "only this experiment (default: all in the database)");
  table->add_option("--format", table_format, "term | md");
  table->add_option("--baseline", table_baseline, "the method the others' top-1 is paired with, by name or label")
      ->capture_default_str();

  // verify (harness/verify.h)
  auto* verify = app.add_subcommand(
      "verify", "check that a database's results are what they claim: recorded artefact hashes, pairing, clean tree, "
                "one code per producer, selections re-derived from the cache");
  std::string verify_db;
  dq::VerifyOptions verify_options;
  verify->add_option("database", verify_db, "results database")->required();
  verify->add_option("--experiment", verify_options.experiment, "only this experiment (default: all in the database)");
  verify->add_flag("--all", verify_options.all, "re-derive every DONE cell's selection (default: a sample)");
  verify->add_option("--sample", verify_options.sample, "cells re-derived per experiment (default 3; 0: none)")
      ->check(CLI::NonNegativeNumber);
  verify->add_option("--cache", verify_options.cache_dir, "cache folder of the artefacts (default: the experiment's)");

  // cells
  auto* cells = app.add_subcommand("cells", "list an experiment's expanded cells with their ids and status");
  std::string cells_yaml;
  cells->add_option("experiment", cells_yaml, "experiment YAML file")->required();

  // methods
  auto* methods = app.add_subcommand("methods", "list registered selection methods and their parameters");
  std::string methods_format = "term";
  std::vector<std::string> methods_plugins;
  methods->add_option("--format", methods_format, "term | md (the Markdown the docs' parameter tables are made of)")
      ->capture_default_str();
  methods->add_option("--plugin", methods_plugins, "also list the methods of this plugin library (.so); repeatable");

  // models (models/catalog.cpp)
  auto* models = app.add_subcommand("models", "list target networks with parameter counts, and recipe presets");
  std::string models_format = "term";
  models->add_option("--format", models_format,
                     "term | md (md: the train/extractor keys and the presets, as the docs' generated tables)")
      ->capture_default_str();

  // datasets list | inspect (harness/datasets_command.cpp); throws dq::Error from its callbacks
  dq::add_datasets_command(app);
  // select (harness/select_command.cpp): numpy in, numpy out, no training
  dq::add_select_command(app);
  // export (cli/export_command.cpp): DONE cells as coreset folders
  dq::add_export_command(app);
  // tables, report (cli/report_commands.cpp): the paper's tables and figures from result databases
  dq::add_report_commands(app);

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
      dq::Experiment ex = dq::load_experiment(run_yaml);  // validates before touching the database
      if (!run_db.empty()) ex.database = run_db;
      dq::RunOptions options;
      options.retry_failed = retry_failed;
      options.force = run_force;
      if (!run_force.empty()) (void)dq::parse_cell_filter(run_force, "--force");
      options.jobs = run_jobs;
      if (!run_shard.empty()) std::tie(options.shard_index, options.shard_count) = dq::parse_shard(run_shard);
      options.self_exe = self_executable();
      options.command_line = command_line;
      if (dry_run) {  // lists the cells even when a real run would refuse; the problems follow, labelled
        const auto problems = dq::check_before_running(ex);
        std::unique_ptr<dq::Store> store;
        if (std::filesystem::exists(ex.database))
          store = std::make_unique<dq::Store>(ex.database, dq::OpenMode::ReadOnly);
        std::cout << dq::render_dry_run(ex, store.get()) << dq::render_preflight_problems(problems);
        return dq::dry_run_exit_code(problems);
      }
      dq::require_runnable(ex);  // dataset paths, images, extractor: before anything is written
      const dq::RunSummary summary = dq::run_experiment(ex, options, std::cout);
      dq::Store store(ex.database, dq::OpenMode::ReadOnly);
      std::cout << "\n" << dq::render_results_table(store, ex.name, format);
      std::cout << "results: " << ex.database << "\n";
      return dq::run_exit_code(summary);
    }
    if (*run_cell) {
      const bool by_index = run_cell->count("--index") > 0;  // options first, before the file loads
      if (by_index && cell_index < 0) throw dq::Error(fmt::format("--index {} is negative", cell_index));
      if (!by_index && cell_id.empty()) throw dq::Error("run-cell needs --index N or --cell-id ID");
      return dq::run_cell_process({cell_yaml, cell_id, cell_index, cell_db, progress, command_line, parent_pid,
                                   cell_retry, !no_hard_limit});
    }
    if (*table) {
      const dq::TableFormat format = dq::table_format_from(table_format);
      const auto [db, experiment] = database_of(table_source, table_experiment);
      dq::Store store(db, dq::OpenMode::ReadOnly);
      if (!table_experiment.empty()) {  // a misspelt name is an error, not an empty table
        std::set<std::string> known;
        for (const dq::CellRow& row : store.cells()) known.insert(row.experiment);
        if (!known.count(experiment))
          throw dq::Error(fmt::format("{}: no cells of experiment '{}' (experiments here: {})", db, experiment,
                                      known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
      }
      std::cout << dq::render_results_table(store, experiment, format, table_baseline);
      return 0;
    }
    if (*verify) {
      verify_options.run_cell = dq::run_cell;
      const dq::VerifySummary summary = dq::verify_database(verify_db, verify_options, std::cout);
      return summary.failures == 0 ? 0 : 1;
    }
    if (*cells) {
      const dq::Experiment ex = dq::load_experiment(cells_yaml);
      std::unique_ptr<dq::Store> store;
      if (std::filesystem::exists(ex.database))
        store = std::make_unique<dq::Store>(ex.database, dq::OpenMode::ReadOnly);
      for (size_t i = 0; i < ex.cells.size(); ++i) {
        const auto& c = ex.cells[i];
        std::string status = "PENDING";
        if (store)
          if (auto row = store->find_cell(c.id())) status = dq::status_name(row->status);
        std::cout << fmt::format("{:>4}  {}  {:<8} {}\n", i, c.id().substr(0, 12), status, c.label());
      }
      return 0;
    }
    if (*status) {
      const auto [db, experiment] = database_of(status_source, status_experiment);
      dq::Store store(db, dq::OpenMode::ReadOnly);
      std::cout << dq::render_status(store, experiment);
      return 0;
    }
    if (*merge) {
      const dq::MergeSummary s = dq::merge_databases(merge_out, merge_shards, std::cout);
      std::cout << fmt::format("merged {} shards into {}: {} cells added, {} replaced, {} kept\n", s.shards, merge_out,
                               s.cells_added, s.cells_replaced, s.cells_kept);
      return 0;
    }
    if (*slurm) {
      const dq::Experiment ex = dq::load_experiment(slurm_yaml);
      dq::require_runnable(ex);
      slurm_options.self_exe = self_executable();
      slurm_options.submit = !slurm_no_submit;
      dq::slurm_submit(ex, slurm_options, std::cout);
      return 0;
    }
    if (*models) {
      if (dq::table_format_from(models_format) == dq::TableFormat::Markdown) std::cout << dq::describe_recipes();
      else dq::models_library().print_models_catalog(std::cout);
      return 0;
    }
    if (*methods) {
      const dq::TableFormat format = dq::table_format_from(methods_format);
      for (const auto& library : methods_plugins) dq::load_method_plugin(library, "--plugin");
      std::cout << dq::describe_methods(format);
      return 0;
    }
  } catch (const dq::Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
