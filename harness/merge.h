#pragma once
// `dqbench merge OUT.db SHARD.db...`: folds shard databases (one per Slurm task, or per `run --db`)
// into one. Per cell it keeps the newest finished attempt (DONE, OOM, FAILED, TIMEOUT by `finished`
// time; a finished attempt beats an unfinished one) together with its stages, metrics, selection and
// provenance. Idempotent: merging the same shards again changes nothing. A shard whose experiment
// has the same name but another definition (another matrix) is refused with a dq::Error, and nothing
// of it is written.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace dq {

struct MergeSummary {
  int64_t shards = 0, cells_added = 0, cells_replaced = 0, cells_kept = 0;
};

MergeSummary merge_databases(const std::string& out_db, const std::vector<std::string>& shards, std::ostream& log);

}  // namespace dq
