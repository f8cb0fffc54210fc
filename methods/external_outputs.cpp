// Reading back what an external method's command wrote (methods/external_outputs.h).
#include "methods/external_outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unordered_map>

#include "core/error.h"
#include "core/npy.h"

namespace dq {

namespace fs = std::filesystem;

std::vector<ClassSelection> read_external_outputs(const fs::path& dir, const std::string& log,
                                                  std::span<const ClassView> classes) {
  const std::string sel_path = (dir / "selection.npy").string();
  if (!fs::exists(sel_path))
    throw Error(fmt::format("the external command exited with code 0 but wrote no selection.npy in {} (log: {})",
                            dir.string(), log));
  const NpyArray sel = read_npy(sel_path);
  if (sel.dtype != "i8")
    throw Error(fmt::format("selection.npy has dtype '{}'; it must be int64 ('<i8'): "
                            "np.save('selection.npy', np.asarray(ids, dtype=np.int64))",
                            sel.dtype));
  if (sel.shape.size() != 1)
    throw Error(fmt::format("selection.npy has {} dimensions; it must be 1-D (n,)", sel.shape.size()));
  const std::vector<int64_t> ids = sel.as_int64(sel_path);

  std::vector<float> keep(ids.size(), 1.0f);
  const std::string keep_path = (dir / "keep.npy").string();
  if (fs::exists(keep_path)) {
    const NpyArray k = read_npy(keep_path);
    if (k.dtype != "f4")
      throw Error(fmt::format("keep.npy has dtype '{}'; it must be float32 ('<f4')", k.dtype));
    if (k.shape.size() != 1 || k.shape[0] != static_cast<int64_t>(ids.size()))
      throw Error(fmt::format("keep.npy has shape ({}); it must be ({},), one keep fraction per selected id",
                              fmt::join(k.shape, ", "), ids.size()));
    keep = k.as_float32(keep_path);
    for (size_t i = 0; i < keep.size(); ++i)
      if (!(keep[i] > 0.0f && keep[i] <= 1.0f))
        throw Error(fmt::format("keep.npy[{}] = {} is outside (0, 1]", i, keep[i]));
  }

  // Which class each dataset id of this cell belongs to (-1: not a training sample given to the command).
  int64_t n_train = 0;
  for (const auto& c : classes)
    if (c.size() > 0) n_train = std::max(n_train, c.ids.back() + 1);
  std::vector<int32_t> owner(static_cast<size_t>(n_train), -1);
  for (size_t c = 0; c < classes.size(); ++c)
    for (int64_t id : classes[c].ids) owner[static_cast<size_t>(id)] = static_cast<int32_t>(c);
  std::unordered_map<int64_t, size_t> first_seen;
  std::vector<ClassSelection> out(classes.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= n_train)
      throw Error(fmt::format("selection.npy[{}] = {} is outside the training split (dataset ids 0..{})", i, id,
                              n_train - 1));
    const int32_t c = owner[static_cast<size_t>(id)];
    if (c < 0)
      throw Error(fmt::format("selection.npy[{}] = {} is not a training sample given to the command (not in ids.npy)",
                              i, id));
    if (auto [it, fresh] = first_seen.emplace(id, i); !fresh)
      throw Error(fmt::format("selection.npy holds id {} twice (positions {} and {}); ids must be unique", id,
                              it->second, i));
    out[static_cast<size_t>(c)].ids.push_back(id);
    out[static_cast<size_t>(c)].keep.push_back(keep[i]);
  }
  return out;
}

}  // namespace dq
