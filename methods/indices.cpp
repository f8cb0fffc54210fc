// `indices`: a coreset made elsewhere, read from files and evaluated under the experiment's recipe,
// beside the built-in methods in the same matrix and tables. `{name: indices, file: sel.npy,
// keep: keep.npy, label: theirs}`, or `file:` a folder that `dqbench export` wrote (read as is:
// indices, keep fractions, patch masks, labels). The files' content is part of the cell id
// (MethodInfo::pin_inputs), and every row is checked against the dataset before anything trains
// (methods/coreset_files.h); a coreset over the cell's storage budget is refused unless `budget: free`.
#include <fmt/format.h>

#include <filesystem>

#include "core/error.h"
#include "core/param_table.h"
#include "methods/coreset_files.h"
#include "methods/method.h"

namespace dq {
namespace {

enum class BudgetRule { Fixed, Free };
const char* budget_rule_name(BudgetRule b) { return b == BudgetRule::Fixed ? "fixed" : "free"; }

struct IndicesOptions {
  std::string file;   // a .npy of int64 dataset ids, or an export folder
  std::string keep;   // float32 keep fractions (optional)
  std::string masks;  // bool n x P patch masks (optional)
  std::string label;  // name in tables
  BudgetRule budget = BudgetRule::Fixed;
  std::string sha256;  // the files' content, filled in when the experiment is read
};

const ParamTable<IndicesOptions>& indices_params() {
  using O = IndicesOptions;
  static const ParamTable<O> table{{
      field({.name = "file",
             .help = "the coreset: a .npy of int64 training-split dataset ids, or a folder written by dqbench export "
                     "(its indices.npy, keep.npy, masks.npy and labels.npy are read)"},
            &O::file),
      field({.name = "keep", .help = "float32 .npy: the kept share of each id's patches, in (0, 1] (default: 1)"},
            &O::keep),
      field({.name = "masks",
             .help = "bool .npy (n x P): each id's kept patches on the cell's patch grid; the patch stage applies them "
                     "instead of ranking patches"},
            &O::masks),
      field({.name = "label", .help = "name in tables (default: the file's or folder's name)"}, &O::label),
      field(
          {.name = "budget",
           .help = "fixed: refuse a coreset over the cell's storage budget (per class and in total); free: evaluate it "
                   "anyway (tables mark the row)"},
          named_values({BudgetRule::Fixed, BudgetRule::Free}, budget_rule_name), &O::budget),
      field({.name = "sha256",
             .help = "content hash of the files read, filled in when the experiment is read (part of the cell id); a "
                     "value given here must match"},
            &O::sha256),
  }};
  return table;
}

CoresetSource source_of(const IndicesOptions& o) {
  if (o.file.empty())
    throw Error(
        "method 'indices' needs a file, e.g. {name: indices, file: sel.npy} or the folder dqbench export wrote");
  return CoresetSource::resolve(o.file, o.keep, o.masks, "method 'indices'");
}

void pin_indices(Params& params) {
  const IndicesOptions o = indices_params().parse(params);
  const std::string now = source_of(o).content_sha256();
  if (!o.sha256.empty() && o.sha256 != now)
    throw Error(
        fmt::format("method 'indices': the coreset files of '{}' have sha256 {}, not the {} the experiment "
                    "gives (they changed?)",
                    o.file, now, o.sha256));
  params.set_from_text("sha256", now, "method 'indices'");
}

std::string display_indices(const Params& params) {
  const IndicesOptions o = indices_params().parse(params);
  std::string label = o.label;
  if (label.empty()) {
    const std::filesystem::path p = std::filesystem::path(o.file).lexically_normal();
    label = (p.has_filename() ? p : p.parent_path()).stem().string();
  }
  return o.budget == BudgetRule::Free ? label + " [budget: free]" : label;
}

class Indices final : public SelectionMethod {
 public:
  explicit Indices(IndicesOptions o) : o_(std::move(o)) {}

  bool needs_embeddings() const override { return false; }

  std::vector<ClassSelection> select(std::span<const ClassView> classes, const SelectContext& ctx) override {
    const CoresetSource source = source_of(o_);
    {
      auto t = ctx.timer.scope("read_files");
      if (!o_.sha256.empty())
        if (const std::string now = source.content_sha256(); now != o_.sha256)
          throw Error(
              fmt::format("{}: the coreset files changed after the experiment was read (sha256 {} then, {} now)",
                          source.indices, o_.sha256, now));
    }
    // The class of every training sample this cell selects from (-1: none).
    int64_t n_train = 0;
    for (const auto& c : classes)
      for (int64_t id : c.ids) n_train = std::max(n_train, id + 1);
    std::vector<int64_t> owner(static_cast<size_t>(n_train), -1);
    std::vector<size_t> class_of(static_cast<size_t>(n_train), 0);
    for (size_t c = 0; c < classes.size(); ++c)
      for (int64_t id : classes[c].ids) {
        owner[static_cast<size_t>(id)] = classes[c].label;
        class_of[static_cast<size_t>(id)] = c;
      }
    CoresetRows rows;
    {
      auto t = ctx.timer.scope("check_rows");
      rows = read_coreset(source, owner);
    }
    if (o_.budget == BudgetRule::Fixed) check_budget(source.indices, rows, classes, class_of, ctx.ratio);

    std::vector<ClassSelection> out(classes.size());
    const auto p = static_cast<size_t>(rows.patches);
    for (size_t i = 0; i < rows.ids.size(); ++i) {
      ClassSelection& s = out[class_of[static_cast<size_t>(rows.ids[i])]];
      s.ids.push_back(rows.ids[i]);
      s.keep.push_back(rows.keep[i]);
      if (p > 0)
        s.masks.insert(s.masks.end(), rows.masks.begin() + static_cast<std::ptrdiff_t>(i * p),
                       rows.masks.begin() + static_cast<std::ptrdiff_t>((i + 1) * p));
    }
    return out;
  }

 private:
  // The storage (sum of keep) in total and per class within storage_budget; the message names the
  // class and the first row that goes over.
  static void check_budget(const std::string& path, const CoresetRows& rows, std::span<const ClassView> classes,
                           const std::vector<size_t>& class_of, double ratio) {
    double total = 0, budget = 0;
    int64_t n_train = 0;
    for (const auto& c : classes) {
      budget += storage_budget(ratio, c.size());
      n_train += c.size();
    }
    for (float w : rows.keep) total += w;
    const double slack = 1e-4;  // float keep fractions summed
    if (total > budget + slack)
      throw Error(
          fmt::format("{}: the coreset stores {:.4g} images (the sum of its keep fractions) but the cell's storage "
                      "budget at ratio {} is {:.4g} (ratio x {} training samples, + 0.5 per class for rounding); "
                      "set budget: free to evaluate it anyway (tables mark the row)",
                      path, total, ratio, budget, n_train));
    std::vector<double> used(classes.size(), 0.0);
    for (size_t i = 0; i < rows.ids.size(); ++i) {
      const size_t c = class_of[static_cast<size_t>(rows.ids[i])];
      used[c] += rows.keep[i];
      const double cap = storage_budget(ratio, classes[c].size());
      if (used[c] > cap + slack)
        throw Error(
            fmt::format("{} row {}: class {} goes over its storage budget here ({:.4g} images of at most {:.4g} = "
                        "ratio {} x {} samples + 0.5): the recipe's budgets are per class (a wrong class "
                        "balance); set budget: free to evaluate it anyway",
                        path, i, classes[c].label, used[c], cap, ratio, classes[c].size()));
    }
  }

  IndicesOptions o_;
};

// Kept fractions below 1 come from a keep or masks file, given as parameters or inside an export
// folder (any `file` that is not a .npy of ids); decided from the parameters alone, so that the cell
// id does not depend on the files still being there.
bool indices_drop_patches(const Params& p) {
  const IndicesOptions o = indices_params().parse(p);
  return !o.keep.empty() || !o.masks.empty() || !o.file.ends_with(".npy");
}

MethodInfo make_indices_info() {
  return {.name = "indices",
          .description =
              "A coreset made elsewhere, read from files (a .npy of int64 dataset ids with optional keep and "
              "mask files, or a dqbench export folder) and evaluated under the experiment's recipe.",
          .params = indices_params().specs(),
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            IndicesOptions o = indices_params().parse(p);
            (void)source_of(o);  // a missing file fails when the experiment is read
            return std::make_unique<Indices>(std::move(o));
          },
          .display = display_indices,
          .pin_inputs = pin_indices,
          .drops_patches = indices_drop_patches};
}

}  // namespace
DQ_REGISTER_METHOD(make_indices_info);
}  // namespace dq
