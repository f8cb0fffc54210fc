#include "harness/method_notes.h"

#include "harness/sql.h"

namespace dq {

namespace {
void ensure_table(Store& store) {
  store.exec("CREATE TABLE IF NOT EXISTS method_notes(cell_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT, "
             "PRIMARY KEY(cell_id, name))");
}
}  // namespace

void clear_method_notes(Store& store, const std::string& cell_id) {
  ensure_table(store);
  Statement(store.handle(), "DELETE FROM method_notes WHERE cell_id = ?", store.path()).bind(1, cell_id).run();
}

void record_method_note(Store& store, const std::string& cell_id, const std::string& name, const std::string& value) {
  ensure_table(store);
  Statement(store.handle(), "INSERT OR REPLACE INTO method_notes(cell_id, name, value) VALUES(?,?,?)", store.path())
      .bind(1, cell_id)
      .bind(2, name)
      .bind(3, value)
      .run();
}

std::map<std::string, std::string> method_notes(Store& store, const std::string& cell_id) {
  ensure_table(store);
  std::map<std::string, std::string> out;
  Statement q(store.handle(), "SELECT name, value FROM method_notes WHERE cell_id = ?", store.path());
  q.bind(1, cell_id);
  while (q.step()) out[q.text(0)] = q.text(1);
  return out;
}

}  // namespace dq
