#pragma once
// `dqbench slurm EXP.yaml --partition P`: the matrix as a Slurm job array. Writes
// <dir>/array.sbatch (one array task per cell not already DONE/OOM in the experiment's database; each
// runs `dqbench run-cell EXP --index $SLURM_ARRAY_TASK_ID` into its own shard <dir>/shards/cell_<i>.db)
// and <dir>/merge.sbatch (`dqbench merge DB <dir>/shards/*.db`), then submits both with sbatch, the
// merge with --dependency=afterany on the array. Slurm keeps no state we rely on (no sacct): the
// databases are the record, so re-submitting after a failure sends only what is left.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "harness/experiment.h"

namespace dq {

struct SlurmOptions {
  std::string partition;
  int64_t gpus = 0;               // --gres=gpu:G per task
  std::string time = "24:00:00";  // per task
  int64_t array_parallelism = 0;  // %N: at most N tasks at once (0: Slurm's limit)
  int64_t cpus_per_task = 0;      // 0: not set
  std::string mem;                // e.g. "32G"; empty: not set
  std::string out_dir;            // default: <database>.slurm
  std::string self_exe;           // absolute path of dqbench
  std::string sbatch = "sbatch";  // the command (found on PATH)
  bool submit = true;
};

struct SlurmPlan {
  std::vector<int64_t> indices;  // cells to submit
  std::string array_script, merge_script, out_dir;
};

// "0-4,7,9-10": Slurm's --array syntax for sorted indices.
std::string slurm_array_ranges(const std::vector<int64_t>& indices);

// Writes the scripts (and submits them unless options.submit is false). Nothing to submit: no scripts,
// plan.indices empty.
SlurmPlan slurm_submit(const Experiment& ex, const SlurmOptions& options, std::ostream& log);

}  // namespace dq
