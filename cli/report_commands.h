#pragma once
// `dqbench tables --db X.db [--db Y.db ...] --out DIR` and `dqbench report --db ... --out FILE.html`.
namespace CLI {
class App;
}

namespace dq {
// Adds the `tables` and `report` sub-commands. Their callbacks throw dq::Error on bad input (a
// missing database, an unwritable output); nothing is written then.
void add_report_commands(CLI::App& app);
}  // namespace dq
