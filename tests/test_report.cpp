// The paper-table generator: statistics against hand-worked values, the tables built from a small
// database written here, LaTeX escaping, SVG figures, and byte-for-byte determinism.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "harness/experiment.h"
#include "harness/sql.h"
#include "harness/status.h"
#include "harness/store.h"
#include "report/results_table.h"
#include "methods/method.h"
#include "report/cell_groups.h"
#include "report/figures.h"
#include "report/labels.h"
#include "report/paper_numbers.h"
#include "report/paper_tables.h"
#include "report/publish.h"
#include "report/results.h"
#include "core/stats.h"
#include "report/svg_plot.h"
#include "report/table_model.h"
#include "test_helpers.h"

using namespace dq;

TEST_CASE("Student t quantiles match published values", "[report]") {
  // Two-sided 95% critical values (tables of Student's t).
  CHECK(student_t_quantile(0.975, 1) == Approx(12.706204736).epsilon(1e-9));
  CHECK(student_t_quantile(0.975, 2) == Approx(4.302652730).epsilon(1e-9));
  CHECK(student_t_quantile(0.975, 4) == Approx(2.776445105).epsilon(1e-9));
  CHECK(student_t_quantile(0.975, 9) == Approx(2.262157163).epsilon(1e-9));
  CHECK(student_t_quantile(0.975, 30) == Approx(2.042272456).epsilon(1e-9));
  CHECK(student_t_quantile(0.95, 5) == Approx(2.015048373).epsilon(1e-9));
  CHECK(student_t_quantile(0.025, 2) == Approx(-4.302652730).epsilon(1e-9));
  CHECK(student_t_cdf(0, 3) == Approx(0.5));
}

TEST_CASE("summaries use the sample standard deviation", "[report]") {
  const Summary s = summarize({87.0, 87.5, 88.0});
  CHECK(s.n == 3);
  CHECK(s.mean == Approx(87.5));
  CHECK(s.sd == Approx(0.5));  // sqrt((0.25 + 0 + 0.25) / 2)
  CHECK(summarize({4.0}).sd == 0);
  CHECK(summarize({}).n == 0);
}

TEST_CASE("paired differences: hand-worked intervals, only shared seeds", "[report]") {
  // d = {1.0, 0.5, 1.5}: mean 1, sd 0.5, half-width t(0.975, 2) * 0.5 / sqrt(3) = 1.2420689.
  const auto wide = paired_difference({{0, 90.0}, {1, 91.0}, {2, 92.5}, {7, 50.0}}, {{0, 89.0}, {1, 90.5}, {2, 91.0}});
  CHECK(wide.n == 3);  // seed 7 has no partner
  CHECK(wide.mean == Approx(1.0));
  CHECK(wide.sd == Approx(0.5));
  CHECK(wide.low == Approx(1.0 - 1.2420689).epsilon(1e-6));
  CHECK(wide.high == Approx(1.0 + 1.2420689).epsilon(1e-6));
  CHECK_FALSE(wide.excludes_zero());
  // d = {1.0, 1.1, 0.9}: sd 0.1, half-width 0.2484138: the interval excludes 0.
  const auto tight = paired_difference({{0, 2.0}, {1, 2.1}, {2, 1.9}}, {{0, 1.0}, {1, 1.0}, {2, 1.0}});
  CHECK(tight.low == Approx(1.0 - 0.2484138).epsilon(1e-6));
  CHECK(tight.excludes_zero());
  // Negative differences exclude 0 from the other side.
  CHECK(paired_difference({{0, 1.0}, {1, 1.0}, {2, 1.0}}, {{0, 2.0}, {1, 2.1}, {2, 1.9}}).excludes_zero());
  // One shared seed: a difference but no interval.
  const auto one = paired_difference({{0, 2.0}}, {{0, 1.0}, {1, 3.0}});
  CHECK(one.n == 1);
  CHECK_FALSE(one.has_interval);
  CHECK_FALSE(one.excludes_zero());
}

TEST_CASE("a dataset's samples per class is read once, typed: a whole number, absent, or an error", "[report]") {
  CellResult c;
  c.db = "r.db";
  c.cell_id = "abc";
  CHECK_FALSE(samples_per_class(c));  // a loader without the parameter (image folders, CIFAR)
  c.dataset_params["per_class"] = "1000";
  REQUIRE(samples_per_class(c));
  CHECK(*samples_per_class(c) == 1000);
  c.dataset_params["per_class"] = "12x";  // atof read 12 here
  CHECK_THROWS_WITH(samples_per_class(c), Catch::Contains("r.db: cell abc: dataset parameter per_class = '12x'"));
}

TEST_CASE("the paper's numbers are findable by table, dataset, ratio, row and column", "[report]") {
  CHECK(paper_cell(find_paper_number("Table 1", "cifar10", 0.2, "BGFDQ w/ SPD", "top1")) == "91.6");
  CHECK(paper_cell(find_paper_number("Table 1", "fakeddit", 0.01, "DQ", "top1")) == "OOM");
  CHECK(paper_cell(find_paper_number("Table 5", "cifar10", 0.1, "NI+NCS", "top1")) == "76.4");
  CHECK(paper_cell(find_paper_number("Table 4", "cifar10", 0.2, "BGFDQ w/o SPD", "neighbour_id_s"), 0) == "155");
  CHECK_FALSE(find_paper_number("Table 1", "cifar10", 0.3, "DQ", "top1"));
}

TEST_CASE("a table for a terminal and as Markdown: widths in code points, alignment, escaping", "[report]") {
  // Hand-worked: column widths 4 ("name", "a|b"), 7 ("1 ± 2" is 5 code points, "top-1 %" 7) and 6.
  ReportTable t;
  t.header = {"name", "top-1 %", "status"};
  t.rows = {{"a|b", "1 ± 2", "DONE:1"}, {"c\x1b", "10", "OOM:1"}};
  t.left_columns = 1;
  t.last_column_left = true;
  CHECK(render_terminal_table(t) ==
        "name  top-1 %  status\n"
        "---------------------\n"
        "a|b     1 ± 2  DONE:1\n"
        "c?         10  OOM:1\n");  // the escape character is shown as '?', the last column left-aligned
  CHECK(render_markdown_table(t) ==
        "| name | top-1 % | status |\n"
        "|---|---:|---:|\n"
        "| a\\|b | 1 ± 2 | DONE:1 |\n"
        "| c  | 10 | OOM:1 |\n");
  ReportTable right = t;
  right.last_column_left = false;
  CHECK(render_terminal_table(right).substr(44) == "a|b     1 ± 2  DONE:1\nc?         10   OOM:1\n");
}

TEST_CASE("LaTeX and HTML escaping", "[report]") {
  CHECK(latex_escape("87.50 ± 0.50 (n=3)") == "87.50 $\\pm$ 0.50 (n=3)");
  CHECK(latex_escape("dq_x 10% & #1 – OOM ×1") == "dq\\_x 10\\% \\& \\#1 -- OOM $\\times$1");
  CHECK(html_escape("a<b & \"c\"") == "a&lt;b &amp; &quot;c&quot;");
  // A row whose first cell starts with '[' is shielded from the previous row's \\ (a length there);
  // other cells are left alone; a line break in a label is a space.
  TableFile f{"t", "T", "", {ReportTable{"x", "", {"a", "b"}, {{"[x]\ny", "[1, 2]"}, {"*z", "w"}}, {}, 1}}, ""};
  const std::string tex = render_latex(f);
  CHECK_THAT(tex, Catch::Contains("\\midrule\n{}[x] y & [1, 2] \\\\\n{}*z & w \\\\\n"));
}

namespace {

// A results database written with the store's schema, cells inserted directly.
struct TinyDb {
  std::string dataset_name = "cifar10";  // the next cells' dataset name
  std::string path;
  explicit TinyDb(const std::string& p) : path(p) { Store s(p); }
  void cell(const std::string& id, const std::string& experiment, const std::string& dataset_json,
            const std::string& method_name, const std::string& params_json, double ratio, int64_t seed,
            const std::string& status, const std::map<std::string, double>& metrics,
            const std::map<std::string, double>& stages = {}, const std::string& train_json =
                                                                 R"({"arch":"resnet18","epochs":200})") {
    Store s(path);
    const std::string config = fmt::format(
        R"({{"dataset":{},"extractor":{{"kind":"proxy","arch":"resnet18","epochs":10}},"memory_budget":21474836480,)"
        R"("method":{{"name":"{}","params":{}}},"ratio":{},"seed":{},"train":{}}})",
        dataset_json, method_name, params_json, ratio, seed, train_json);
    Statement(s.handle(),
              "INSERT INTO cells(cell_id, experiment, dataset, method, method_name, ratio, seed, config, status) "
              "VALUES(?,?,?,?,?,?,?,?,?)",
              path)
        .bind(1, id)
        .bind(2, experiment)
        .bind(3, dataset_name)
        .bind(4, method_name + params_json)
        .bind(5, method_name)
        .bind(6, ratio)
        .bind(7, seed)
        .bind(8, config)
        .bind(9, std::string("PENDING"))
        .run();
    // Results are recorded only by the process that owns the RUNNING row; the status is set afterwards.
    s.start_cell(id);
    s.record_metrics(id, metrics);
    for (const auto& [name, wall] : stages) s.record_stage(id, {name, wall, wall, 1 << 20});
    Statement(s.handle(), "UPDATE cells SET status=? WHERE cell_id=?", path).bind(1, status).bind(2, id).run();
  }
};

const char* kCifar = R"({"kind":"cifar10","params":{"path":"data/cifar10"}})";

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Table 1 cells: Random and BGFDQ over three seeds, DQ over three, ADQ with one OOM.
std::string main_table_db(const std::filesystem::path& dir) {
  TinyDb db((dir / "t1.db").string());
  const double random[] = {0.870, 0.875, 0.880}, bgfdq[] = {0.880, 0.886, 0.889}, dq[] = {0.880, 0.880, 0.895};
  const double dq_steps[] = {390, 392, 394};
  for (int s = 0; s < 3; ++s) {
    db.cell(fmt::format("r{}", s), "t1", kCifar, "random", "{}", 0.2, s, "DONE",
            {{"top1", random[s]}, {"train_steps", 392}, {"storage_ratio", 0.2}}, {{"select", 0.01}});
    // Seed 2 read its KNN graph from the cache: its time is a file read, not neighbour identification.
    db.cell(fmt::format("b{}", s), "t1", kCifar, "bgfdq", R"({"k":20,"theta":0.25})", 0.2, s, "DONE",
            {{"top1", bgfdq[s]}, {"diag_knn_cache_hit_mean", s == 2 ? 1.0 : 0.0},
             {"spd_theta_0.0_count", 7.0}, {"spd_theta_0.1_count", 3.0}},  // as the patch stage names them
            {{"select", 2.0 + s}, {"select/neighbour_id", s == 2 ? 0.01 : 1.5}});
    db.cell(fmt::format("d{}", s), "t1", kCifar, "dq", R"({"mode":"memo","theta":0.25})", 0.2, s, "DONE",
            {{"top1", dq[s]}, {"train_steps", dq_steps[s]}, {"storage_ratio", 0.199 + 0.001 * s}},
            {{"select", 5.0}, {"select/bin_generation", 4.0}});
  }
  db.cell("a0", "t1", kCifar, "adq", R"({"theta":0.25})", 0.2, 0, "OOM",
          {{"oom_requested_bytes", 160000000000.0}, {"oom_budget_bytes", 21474836480.0}});
  db.cell("a1", "t1", kCifar, "adq", R"({"theta":0.25})", 0.2, 1, "DONE", {{"top1", 0.9}}, {{"select", 6.0}});
  return db.path;
}

}  // namespace

TEST_CASE("Table 1 from a database: mean ± std, paper beside, OOM never averaged, paired marks", "[report]") {
  const auto dir = test::scratch_dir("report_main");
  const ResultSet rs = load_results({main_table_db(dir)});
  REQUIRE(rs.cells.size() == 11);
  const std::string md = render_markdown(build_main_table(rs));
  INFO(md);
  CHECK_THAT(md, Catch::Contains("| method | CIFAR-10 20% | paper | vs Random (pp) | steps, storage |"));
  CHECK_THAT(md, Catch::Contains("| Random | 87.50 ± 0.50 (n=3) | 87.1 | baseline | 392 steps, 20.00% |"));
  CHECK_THAT(md, Catch::Contains("| ADQ | 90.00 (n=1); OOM ×1 (149.0 GiB asked) | 89.3 | +2.50 (n=1) | – |"));
  CHECK_THAT(md, Catch::Contains("| DQAS-approx | not run | 90.2 | – | – |"));  // a paper row with no data says so
  CHECK_THAT(md, Catch::Contains("| BGFDQ w/ SPD | not run | 91.6 | – | – |"));
  // The improvement column is the paired mean over seeds, by hand: BGFDQ - Random = {1.0, 1.1, 0.9} points,
  // mean 1.00, sd 0.1, half-width t(0.975, 2) * 0.1 / sqrt(3) = 0.248; DQ - Random = {1.0, 0.5, 1.5}: 1.00 ± 1.242.
  CHECK_THAT(md, Catch::Contains("| BGFDQ w/o SPD | 88.50 ± 0.46 (n=3) | 90.5 | +1.00 [+0.75, +1.25] (n=3) | – |"));
  CHECK_THAT(
      md, Catch::Contains("| DQ | 88.50 ± 0.87 (n=3) | 87.6 | +1.00 [-0.24, +2.24] (n=3) | 390–394 steps, 20.00% |"));
  // ... and per seed.
  CHECK_THAT(md, Catch::Contains("## Experiment t1: improvement over Random in top-1, per seed"));
  CHECK_THAT(md, Catch::Contains(
                     "| CIFAR-10 20% | BGFDQ w/o SPD | s0 +1.00; s1 +1.10; s2 +0.90 | 3 | +1.00 | [+0.75, +1.25] |"));
  CHECK_THAT(md, Catch::Contains("| CIFAR-10 20% | ADQ | s1 +2.50 | 1 | +2.50 | needs ≥2 shared seeds |"));
  // The budget protocol heads the table.
  CHECK_THAT(md, Catch::Contains("Budget protocol: equal epochs (200 epochs on every coreset: a smaller coreset takes "
                                 "fewer optimiser steps)"));
  // Any row is a baseline by its label: Random - BGFDQ = {-1.0, -1.1, -0.9}.
  TableOptions by_label;
  by_label.baseline = "bgfdq W/O spd";
  const std::string other = render_markdown(build_main_table(rs, by_label));
  CHECK_THAT(other, Catch::Contains("| method | CIFAR-10 20% | paper | vs BGFDQ w/o SPD (pp) | steps, storage |"));
  CHECK_THAT(other, Catch::Contains("| Random | 87.50 ± 0.50 (n=3) | 87.1 | -1.00 [-1.25, -0.75] (n=3) |"));
  // Paired: BGFDQ - Random = {1.0, 1.1, 0.9}: [+0.75, +1.25] excludes 0; DQ - Random = {1.0, 0.5, 1.5} does not.
  CHECK_THAT(md, Catch::Contains("| CIFAR-10 20% | BGFDQ w/o SPD | Random | 3 | +1.00 | [+0.75, +1.25] | yes |"));
  CHECK_THAT(md, Catch::Contains("| CIFAR-10 20% | DQ | Random | 3 | +1.00 | [-0.24, +2.24] | no |"));
  CHECK_THAT(md, Catch::Contains("| CIFAR-10 20% | ADQ | Random | 1 | +2.50 | needs ≥2 shared seeds | – |"));
  // Footnotes: the extractor is a proxy, the recipe is the paper's (no CPU-recipe note).
  CHECK_THAT(md, Catch::Contains("Extractor: proxy resnet18 trained 10 epochs"));
  CHECK_THAT(md, !Catch::Contains("CPU recipe"));
  const std::string tex = render_latex(build_main_table(rs));
  CHECK_THAT(tex, Catch::Contains("Random & 87.50 $\\pm$ 0.50 (n=3) & 87.1 & baseline & 392 steps, 20.00\\% \\\\"));
}

TEST_CASE("runtime table from recorded stages; empty paper tables say so", "[report]") {
  const auto dir = test::scratch_dir("report_runtime");
  const ResultSet rs = load_results({main_table_db(dir)});
  const std::string md = render_markdown(build_runtime_table(rs));
  CHECK_THAT(md, Catch::Contains("| BGFDQ w/o SPD | – | 1.50 ± 0.00 (n=2) | – | 2.50 ± 0.71 (n=2) |"));
  CHECK_THAT(md, Catch::Contains("1 cell read DQ's bins or BGFDQ's KNN graph from the cache"));
  CHECK_THAT(md, Catch::Contains("| DQ | 4.00 ± 0.00 (n=3) | – |"));
  CHECK_THAT(md, Catch::Contains("441 / – / 806 / 1248"));
  // No ablation cells (theta = 0) and no sweeps: the files still exist and say so.
  const std::string ablation = render_markdown(build_ablation_table(rs));
  CHECK_THAT(ablation, Catch::Contains("The paper's numbers (no recorded cells yet)"));
  CHECK_THAT(ablation, Catch::Contains("| NI+NCS | not run | 76.4 | not run | 87.6 | not run | 90.5 |"));
  CHECK_THAT(render_markdown(build_sweeps_table(rs)), Catch::Contains("No recorded sweeps yet"));
}

TEST_CASE("scale table: an experiment over several datasets gets a summary line per dataset", "[report]") {
  // zoo_scale's shape: one class per dataset, DQ streaming and BGFDQ on each; the summary gives each
  // method's selection time, BGFDQ's recall and BGFDQ's speed-up (DQ's time over BGFDQ's).
  const auto dir = test::scratch_dir("report_zoo");
  TinyDb db((dir / "z.db").string());
  const char* one = R"({"kind":"synthetic_embeddings","params":{"classes":1,"per_class":200000,"dim":512}})";
  const char* two = R"({"kind":"synthetic_embeddings","params":{"classes":1,"per_class":200000,"dim":512,"manifold_dim":6}})";
  db.dataset_name = "zoo_mixture";
  db.cell("a1", "zoo", one, "dq", R"({"mode":"streaming","theta":0.25})", 0.01, 0, "DONE", {}, {{"select", 18.0}}, "null");
  db.cell("a2", "zoo", one, "bgfdq", R"({"knn":"auto","theta":0.25})", 0.01, 0, "DONE",
          {{"diag_knn_recall_at_k_mean", 0.9995}}, {{"select", 7.5}, {"select/neighbour_id", 7.0}}, "null");
  db.dataset_name = "zoo_manifold";
  db.cell("b1", "zoo", two, "dq", R"({"mode":"streaming","theta":0.25})", 0.01, 0, "DONE", {}, {{"select", 12.0}}, "null");
  db.cell("b2", "zoo", two, "bgfdq", R"({"knn":"auto","theta":0.25})", 0.01, 0, "DONE",
          {{"diag_knn_recall_at_k_mean", 0.9911}}, {{"select", 16.0}, {"select/neighbour_id", 15.0}}, "null");
  const std::string md = render_markdown(build_scale_table(load_results({db.path})));
  CHECK_THAT(md, Catch::Contains("## Experiment zoo: every dataset at a glance"));
  CHECK_THAT(md, Catch::Contains("| dataset | DQ select s | BGFDQ w/o SPD select s | BGFDQ w/o SPD recall@k | BGFDQ w/o SPD "
                                 "speed-up over DQ |"));
  CHECK_THAT(md, Catch::Contains("| `zoo_mixture` 1% | 18.0 (n=1) | 7.5 (n=1) | 0.9995 (n=1) | 2.40x |"));
  CHECK_THAT(md, Catch::Contains("| `zoo_manifold` 1% | 12.0 (n=1) | 16.0 (n=1) | 0.9911 (n=1) | 0.75x |"));
}

TEST_CASE("ablation, scale and sweep tables pick their cells", "[report]") {
  const auto dir = test::scratch_dir("report_other");
  TinyDb db((dir / "o.db").string());
  const char* synth = R"({"kind":"synthetic_embeddings","params":{"classes":2,"per_class":200000,"dim":512}})";
  db.cell("s1", "scale", synth, "dq", R"({"mode":"naive","theta":0.25})", 0.01, 0, "OOM",
          {{"oom_requested_bytes", 160000000000.0}}, {{"dataset", 1.0}}, "null");
  db.cell("s2", "scale", synth, "bgfdq", R"({"knn":"exact","theta":0.25})", 0.01, 0, "DONE",
          {{"coverage_mean", 31.9}, {"redundancy_mean", 5.98}}, {{"select", 662.4}, {"select/neighbour_id", 662.3}},
          "null");
  for (int s = 0; s < 2; ++s) {
    db.cell(fmt::format("n{}", s), "abl", kCifar, "bgfdq", R"({"k":20,"theta":0})", 0.1, s, "DONE",
            {{"coverage_mean", 10.0 + s}, {"redundancy_mean", 2.0}}, {}, "null");
    db.cell(fmt::format("k{}", s), "abl", kCifar, "bgfdq", R"({"k":5,"theta":0})", 0.1, s, "DONE",
            {{"coverage_mean", 12.0 + s}, {"redundancy_mean", 1.0}}, {}, "null");
  }
  // A clustered cell that ended below its recall target is marked in the recall column.
  db.cell("s3", "scale", synth, "bgfdq", R"({"knn":"clustered","theta":0.25})", 0.01, 0, "DONE",
          {{"diag_knn_recall_at_k_mean", 0.863}, {"diag_knn_recall_below_target_mean", 1.0},
           {"diag_knn_recall_target_mean", 0.99}},
          {{"select", 71.0}, {"select/neighbour_id", 70.9}}, "null");
  const ResultSet rs = load_results({db.path});
  const std::string scale = render_markdown(build_scale_table(rs));
  CHECK_THAT(scale, Catch::Contains("| DQ | OOM ×1 | 149.0 GiB | 20.0 GiB |"));
  CHECK_THAT(scale, Catch::Contains("| 662.4 (n=1) |"));
  CHECK_THAT(scale, Catch::Contains("| 0.8630 (n=1) (below target 0.99 in 1 cell) |"));
  CHECK_THAT(scale, Catch::Contains("synthetic embeddings standing in for the real data (2 classes x 200000 per class"));
  const std::string ablation = render_markdown(build_ablation_table(rs));
  CHECK_THAT(ablation, Catch::Contains("| NI+NCS (k=20) | selection only | 76.4 | – | – |"));
  CHECK_THAT(ablation, Catch::Contains("| RS | not run | 75.7 | – | – |"));
  // No Random cells: the improvement column stays, and the table says why it is empty.
  CHECK_THAT(ablation, Catch::Contains("The 'vs random' column is empty: no cells of the baseline 'random' in this "
                                       "experiment"));
  TableOptions ambiguous;
  ambiguous.baseline = "bgfdq";
  CHECK_THAT(
      render_markdown(build_ablation_table(rs, ambiguous)),
      Catch::Contains("the baseline 'bgfdq' matches 2 rows (NI+NCS (k=20), NI+NCS (k=5)); name one by its label"));
  // No selection sub-stages on real data here: Table 4 shows the paper's numbers and says so.
  CHECK_THAT(render_markdown(build_runtime_table(rs)), Catch::Contains("| DQ | not run | 441 | – | 806 | 1248 | 87.6 |"));
  const std::string sweeps = render_markdown(build_sweeps_table(rs));
  CHECK_THAT(sweeps, Catch::Contains("## k over bgfdq: CIFAR-10 10% (experiment abl)"));
  CHECK_THAT(sweeps, Catch::Contains("| 5 | – | 12.500 ± 0.707 (n=2) |"));
  // Coverage k=20 - k=5 = {-2, -2}: sd 0, the interval is the point and excludes 0.
  CHECK_THAT(sweeps, Catch::Contains("| CIFAR-10 10% | k=20 | k=5 | 2 | -2.000 | [-2.000, -2.000] | yes |"));
}

TEST_CASE("cross-architecture: the paper-tier files' cells form their table, not Table 1's", "[report]") {
  // The cells the two paper-tier files expand into, recorded as DONE with made-up accuracies: what the
  // table reads from a real run of them (target network, dataset, ratio and method from each config).
  const auto dir = test::scratch_dir("report_cross_arch");
  const std::string db = (dir / "x.db").string();
  for (const char* file : {"cross_arch_resnet50.yaml", "cross_arch_vit.yaml"}) {
    const Experiment ex = load_experiment(std::string(DQ_SOURCE_DIR) + "/experiments/paper/" + file);
    Store s(db);
    s.record_experiment(ex);
    s.ensure_cells(ex.cells);
    for (const auto& c : ex.cells) {
      s.start_cell(c.id());
      const double bgfdq = c.method.name == "bgfdq" ? 0.02 : 0.0;  // BGFDQ +2 points, +/-0.1 by seed
      s.record_metrics(c.id(), {{"top1", 0.30 + bgfdq + 0.001 * static_cast<double>(c.seed)}});
      s.finish_cell(c.id(), CellStatus::Done, "", Provenance{});
    }
  }
  const ResultSet rs = load_results({db});
  REQUIRE(rs.cells.size() == 72);
  const std::string md = render_markdown(build_cross_arch_table(rs));
  INFO(md);
  CHECK_THAT(md, Catch::Contains("## Experiment paper_cross_arch_resnet50"));
  CHECK_THAT(md, Catch::Contains("## Experiment paper_cross_arch_vit"));
  // No paper number for ResNet-50: no paper columns.
  CHECK_THAT(md, Catch::Contains(
                     "| method | CIFAR-10 20% → resnet50 | vs Random (pp) | steps, storage | CIFAR-100 20% → resnet50 "
                     "| vs Random (pp) | steps, storage |\n"));
  CHECK_THAT(md, Catch::Contains(
                     "| method | CIFAR-10 20% → vit | paper | vs Random (pp) | steps, storage | CIFAR-100 20% → vit "
                     "| paper | vs Random (pp) | steps, storage |\n"));
  // The paper's ViT numbers stand beside the CIFAR-100 ViT column.
  CHECK_THAT(md, Catch::Contains(
                     "| ADQ | 30.10 ± 0.10 (n=3) |  | +0.00 [+0.00, +0.00] (n=3) | – | 30.10 ± 0.10 (n=3) | 30.9 |"));
  CHECK_THAT(md, Catch::Contains(
                     "| BGFDQ w/ SPD | 32.10 ± 0.10 (n=3) |  | +2.00 [+2.00, +2.00] (n=3) | – | 32.10 ± 0.10 (n=3) "
                     "| 35.7 |"));
  CHECK_THAT(md, Catch::Contains("Extractor: proxy resnet18 trained 200 epochs"));
  CHECK_THAT(md, Catch::Contains("| CIFAR-100 20% → vit | BGFDQ w/o SPD | Random | 3 | +2.00 |"));
  // Table 1 is ResNet-18's: none of these cells appear there.
  CHECK_THAT(render_markdown(build_main_table(rs)), Catch::Contains("The paper's numbers (no recorded cells yet)"));
}

TEST_CASE("a dataset the paper does not have: no paper columns, no rows for methods not run", "[report]") {
  const auto dir = test::scratch_dir("report_fmnist");
  TinyDb db((dir / "q.db").string());
  const char* fm = R"({"kind":"fashion_mnist","params":{"max_per_class":2000,"path":"/x"}})";
  const char* recipe = R"({"arch":"small_cnn","epochs":1,"min_steps":300})";
  for (int s = 0; s < 2; ++s) {
    db.cell(fmt::format("r{}", s), "q", fm, "random", "{}", 0.1, s, "DONE", {{"top1", 0.80 + 0.01 * s}}, {}, recipe);
    db.cell(fmt::format("b{}", s), "q", fm, "bgfdq", R"({"theta":0.25})", 0.1, s, "DONE", {{"top1", 0.82 + 0.01 * s}},
            {}, recipe);
  }
  const std::string md = render_markdown(build_main_table(load_results({db.path})));
  INFO(md);
  CHECK_THAT(md, Catch::Contains("| method | Fashion-MNIST 10% | vs Random (pp) | steps, storage |\n"));
  CHECK_THAT(md, Catch::Contains("| BGFDQ w/o SPD | 82.50 ± 0.71 (n=2) | +2.00 [+2.00, +2.00] (n=2) | – |\n"));
  CHECK_THAT(md, !Catch::Contains("not run"));
  CHECK_THAT(md, Catch::Contains("| Fashion-MNIST 10% | BGFDQ w/o SPD | Random | 2 | +2.00 |"));
  // The subset and the one-epoch recipe are said as they are.
  CHECK_THAT(md, Catch::Contains("Fashion-MNIST: the first 2000 training images of each class (the loader's "
                                 "max_per_class), not the whole training split; the test split is whole."));
  CHECK_THAT(md, Catch::Contains("Target: small_cnn, 1 epoch (at least 300 steps)"));
  CHECK_THAT(md, Catch::Contains("Budget protocol: equal epochs with a floor (1 epoch on every coreset, more where "
                                 "that is under 300 optimiser steps)"));
  CHECK_THAT(md, Catch::Contains("trained 10 epochs on the training subset"));
}

TEST_CASE("results: a missing or foreign file is an error; duplicates keep the DONE row", "[report]") {
  const auto dir = test::scratch_dir("report_load");
  CHECK_THROWS_AS(load_results({(dir / "none.db").string()}), Error);
  test::write_text(dir / "x.db", "not a database");
  CHECK_THROWS_AS(load_results({(dir / "x.db").string()}), Error);
  TinyDb a((dir / "a.db").string()), b((dir / "b.db").string());
  a.cell("same", "e", kCifar, "random", "{}", 0.2, 0, "FAILED", {});
  b.cell("same", "e", kCifar, "random", "{}", 0.2, 0, "DONE", {{"top1", 0.5}});
  const ResultSet rs = load_results({a.path, b.path});
  REQUIRE(rs.cells.size() == 1);
  CHECK(rs.cells[0].done());
  CHECK(rs.cells[0].db == b.path);
  // The same configuration recorded by two experiments is two results.
  TinyDb c((dir / "c.db").string());
  c.cell("same", "other", kCifar, "random", "{}", 0.2, 0, "DONE", {{"top1", 0.6}});
  CHECK(load_results({a.path, b.path, c.path}).cells.size() == 2);
}

TEST_CASE("SVG figures: log axes, error bars, OOM marks, fixed formatting", "[report]") {
  Plot p;
  p.title = "t";
  p.log_x = p.log_y = true;
  p.series.push_back({"dq", {5000, 200000}, {0.5, 74.0}, {0.1, 0}, true, {}});
  p.series.push_back({"dq naive", {}, {}, {}, true, {200000}});
  const std::string svg = render_svg(p);
  CHECK(svg == render_svg(p));
  CHECK_THAT(svg, Catch::StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK_THAT(svg, Catch::Contains(">OOM</text>"));
  CHECK_THAT(svg, Catch::Contains(">1e6</text>"));   // decade ticks on the log x axis: 1000 .. 1e6
  CHECK_THAT(svg, Catch::Contains(">1000</text>"));
  CHECK_THAT(svg, Catch::Contains("<polyline"));
  CHECK_THAT(svg, Catch::EndsWith("</svg>\n"));
  CHECK_THAT(render_svg_message("x", "no data"), Catch::Contains("no data"));
}

TEST_CASE("write_paper_tables is byte for byte repeatable and writes every table", "[report]") {
  const auto dir = test::scratch_dir("report_write");
  const ResultSet rs = load_results({main_table_db(dir)});
  const auto files = write_paper_tables(rs, (dir / "a").string());
  write_paper_tables(rs, (dir / "b").string());
  CHECK(files.size() == 6 * 2 + 4 + 1);  // 6 tables x (md, tex), 4 figures, index.md
  for (const auto& f : files) {
    const auto rel = std::filesystem::relative(f, dir / "a");
    CHECK(read_text(f) == read_text(dir / "b" / rel));
  }
  CHECK(std::filesystem::exists(dir / "a" / "table4_runtime.tex"));
  const std::string hist = read_text(dir / "a" / "figures" / "fig_spd_theta_hist.svg");
  CHECK_THAT(hist, !Catch::Contains("no SPD"));  // the patch stage's spd_theta_<θ>_count metrics are read
  CHECK_THAT(hist, Catch::Contains(">10</text>"));  // the θ* = 0.1 bin, in percent
  const std::string html = render_report_html(rs);
  CHECK_THAT(html, Catch::Contains("<svg"));
  CHECK_THAT(html, !Catch::Contains("http://") || Catch::Contains("xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK_THAT(html, !Catch::Contains("<script"));
}

TEST_CASE("a cell stored before its method gained a parameter reads with that parameter's default", "[report]") {
  const auto dir = test::scratch_dir("report_new_defaults");
  TinyDb db((dir / "d.db").string());
  const std::string now = parse_method_spec("bgfdq(k=20,theta=0.25)", "test").canonical();
  REQUIRE(now.find("spd=off") != std::string::npos);
  db.cell("old", "e", kCifar, "bgfdq", R"({"k":20,"theta":0.25})", 0.2, 0, "DONE", {{"top1", 0.5}});
  db.cell("new", "e", kCifar, "bgfdq", R"({"k":20,"theta":0.25,"spd":"off","lambda_scale":1.0})", 0.2, 1, "DONE",
          {{"top1", 0.6}});
  db.cell("foreign", "e", kCifar, "not_a_method", "{}", 0.2, 0, "DONE", {{"top1", 0.7}});
  {
    Store s(db.path);
    auto set_method = [&](const std::string& id, const std::string& method) {
      Statement(s.handle(), "UPDATE cells SET method=? WHERE cell_id=?", db.path).bind(1, method).bind(2, id).run();
    };
    set_method("old", "bgfdq(k=20,theta=0.25)");  // as written before spd and lambda_scale existed
    set_method("new", now);
    set_method("foreign", "not_a_method(x=1)");
  }
  const ResultSet rs = load_results({db.path});
  std::map<std::string, const CellResult*> by_id;
  for (const auto& c : rs.cells) by_id[c.cell_id] = &c;
  CHECK(by_id.at("old")->method == now);
  CHECK(by_id.at("new")->method == now);
  CHECK(by_id.at("old")->method_param("spd") == "off");
  CHECK(by_id.at("old")->method_params == by_id.at("new")->method_params);
  CHECK(by_id.at("foreign")->method == "not_a_method(x=1)");  // unreadable specs stay as stored
}

TEST_CASE("the lambda_scale table reads SPD's recorded drop at other thresholds", "[report]") {
  const auto dir = test::scratch_dir("report_spd_threshold");
  TinyDb db((dir / "s.db").string());
  for (int s = 0; s < 2; ++s)
    db.cell(fmt::format("p{}", s), "spd", kCifar, "bgfdq", R"({"spd":"on","lambda_scale":2,"theta":0.25})", 0.2, s,
            "DONE",
            {{"top1", 0.6}, {"spd_mean_drop_at_threshold_x0.5", 0.01 * (s + 1)}, {"spd_mean_drop_at_threshold_x1", 0.1},
             {"spd_mean_drop_at_threshold_x4", 0.3 + 0.1 * s}});
  db.cell("off", "spd", kCifar, "bgfdq", R"({"spd":"off","theta":0.25})", 0.2, 0, "DONE",
          {{"top1", 0.5}, {"spd_mean_drop_at_threshold_x1", 0.9}});  // not an SPD cell: ignored
  const std::string sweeps = render_markdown(build_sweeps_table(load_results({db.path})));
  CHECK_THAT(sweeps, Catch::Contains("## lambda_scale over bgfdq w/ SPD, read off the recorded offsets: CIFAR-10 20% "
                                     "(experiment spd)"));
  CHECK_THAT(sweeps, Catch::Contains("(the run used 2)"));
  // Multiples of the threshold used (2) become lambda_scale values; mean ± std over the two seeds, in %.
  CHECK_THAT(sweeps, Catch::Contains("| 1 | 1.5 ± 0.7 (n=2) |"));
  CHECK_THAT(sweeps, Catch::Contains("| 2 | 10.0 ± 0.0 (n=2) |"));
  CHECK_THAT(sweeps, Catch::Contains("| 8 | 35.0 ± 7.1 (n=2) |"));
  CHECK(sweeps.find("| 90.0") == std::string::npos);
}

namespace {
// Markdown images ("![alt](url)", which a viewer fetches) not escaped as "\![".
int64_t unescaped_images(const std::string& md) {
  int64_t n = 0;
  for (size_t at = md.find("!["); at != std::string::npos; at = md.find("![", at + 1)) n += at == 0 || md[at - 1] != '\\';
  return n;
}
}  // namespace

TEST_CASE("strings from someone else's database cannot run, load or break anything in the report", "[report]") {
  const auto dir = test::scratch_dir("report_hostile");
  TinyDb db((dir / "h.db").string());
  const std::string script = "<script>document.title='pwned'</script>";
  const std::string img = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
  const std::string latex = "\\input{/etc/passwd}\\write18{touch pwned}";
  const std::string breaker =
      "a|b\n\n| x | y |\n# heading\r\n[2cm]*![i](http://example.com/i.png)\x1b]0;pwned\x07\x1b[2J\xc2\x9b";
  // The experiment name (table and figure titles), the dataset's path (footnotes), the method's spec and
  // name (row labels) and an error message: each with markup, script, LaTeX and line breaks.
  const std::string dataset = fmt::format(R"({{"kind":"image_folder","params":{{"path":"jpg{}"}}}})",
                                          "<b>bold</b>\\u003cscript\\u003e");
  for (int s = 0; s < 2; ++s) {
    db.cell(fmt::format("h{}", s), script + latex + breaker, dataset, "random", "{}", 0.1, s, "DONE",
            {{"top1", 0.5 + 0.01 * s}}, {{"select", 0.5}});
    db.cell(fmt::format("x{}", s), script + latex + breaker, dataset, "evil", "{}", 0.1, s, s ? "FAILED" : "DONE",
            {{"top1", 0.6}}, {{"select", 0.7}});
  }
  {
    Store s(db.path);
    Statement(s.handle(), "UPDATE cells SET method=?, method_name=?, error=? WHERE method_name='evil'", db.path)
        .bind(1, "evil(x=" + img + breaker + ")")
        .bind(2, "evil" + img)
        .bind(3, script + img + breaker)
        .run();
  }
  const ResultSet rs = load_results({db.path});
  REQUIRE(rs.cells.size() == 4);
  // dqbench table and status: no escape sequence reaches the terminal; the Markdown table keeps its rows.
  {
    Store store(db.path, OpenMode::ReadOnly);
    for (const std::string& text : {render_results_table(store, "", TableFormat::Terminal),
                                    render_results_table(store, "", TableFormat::Markdown), render_status(store, "")}) {
      INFO(text);
      CHECK(text.find('\x1b') == std::string::npos);
      CHECK(text.find("\xc2\x9b") == std::string::npos);
      CHECK(text.find('\r') == std::string::npos);
    }
    CHECK_THAT(render_results_table(store, "", TableFormat::Markdown), !Catch::Contains("<img"));
  }

  const std::string html = render_report_html(rs);
  INFO(html);
  CHECK_THAT(html, Catch::Contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
  CHECK_THAT(html, !Catch::Contains("<script") && !Catch::Contains("<img") && !Catch::Contains("<b>"));
  // The strings are there, as text.
  CHECK_THAT(html, Catch::Contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"));
  CHECK_THAT(html, Catch::Contains("&lt;b&gt;bold&lt;/b&gt;"));

  const std::vector<TableFile> tables = build_paper_tables(rs);
  bool payload_in_markdown = false, payload_in_latex = false;
  for (const auto& t : tables) {
    const std::string md = render_markdown(t);
    INFO(md);
    CHECK_THAT(md, !Catch::Contains("<script") && !Catch::Contains("<img"));
    CHECK(unescaped_images(md) == 0);
    payload_in_markdown = payload_in_markdown || md.find("&lt;script&gt;") != std::string::npos;
    // Every row of every table has its header's number of cells: a '|' or a line break in a label
    // cannot add a column or end the row.
    std::istringstream lines(md);
    std::string line;
    int64_t columns = -1;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] != '|') {
        columns = -1;
        CHECK_FALSE(line.starts_with("# heading"));
        continue;
      }
      int64_t bars = 0;
      for (size_t i = 0; i < line.size(); ++i) bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
      if (columns < 0) columns = bars;
      CHECK(bars == columns);
    }
    const std::string tex = render_latex(t);
    INFO(tex);
    payload_in_latex = payload_in_latex || tex.find("\\textbackslash{}input\\{/etc/passwd\\}") != std::string::npos;
    CHECK_THAT(tex, !Catch::Contains("\\input{") && !Catch::Contains("\\write18{"));
    CHECK_THAT(tex, !Catch::Contains("\n\n\\") || Catch::Contains("\\end{table}\n\n\\begin{table}"));
    CHECK_THAT(tex, !Catch::Contains("\\\\\n[") && !Catch::Contains("\\\\\n*"));
    // Inside a tabular no blank line (a paragraph break is an error there).
    for (size_t at = tex.find("\\begin{tabular}"); at != std::string::npos; at = tex.find("\\begin{tabular}", at + 1)) {
      const size_t end = tex.find("\\end{tabular}", at);
      REQUIRE(end != std::string::npos);
      CHECK(tex.substr(at, end - at).find("\n\n") == std::string::npos);
    }
  }
  CHECK(payload_in_markdown);
  CHECK(payload_in_latex);

  write_paper_tables(rs, (dir / "out").string());
  const std::string index = read_text(dir / "out" / "index.md");
  CHECK_THAT(index, !Catch::Contains("<script"));
  CHECK(unescaped_images(index) == static_cast<int64_t>(build_figures(rs).size()));  // the figures' own "![title](figures/x.svg)", and no other
}

TEST_CASE("Table 1 says what SPD did, how NCS and SPD share the work, and that ADQ scores one view", "[report]") {
  const auto dir = test::scratch_dir("report_spd_notes");
  TinyDb db((dir / "spd.db").string());
  for (int s = 0; s < 2; ++s)
    db.cell(fmt::format("p{}", s), "t1", kCifar, "bgfdq", R"({"spd":"on"})", 0.2, s, "DONE",
            {{"top1", 0.9}, {"spd_mean_drop", 0.04 + 0.01 * s}, {"sample_ratio", 0.21}});
  db.cell("a0", "t1", kCifar, "adq", R"({"theta":0.25})", 0.2, 0, "DONE", {{"top1", 0.8}});
  const std::string md = render_markdown(build_main_table(load_results({db.path})));
  CHECK_THAT(md, Catch::Contains("BGFDQ w/ SPD: what SPD did here") &&
                     Catch::Contains("CIFAR-10 20%: mean patch drop 4.5%, 21.0% of the training images stored") &&
                     Catch::Contains("drops about 40% of the patches") && Catch::Contains("a drop this small"));
  CHECK_THAT(md, Catch::Contains("With SPD on, NCS orders the whole class"));
  CHECK_THAT(md, Catch::Contains("ADQ: the diversity score uses one view per sample"));
  // A database from before cells recorded their artefacts: pairing unverified, said once per table.
  CHECK_THAT(md, Catch::Contains("Pairing unverified: 3 of these 3 DONE cells"));
}

TEST_CASE("the runtime table states the host load its timings were taken under", "[report]") {
  const auto dir = test::scratch_dir("report_load");
  const std::string path = main_table_db(dir);
  {
    Store s(path);
    for (const auto& [id, start, end] : {std::tuple{"r0", 0.5, 1.0}, {"d1", 3.25, 2.0}})
      Statement(s.handle(), "INSERT INTO provenance(cell_id, load1_start, load1_end) VALUES(?,?,?)", path)
          .bind(1, std::string(id))
          .bind(2, start)
          .bind(3, end)
          .run();
  }
  const std::string md = render_markdown(build_runtime_table(load_results({path})));
  CHECK_THAT(md, Catch::Contains("Host load (1-minute average) when the cells started and ended: 0.50 to 3.25 "
                                 "(not recorded for 8 cells)"));
  const auto unrecorded = dir / "none";
  std::filesystem::create_directories(unrecorded);
  CHECK_THAT(render_markdown(build_runtime_table(load_results({main_table_db(unrecorded)}))),
             Catch::Contains("The host's load while these cells ran was not recorded"));
}

TEST_CASE("report: method parameters come from the stored spec and the method's declared defaults", "[report]") {
  CellResult c;
  c.method_name = "bgfdq";
  c.method_params = {{"k", "20"}, {"alpha", "1.0"}, {"spd", "off"}};
  CHECK(c.method_param_is_default("k"));
  CHECK(c.method_param_is_default("alpha"));  // "1.0" read as bgfdq declares alpha: the default 1
  CHECK(c.method_param("theta").empty());     // not stored: no default of the report's own
  CHECK_FALSE(c.method_param_is_default("theta"));
  c.method_params["k"] = "5";
  CHECK_FALSE(c.method_param_is_default("k"));
  c.method_params["k"] = "twenty";  // unreadable as the method's int
  CHECK_FALSE(c.method_param_is_default("k"));
  c.method_name = "not_registered";
  CHECK_FALSE(c.method_param_is_default("alpha"));
}
