#pragma once
// `dqbench select`: one selection method on embeddings given as .npy files, no training. Writes the
// selected dataset ids (int64, classes in label order, each class in pick order) and prints per-stage
// times, the selection metrics and the method's diagnostics.
#include <cstdint>
#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace dq {

struct SelectOptions {
  std::string method;         // spec string, e.g. "bgfdq(k=20)"
  std::string embeddings;     // N x d float32 or float64 .npy
  std::string labels;         // N integer .npy (shape (N,) or (N, 1))
  double ratio = 0;           // in (0, 1]
  std::string out;            // selected ids, int64 .npy
  uint64_t seed = 0;
  std::string keep_out;       // optional: per selected id, its kept fraction (float32 .npy)
  std::string bins_out;       // optional: bins of bin-based methods, int64 (bins x max size), -1 padded
  std::string memory_budget;  // e.g. "12GiB"; empty: the machine's physical memory
  std::string cache_dir;      // optional: where methods cache artefacts (KNN graphs, bins)
};

// Returns the process exit status: 0 on success, 2 for bad input (message on `err`), 3 when the
// method ran out of its memory budget. Every option is checked before any input is read (--bins-out
// needs a method that produces bins, ADQ needs images, outputs must differ from each other and from
// the inputs); the embeddings are checked finite (core/embedding_check.h) before the selection; the
// outputs are written all or nothing (core/output_files.h).
int run_select(const SelectOptions& options, std::ostream& out, std::ostream& err);

// Registers the `select` subcommand; on failure its callback throws CLI::RuntimeError(status), which
// CLI::App::exit turns into the exit status without printing more.
void add_select_command(CLI::App& app);

}  // namespace dq
