#pragma once
// Which recorded cells a table may average or pair (harness/cell_artefacts.h): cells whose recorded
// upstream artefacts (dataset, extractor network, embeddings) differ are never averaged together nor
// paired; cells that ran from a dirty tree, and cells of a database from before dqbench recorded
// artefact hashes ("pairing unverified"), are footnoted.
#include <string>
#include <vector>

#include "harness/cell_artefacts.h"
#include "report/results.h"

namespace dq {

UpstreamHashes upstream_of(const CellResult& cell);
// False when both cells recorded an upstream kind with different hashes.
bool same_upstream(const CellResult& a, const CellResult& b);
// Cells in parts that share their upstream (in the order of first appearance). One part when they all
// agree; cells that recorded nothing form a part of their own when others did record.
std::vector<std::vector<const CellResult*>> split_by_upstream(const std::vector<const CellResult*>& cells);
// The label of each part: the short hashes of the upstream kinds that differ between the parts
// ("embeddings 1a2b3c4d"), or "unrecorded".
std::vector<std::string> part_labels(const std::vector<std::vector<const CellResult*>>& parts);

// Footnotes for a table's cells: pairing unverified (no hashes recorded), dirty trees, and, per
// experiment and dataset, the upstream artefacts its DONE cells used when they are not one set.
std::vector<std::string> integrity_notes(const std::vector<const CellResult*>& cells);

}  // namespace dq
