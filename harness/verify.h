#pragma once
// `dqbench verify DB`: is every result in a database what it claims to be? Per experiment:
//   legacy      every DONE cell records the content hashes of its artefacts (a database from before
//               dqbench recorded them fails with "legacy: pairing unverified": re-run it);
//   dirty tree  no DONE cell ran from a source tree with uncommitted changes (provenance git_dirty);
//   selections  every stored selection hashes to its recorded sha256;
//   pairing     the DONE cells of one dataset (one experiment has one extractor, so every seed pairs
//               methods on the same upstream) share the dataset, extractor network and embeddings;
//   code        they record one code identity per producer (core/code_identity.h);
//   re-derive   a sample of DONE cells (all with `all`) re-run up to their stored selection, from
//               their recorded inputs, in a scratch database, and must store the same bytes. A cell
//               whose inputs are not in the cache, whose dataset is not here, or whose producers this
//               build's code does not match is skipped, saying why (CI has no cache: the checks above
//               still run).
// Output: one line per check and a verdict; the exit status is 0 only when nothing failed.
#include <functional>
#include <iosfwd>
#include <string>

#include "harness/run_cell.h"

namespace dq {

struct VerifyOptions {
  std::string experiment;  // only this experiment ("" = all in the database)
  bool all = false;        // re-derive every DONE cell
  int64_t sample = 3;      // else this many per experiment (0: none), the same ones every time
  std::string cache_dir;   // "" = each experiment's own cache_dir
  // Runs one cell (harness/run_cell.h run_cell; injected so that the checks link without LibTorch).
  std::function<CellStatus(const Experiment&, const CellConfig&, Store&, const CellRunOptions&)> run_cell;
};

struct VerifySummary {
  int64_t failures = 0;   // checks that failed
  int64_t rederived = 0;  // cells whose selection re-derived byte for byte
  int64_t skipped = 0;    // cells whose re-derivation was skipped
  bool legacy = false;    // some DONE cell records no artefact hashes
};

// Opens `db` read-only, prints the report to `out`. Throws dq::Error for a file that is not a
// dqbench database or an unknown experiment.
VerifySummary verify_database(const std::string& db, const VerifyOptions& options, std::ostream& out);

}  // namespace dq
