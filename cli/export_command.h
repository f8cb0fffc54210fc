#pragma once
// `dqbench export EXPERIMENT.yaml --out DIR [--cell ID | --cells FILTER] [--images] [--format npy|folder]
// [--test-split] [--skip-unfinished] [--db DB]`: DONE cells as coreset folders (harness/coreset_export.h).
namespace CLI {
class App;
}

namespace dq {
// Adds the `export` sub-command; its callback throws dq::Error on bad input (nothing is written then).
void add_export_command(CLI::App& app);
}  // namespace dq
