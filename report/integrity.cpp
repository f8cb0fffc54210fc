#include "report/integrity.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace dq {

UpstreamHashes upstream_of(const CellResult& cell) {
  UpstreamHashes out;
  for (const auto& kind : upstream_kinds())
    if (auto it = cell.artefacts.find(kind); it != cell.artefacts.end()) out[kind] = it->second;
  return with_code(std::move(out), cell.code);
}

bool same_upstream(const CellResult& a, const CellResult& b) {
  return upstream_differences(upstream_of(a), upstream_of(b)).empty();
}

std::vector<std::vector<const CellResult*>> split_by_upstream(const std::vector<const CellResult*>& cells) {
  std::vector<UpstreamHashes> hashes;
  for (const CellResult* c : cells) hashes.push_back(upstream_of(*c));
  std::vector<std::vector<const CellResult*>> parts;
  for (const auto& part : compatible_parts(hashes)) {
    parts.emplace_back();
    for (size_t i : part) parts.back().push_back(cells[i]);
  }
  return parts;
}

std::vector<std::string> part_labels(const std::vector<std::vector<const CellResult*>>& parts) {
  std::set<std::string> differing;
  for (size_t i = 0; i < parts.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      for (const auto& key : upstream_differences(upstream_of(*parts[i].front()), upstream_of(*parts[j].front())))
        differing.insert(key);
  std::vector<std::string> out;
  for (const auto& part : parts) {
    const UpstreamHashes h = upstream_of(*part.front());
    if (h.empty()) {
      out.push_back("unrecorded");
      continue;
    }
    UpstreamHashes shown;
    for (const auto& key : differing)
      if (h.count(key)) shown[key] = h.at(key);
    out.push_back(upstream_text(shown.empty() ? h : shown));
  }
  return out;
}

std::vector<std::string> integrity_notes(const std::vector<const CellResult*>& cells) {
  std::vector<std::string> notes;
  std::vector<const CellResult*> done;
  for (const CellResult* c : cells)
    if (c->done()) done.push_back(c);
  const auto unrecorded = std::count_if(done.begin(), done.end(), [](const CellResult* c) { return c->unrecorded(); });
  if (unrecorded > 0)
    notes.push_back(fmt::format(
        "Pairing unverified: {} of these {} DONE cells come from a database written before dqbench recorded the "
        "content hashes of the artefacts a cell used, so nothing shows that cells paired by seed (or averaged over "
        "seeds) used the same extractor network and embeddings; `dqbench verify` reports such a database as legacy.",
        unrecorded, done.size()));
  std::set<std::string> dirty_commits;
  int64_t dirty = 0;
  for (const CellResult* c : done)
    if (c->git_dirty) {
      ++dirty;
      dirty_commits.insert(c->git_commit.substr(0, 8));
    }
  if (dirty > 0) {
    std::string commits;
    for (const auto& commit : dirty_commits) commits += (commits.empty() ? "" : ", ") + commit;
    notes.push_back(fmt::format("{} of these {} DONE cells ran from a source tree with uncommitted changes (commit{} {} "
                                "plus edits; provenance git_dirty = 1): the code that made them is not in git.",
                                dirty, done.size(), dirty_commits.size() == 1 ? "" : "s", commits));
  }
  std::map<std::pair<std::string, std::string>, std::vector<const CellResult*>> by_dataset;
  for (const CellResult* c : done)
    if (!c->unrecorded()) by_dataset[{c->experiment, c->dataset}].push_back(c);
  for (const auto& [key, with] : by_dataset) {
    const auto parts = split_by_upstream(with);
    if (parts.size() < 2) continue;
    const auto labels = part_labels(parts);
    std::string list;
    for (size_t i = 0; i < parts.size(); ++i)
      list += fmt::format("{}{} ({} cell{})", i ? "; " : "", labels[i], parts[i].size(), parts[i].size() == 1 ? "" : "s");
    notes.push_back(fmt::format(
        "Mixed upstream: the cells of experiment `{}` on `{}` did not all use the same artefacts and code: {}. "
        "Cells of different upstream are never averaged together (a table cell shows each part on its own, "
        "marked 'mixed upstream') nor paired in the paired differences.",
        key.first, key.second, list));
  }
  return notes;
}

}  // namespace dq
