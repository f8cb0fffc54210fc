#pragma once
// Strings a method leaves for a cell's provenance (CellResources::note): an external method's command,
// script path and sha256, folder, log path and exit; a plugin method's library and its sha256.
// Stored in the table method_notes(cell_id, name, value), created on first use, one row per name;
// run_cell clears a cell's notes before its selection starts. Schema: harness/README.md.
#include <map>
#include <string>

#include "harness/store.h"

namespace dq {

void clear_method_notes(Store& store, const std::string& cell_id);
void record_method_note(Store& store, const std::string& cell_id, const std::string& name, const std::string& value);
std::map<std::string, std::string> method_notes(Store& store, const std::string& cell_id);

}  // namespace dq
