#pragma once
// What a cell records of the artefacts it used and of the code that made its result (harness/README.md,
// table cell_artefacts and provenance.code_identities), and the comparisons between cells that
// `dqbench verify` and the tables make with those records.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/code_identity.h"
#include "core/content_hash.h"
#include "harness/store.h"

namespace dq {

// Collects the artefacts a cell's stages report (core/content_hash.h ArtefactUse). Reports of one kind
// (a KNN graph or bins per class, in class order) fold into one record: its sha256 and key hash the
// parts' in order, its bytes add up, it is from the cache when every part was.
class ArtefactLog {
 public:
  void add(const ArtefactUse& use);
  bool has(const std::string& kind) const { return uses_.count(kind) > 0; }
  // One record per kind (role "input"), in the order the kinds were first reported.
  std::vector<CellArtefact> records() const;

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<ArtefactUse>> uses_;
};

// The kinds that every cell of one experiment and dataset shares (the experiment has one extractor):
// cells paired by seed, or averaged over seeds, must agree on them.
const std::vector<std::string>& upstream_kinds();  // dataset, extractor_network, embeddings

// What two cells must agree on to be averaged together or paired: the content hashes of their upstream
// artefacts (key: the kind) and the code identities of the producers they ran (key: "code:<producer>";
// cells of another trainer, selection or training code are not comparable, even where the bytes agree).
using UpstreamHashes = std::map<std::string, std::string>;
// The upstream kinds among `artefacts`.
UpstreamHashes upstream_hashes(const std::vector<CellArtefact>& artefacts);
// `hashes` with every producer's identity of `code_identities` (provenance JSON, parsed) added.
UpstreamHashes with_code(UpstreamHashes hashes, const std::map<std::string, std::string>& code_identities);
// The entries both have with different values (empty: they agree on everything both recorded).
std::vector<std::string> upstream_differences(const UpstreamHashes& a, const UpstreamHashes& b);
// "embeddings 1a2b3c4d, train code 5e6f7a8b" (8 hex digits each; upstream kinds first, then code).
std::string upstream_text(const UpstreamHashes& hashes);
// "embeddings 1a2b3c4d vs 5e6f7a8b, train code 01234567 vs 89abcdef": where `a` and `b` differ.
std::string differences_text(const UpstreamHashes& a, const UpstreamHashes& b);
// The indices of `hashes` in parts whose members agree on every entry they share (first fit, in
// order). Empty maps (cells that recorded nothing) form a part of their own.
std::vector<std::vector<size_t>> compatible_parts(const std::vector<UpstreamHashes>& hashes);
std::string short_hash(const std::string& sha256);  // the first 8 hex digits

// The producers whose code made a cell's result, given what it ran (core/code_identity.h).
struct CellStagesRun {
  bool extractor = false, patch_stage = false, metrics = false, train = false;
};
std::set<Producer> producers_used(const CellStagesRun& stages, const ArtefactLog& log);
// {"producer": "identity"} as compact JSON, sorted (provenance.code_identities), and back; text that is
// empty or not such an object reads as {}.
std::string code_identities_json(const std::set<Producer>& producers);
std::map<std::string, std::string> parse_code_identities(const std::string& json);

}  // namespace dq
