// Fuzz target: the experiment YAML parser with matrix expansion (harness/experiment.h), as `dqbench
// run`, `cells` and every cell process read a file. Every expanded cell's id, label and K-sweep k is
// computed, as the runner does, and the dry run's listing (peak estimates, sizes and durations).
#include "harness/experiment.h"
#include "harness/status.h"
#include "harness/store.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(experiment_yaml) {
  // A plugin entry loads the shared library it names (by design); a fuzzer naming system libraries
  // would test the dynamic loader, not the parser.
  if (input.find("library") != std::string_view::npos) return;
  const auto path = dq::fuzz::scratch() / "e.yaml";
  dq::fuzz::write_file(path, input);
  const dq::Experiment ex = dq::load_experiment(path.string());
  for (const auto& cell : ex.cells) {
    (void)cell.id();
    (void)cell.label();
    (void)dq::knn_sweep_k(ex, cell);
  }
  (void)dq::experiment_definition(ex);
  (void)dq::render_dry_run(ex, nullptr);
}
