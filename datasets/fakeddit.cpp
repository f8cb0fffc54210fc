// Fakeddit v2.0 (multimodal fake-news posts): the released TSVs plus one image per post at
// <image_dir>/<id>.jpg. Columns are found by name (the first one, pandas' index, has an empty
// name). Rows without an image (hasImage False, empty image_url, or no file on disk) are skipped and
// counted in the load report, per split and reason.
#include <fmt/format.h>
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/param_table.h"
#include "datasets/dataset.h"
#include "datasets/image_files.h"
#include "datasets/source_files.h"
#include "datasets/tsv.h"

namespace dq {
namespace {

// Label meanings as the Fakeddit maintainers state them (entitize/Fakeddit issue #14).
std::vector<std::string> class_names_for(const std::string& label) {
  if (label == "2_way") return {"fake", "true"};
  if (label == "3_way") return {"true", "fake_with_true_text", "fake_with_false_text"};
  return {"true", "satire_parody", "false_connection", "imposter_content", "manipulated_content", "misleading_content"};
}

// The kind's own keys (the decoding keys are image_decode_table()'s). subset, test_split and label
// are names the TSV files and columns are called by, so they stay text (checked against their choices).
struct FakedditOptions {
  std::string path = "data/fakeddit";
  std::string subset = "multimodal";
  std::string test_split = "test_public";
  std::string image_dir;  // empty: <path>/public_image_set
  std::string label = "2_way";
  int64_t max_per_class = 0, max_test_per_class = 0;  // 0 = all
};

const ParamTable<FakedditOptions>& fakeddit_table() {
  using O = FakedditOptions;
  static const ParamTable<FakedditOptions> table{{
      field({.name = "path", .help = "folder holding the TSV files"}, &O::path),
      field({.name = "subset", .help = "TSV file prefix: multimodal (multimodal_only_samples) or all (all_samples)",
             .choices = {"multimodal", "all"}},
            &O::subset),
      field({.name = "test_split", .help = "which TSV is the test split", .choices = {"test_public", "validate"}},
            &O::test_split),
      field({.name = "image_dir", .help = "folder of <id>.jpg images (default <path>/public_image_set)"}, &O::image_dir),
      field({.name = "label", .help = "label column: 2_way, 3_way or 6_way", .choices = {"2_way", "3_way", "6_way"}},
            &O::label),
      field({.name = "max_per_class", .help = "keep the first N train rows with an image per class (0 = all)", .min = 0},
            &O::max_per_class),
      field({.name = "max_test_per_class", .help = "same for the test split", .min = 0}, &O::max_test_per_class),
  }};
  return table;
}

std::string tsv_path(const FakedditOptions& o, const std::string& split) {
  return fmt::format("{}/{}_{}.tsv", o.path, o.subset, split);
}

std::string image_dir(const FakedditOptions& o) {
  return o.image_dir.empty() ? o.path + "/public_image_set" : o.image_dir;
}

// "1", "1.0" -> 1; anything else -> nullopt (pandas prints integer columns with gaps as floats).
std::optional<int64_t> parse_label(const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v != std::floor(v)) return std::nullopt;
  // "1e300" is an integer too, but no int64: converting it would be undefined (found by fuzzing).
  if (!(std::fabs(v) < 0x1p62)) return std::nullopt;
  return static_cast<int64_t>(v);
}

bool is_false(const std::string& text) { return text == "False" || text == "false" || text == "0" || text.empty(); }

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The rows of one TSV that have an image, labelled; counts the others in `report`.
std::vector<LabelledFile> read_rows(const FakedditOptions& p, const std::string& path, const std::string& split,
                                    int64_t num_classes, int64_t max_per_class, std::map<std::string, double>& report) {
  TsvReader tsv(path);
  const std::string label_column = p.label + "_label";
  const size_t id_col = tsv.column("id"), label_col = tsv.column(label_column);
  const auto has_image_col = tsv.find_column("hasImage"), url_col = tsv.find_column("image_url");
  const std::string dir = image_dir(p);
  std::vector<LabelledFile> out;
  std::map<int64_t, int64_t> per_class;
  int64_t rows = 0, without_image = 0, missing = 0, capped = 0;
  std::vector<std::string> f;
  while (tsv.next(f)) {
    ++rows;
    const std::string& id = f[id_col];
    if (id.empty()) throw Error(fmt::format("{}:{}: row {} has an empty 'id'", path, tsv.line(), tsv.row()));
    const auto label = parse_label(f[label_col]);
    if (!label || *label < 0 || *label >= num_classes)
      throw Error(fmt::format("{}:{}: row {} (id {}) has {} '{}', expected an integer 0..{}", path, tsv.line(),
                              tsv.row(), id, label_column, f[label_col], num_classes - 1));
    if ((has_image_col && is_false(f[*has_image_col])) || (url_col && f[*url_col].empty())) {
      ++without_image;
      continue;
    }
    std::string image = dir + "/" + id + ".jpg";
    if (!file_exists(image)) {
      ++missing;
      continue;
    }
    if (max_per_class > 0 && per_class[*label]++ >= max_per_class) {
      ++capped;
      continue;
    }
    out.push_back({std::move(image), *label});
  }
  // As an emptied class folder: a split left with no row would leave a run nothing to train or
  // evaluate on (an empty test split used to make a run skip training and record the cell DONE).
  if (out.empty())
    throw Error(fmt::format("{}: the {} split holds no row with an image (of {} rows, {} without an image, {} whose "
                            "file is missing in {})",
                            path, split, rows, without_image, missing, dir));
  report[split + "_rows"] = static_cast<double>(rows);
  report[split + "_rows_without_image"] = static_cast<double>(without_image);
  report[split + "_rows_image_file_missing"] = static_cast<double>(missing);
  if (max_per_class > 0) report[split + "_rows_over_class_cap"] = static_cast<double>(capped);
  return out;
}

Dataset load_fakeddit(const Params& params) {
  const FakedditOptions p = fakeddit_table().parse(params);
  require_directory(image_dir(p), "Fakeddit image folder");
  Dataset d;
  d.kind = "fakeddit";
  d.class_names = class_names_for(p.label);
  const ImageDecodeOptions options = image_decode_options(params);
  const auto train = read_rows(p, tsv_path(p, "train"), "train", d.num_classes(), p.max_per_class, d.load_report);
  const auto test = read_rows(p, tsv_path(p, p.test_split), "test", d.num_classes(), p.max_test_per_class, d.load_report);
  d.train = decode_image_files(train, d.class_names, options, "train", d.load_report);
  d.test = decode_image_files(test, d.class_names, options, "test", d.load_report);
  validate_dataset(d, p.path);
  return d;
}

DatasetLoaderInfo make_fakeddit_info() {
  DatasetLoaderInfo info;
  info.kind = "fakeddit";
  info.description = "Fakeddit v2.0 TSVs (<subset>_train.tsv, ...) with images at <image_dir>/<id>.jpg";
  info.params = fakeddit_table().specs();
  append_image_decode_params(info.params, true);  // Reddit photos are large
  info.load = load_fakeddit;
  // The image folder's own mtime changes when images are added or removed; an image rewritten in
  // place is not noticed (stat-ing 600,000 files per fingerprint would cost more than it saves).
  info.fingerprint = [](const Params& params) {
    const FakedditOptions p = fakeddit_table().parse(params);
    return fmt::format("fakeddit|{}|{}|{}|{}", params_identity(params), file_identity(tsv_path(p, "train")),
                       file_identity(tsv_path(p, p.test_split)), file_identity(image_dir(p)));
  };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_fakeddit_info);
}  // namespace dq
