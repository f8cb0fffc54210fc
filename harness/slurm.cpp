#include "harness/slurm.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "harness/store.h"

namespace dq {

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void write_script(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw Error(fmt::format("{}: cannot write the batch script", path));
  out.close();
  ::chmod(path.c_str(), 0755);
}

// Runs `command` through the shell; returns its standard output (trimmed). Throws on non-zero exit.
std::string run_capture(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw Error(fmt::format("cannot run: {}", command));
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (status != 0) throw Error(fmt::format("'{}' failed (status {}): {}", command, status, out));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string slurm_array_ranges(const std::vector<int64_t>& idx) {
  std::string out;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && idx[j + 1] == idx[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + (j == i ? std::to_string(idx[i]) : fmt::format("{}-{}", idx[i], idx[j]));
    i = j + 1;
  }
  return out;
}

SlurmPlan slurm_submit(const Experiment& ex, const SlurmOptions& o, std::ostream& log) {
  if (o.partition.empty()) throw Error("slurm: --partition is required");
  SlurmPlan plan;
  namespace fs = std::filesystem;
  plan.out_dir = fs::absolute(o.out_dir.empty() ? ex.database + ".slurm" : o.out_dir).string();
  const std::string db = fs::absolute(ex.database).string();
  const std::string yaml = fs::absolute(ex.file).string();

  std::unique_ptr<Store> store;
  std::error_code ec;
  if (fs::is_regular_file(db, ec)) store = std::make_unique<Store>(db, OpenMode::ReadOnly);
  int64_t finished = 0;
  for (size_t i = 0; i < ex.cells.size(); ++i) {
    if (store)
      if (auto row = store->find_cell(ex.cells[i].id());
          row && (row->status == CellStatus::Done || row->status == CellStatus::Oom)) {
        ++finished;
        continue;
      }
    plan.indices.push_back(static_cast<int64_t>(i));
  }
  log << fmt::format("experiment '{}': {} cells, {} already DONE/OOM in {}, {} to submit\n", ex.name, ex.cells.size(),
                     finished, db, plan.indices.size());
  if (plan.indices.empty()) return plan;

  fs::create_directories(fs::path(plan.out_dir) / "shards");
  fs::create_directories(fs::path(plan.out_dir) / "logs");
  std::string head = fmt::format("#!/bin/bash\n#SBATCH --job-name=dq-{}\n#SBATCH --partition={}\n", ex.name, o.partition);
  std::string array = head;
  array += fmt::format("#SBATCH --array={}{}\n", slurm_array_ranges(plan.indices),
                       o.array_parallelism > 0 ? fmt::format("%{}", o.array_parallelism) : "");
  array += fmt::format("#SBATCH --time={}\n", o.time);
  if (o.gpus > 0) array += fmt::format("#SBATCH --gres=gpu:{}\n", o.gpus);
  if (o.cpus_per_task > 0) array += fmt::format("#SBATCH --cpus-per-task={}\n", o.cpus_per_task);
  if (!o.mem.empty()) array += fmt::format("#SBATCH --mem={}\n", o.mem);
  array += fmt::format("#SBATCH --output={}/logs/%A_%a.out\n", plan.out_dir);
  array += "# Written by dqbench slurm: one cell per array task, each into its own shard database.\nset -eu\n";
  array += fmt::format("exec {} run-cell {} --index \"$SLURM_ARRAY_TASK_ID\" --db {}/shards/cell_\"$SLURM_ARRAY_TASK_ID\".db\n",
                       quote(o.self_exe), quote(yaml), quote(plan.out_dir));
  std::string merge = head;
  merge += "#SBATCH --time=01:00:00\n";
  merge += fmt::format("#SBATCH --output={}/logs/merge_%j.out\n", plan.out_dir);
  merge += "# Written by dqbench slurm: folds the tasks' shards into the experiment's database.\nset -eu\n";
  merge += fmt::format("shopt -s nullglob\nshards=({}/shards/*.db)\n", quote(plan.out_dir));
  merge += fmt::format("exec {} merge {} \"${{shards[@]}}\"\n", quote(o.self_exe), quote(db));
  plan.array_script = (fs::path(plan.out_dir) / "array.sbatch").string();
  plan.merge_script = (fs::path(plan.out_dir) / "merge.sbatch").string();
  write_script(plan.array_script, array);
  write_script(plan.merge_script, merge);
  log << fmt::format("wrote {} ({} tasks) and {}\n", plan.array_script, plan.indices.size(), plan.merge_script);
  if (!o.submit) return plan;
  const std::string array_id = run_capture(fmt::format("{} --parsable {}", o.sbatch, quote(plan.array_script)));
  const std::string job = array_id.substr(0, array_id.find(';'));  // "id;cluster"
  const std::string merge_id = run_capture(
      fmt::format("{} --parsable --dependency=afterany:{} {}", o.sbatch, job, quote(plan.merge_script)));
  log << fmt::format("submitted array job {} and merge job {} (after the array ends)\n", job,
                     merge_id.substr(0, merge_id.find(';')));
  return plan;
}

}  // namespace dq
