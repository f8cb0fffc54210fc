// Fuzz target: a results database from someone else (a corrupt or hostile SQLite file), as `dqbench
// table`, `status`, `tables`, `report` and `merge` read it. Each reader must give a result or a
// dq::Error, never a crash or a hang; the merge must leave its output database whole.
#include <sstream>

#include "core/error.h"
#include "harness/merge.h"
#include "harness/status.h"
#include "harness/store.h"
#include "report/results_table.h"
#include "report/figures.h"
#include "report/paper_tables.h"
#include "report/publish.h"
#include "report/results.h"
#include "report/table_model.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
template <typename F>
void each(F&& f) {  // the readers are independent: one's clear error must not hide the others
  try {
    f();
  } catch (const dq::Error& e) {
    if (std::string_view(e.what()).empty()) dq::fuzz::finding("a dq::Error with an empty message");
  }
}
}  // namespace

DQ_FUZZ_TARGET(database) {
  const auto dir = dq::fuzz::scratch();
  const std::string db = (dir / "in.db").string();
  dq::fuzz::write_file(db, input);
  each([&] {  // dqbench table, status
    dq::Store store(db, dq::OpenMode::ReadOnly);
    (void)dq::render_results_table(store, "", dq::TableFormat::Terminal);
    (void)dq::render_results_table(store, "", dq::TableFormat::Markdown);
    (void)dq::render_status(store, "");
  });
  each([&] {  // dqbench tables, report
    const dq::ResultSet rs = dq::load_results({db});
    for (const auto& t : dq::build_paper_tables(rs)) {
      (void)dq::render_markdown(t);
      (void)dq::render_latex(t);
    }
    (void)dq::render_report_html(rs);
  });
  each([&] {  // dqbench merge
    std::ostringstream log;
    (void)dq::merge_databases((dir / "out.db").string(), {db}, log);
  });
}
