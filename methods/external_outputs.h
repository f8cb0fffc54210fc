#pragma once
// What an external method's command leaves in its folder (methods/README.md, "Bring your own method"):
// selection.npy, int64 dataset ids, 1-D, unique, each one of the training samples given to the
// command (ids.npy); optionally keep.npy, float32, one kept fraction in (0, 1] per selected id.
// These files are written by someone else's program: every way they can be wrong is a dq::Error
// naming the file and the offending entry (fuzzed: tests/fuzz/external_outputs.cpp).
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "methods/method.h"

namespace dq {

// The selection split by class (classes[c].ids must be sorted), each class's ids in the command's
// order with their keep fractions. `log` is the command's log file, named in messages.
std::vector<ClassSelection> read_external_outputs(const std::filesystem::path& dir, const std::string& log,
                                                  std::span<const ClassView> classes);

}  // namespace dq
