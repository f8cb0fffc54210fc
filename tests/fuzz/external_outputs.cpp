// Fuzz target: what an external method's command writes back (methods/external_outputs.h). Parts:
// selection.npy and, when there is a second part, keep.npy. The command was given 3 classes of
// dataset ids {0,2,4,6}, {1,3,5} and {8,9} (7 is not a training sample it was given).
#include <algorithm>
#include <set>

#include "methods/external_outputs.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(external_outputs) {
  const auto dir = dq::fuzz::scratch();
  const auto parts = dq::fuzz::split_parts(input, 2);
  dq::fuzz::write_file(dir / "selection.npy", parts[0]);
  if (parts.size() > 1) dq::fuzz::write_file(dir / "keep.npy", parts[1]);
  static const std::vector<int64_t> ids[3] = {{0, 2, 4, 6}, {1, 3, 5}, {8, 9}};
  std::vector<dq::ClassView> classes;
  for (int64_t c = 0; c < 3; ++c) classes.push_back({c, ids[c], nullptr, 0});
  const auto selected = dq::read_external_outputs(dir, "fuzz.log", classes);
  std::set<int64_t> seen;
  for (size_t c = 0; c < selected.size(); ++c) {
    if (selected[c].ids.size() != selected[c].keep.size()) dq::fuzz::finding("ids and keep differ in length");
    for (size_t i = 0; i < selected[c].ids.size(); ++i) {
      const int64_t id = selected[c].ids[i];
      if (std::find(ids[c].begin(), ids[c].end(), id) == ids[c].end()) dq::fuzz::finding("an id in the wrong class");
      if (!seen.insert(id).second) dq::fuzz::finding("an id selected twice");
      if (!(selected[c].keep[i] > 0.0f && selected[c].keep[i] <= 1.0f)) dq::fuzz::finding("keep outside (0, 1]");
    }
  }
}
