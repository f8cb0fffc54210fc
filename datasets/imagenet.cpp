// ImageNet-1K (ILSVRC2012): <path>/train/<wnid>/*.JPEG plus the validation images either in the
// prepared <path>/val/<wnid>/ layout or flat in <path>/val/ with one of the label files described in
// imagenet_labels.h. Labels = index of the WNID in the sorted train WNIDs (0 = n01440764).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/param_table.h"
#include "datasets/class_folders.h"
#include "datasets/dataset.h"
#include "datasets/image_files.h"
#include "datasets/imagenet_labels.h"
#include "datasets/source_files.h"

namespace fs = std::filesystem;

namespace dq {
namespace {

enum class ValLayout { Auto, Folders, Flat };
const char* val_layout_name(ValLayout layout) {
  return layout == ValLayout::Auto ? "auto" : layout == ValLayout::Folders ? "folders" : "flat";
}

// The kind's own keys (the decoding keys are image_decode_table()'s).
struct ImageNetOptions {
  std::string path = "data/imagenet";
  ValLayout val_layout = ValLayout::Auto;
  std::string val_ground_truth, synsets, val_txt, synset_words, val_solution_csv;  // label files of a flat val/
  int64_t max_per_class = 0, max_test_per_class = 0;                               // 0 = all
};

const ParamTable<ImageNetOptions>& imagenet_table() {
  using O = ImageNetOptions;
  static const ParamTable<ImageNetOptions> table{{
      field({.name = "path", .help = "folder holding train/ and val/"}, &O::path),
      field({.name = "val_layout",
             .help = "folders: val/<wnid>/*; flat: val/*.JPEG with a label file; auto: folders if val/ has sub-folders"},
            named_values({ValLayout::Auto, ValLayout::Folders, ValLayout::Flat}, val_layout_name), &O::val_layout),
      field({.name = "val_ground_truth",
             .help = "flat val: devkit ILSVRC2012_validation_ground_truth.txt (ILSVRC2012_IDs; needs synsets)"},
            &O::val_ground_truth),
      field({.name = "synsets", .help = "ILSVRC2012_ID -> WNID text file: 'ID WNID [words]' lines"}, &O::synsets),
      field({.name = "val_txt", .help = "flat val: Caffe val.txt ('<file> <sorted class index>')"}, &O::val_txt),
      field({.name = "synset_words", .help = "Caffe synset_words.txt: checks val_txt's class order"}, &O::synset_words),
      field({.name = "val_solution_csv", .help = "flat val: Kaggle LOC_val_solution.csv"}, &O::val_solution_csv),
      field({.name = "max_per_class", .help = "keep the first N train images of each class (0 = all)", .min = 0},
            &O::max_per_class),
      field({.name = "max_test_per_class", .help = "keep the first N val images of each class (0 = all)", .min = 0},
            &O::max_test_per_class),
  }};
  return table;
}

std::string train_dir(const ImageNetOptions& p) { return p.path + "/train"; }
std::string val_dir(const ImageNetOptions& p) { return p.path + "/val"; }

bool val_has_class_folders(const ImageNetOptions& p) {
  if (p.val_layout != ValLayout::Auto) return p.val_layout == ValLayout::Folders;
  require_directory(val_dir(p), "ImageNet val folder");
  for (const auto& entry : fs::directory_iterator(val_dir(p)))
    if (entry.is_directory() && !entry.path().filename().string().starts_with(".")) return true;
  return false;
}

// The label files given for a flat val folder (exactly one source must be chosen).
std::vector<std::string> label_files(const ImageNetOptions& p) {
  std::vector<std::string> files;
  for (const std::string* file : {&p.val_ground_truth, &p.synsets, &p.val_txt, &p.synset_words, &p.val_solution_csv})
    if (!file->empty()) files.push_back(*file);
  return files;
}

enum class LabelSource { GroundTruth, CaffeValTxt, KaggleCsv };

LabelSource label_source(const ImageNetOptions& p) {
  const bool gt = !p.val_ground_truth.empty(), txt = !p.val_txt.empty(),
             csv = !p.val_solution_csv.empty();
  if (gt + txt + csv != 1)
    throw Error(fmt::format(
        "imagenet: the flat val folder {} needs exactly one label source: val_ground_truth + synsets (devkit), "
        "val_txt (Caffe, optionally with synset_words) or val_solution_csv (Kaggle); {} given",
        val_dir(p), gt + txt + csv));
  if (gt && p.synsets.empty())
    throw Error("imagenet: val_ground_truth holds ILSVRC2012_IDs, whose order is not the class order; give "
                "'synsets' (a text file of 'ID WNID' lines, see datasets/README.md) to map them to WNIDs");
  return gt ? LabelSource::GroundTruth : txt ? LabelSource::CaffeValTxt : LabelSource::KaggleCsv;
}

int64_t wnid_label(const std::vector<std::string>& wnids, const std::string& wnid, const std::string& where) {
  const auto it = std::lower_bound(wnids.begin(), wnids.end(), wnid);
  if (it == wnids.end() || *it != wnid)
    throw Error(fmt::format("{}: WNID {} is not one of the {} train class folders", where, wnid, wnids.size()));
  return it - wnids.begin();
}

// Labels of the flat val files, in file-name order; throws for a file the label file does not cover.
std::vector<LabelledFile> flat_val_files(const ImageNetOptions& p, const std::vector<std::string>& wnids,
                                         const std::vector<SourceFile>& files) {
  const LabelSource source = label_source(p);
  std::vector<int64_t> ground_truth;
  std::map<int64_t, std::string> synsets;
  std::map<std::string, int64_t> caffe;
  std::map<std::string, std::string> kaggle;
  std::string label_path;
  if (source == LabelSource::GroundTruth) {
    label_path = p.val_ground_truth;
    ground_truth = read_ground_truth(label_path);
    synsets = read_synset_ids(p.synsets);
  } else if (source == LabelSource::CaffeValTxt) {
    label_path = p.val_txt;
    caffe = read_caffe_val(label_path);
    if (!p.synset_words.empty() && read_synset_words(p.synset_words) != wnids)
      throw Error(fmt::format("{}: the WNIDs (in order) differ from the sorted train class folders of {}, so val_txt's "
                              "class indices would mean other classes",
                              p.synset_words, train_dir(p)));
  } else {
    label_path = p.val_solution_csv;
    kaggle = read_kaggle_val_solution(label_path);
  }
  std::vector<LabelledFile> out;
  for (const auto& f : files) {
    const std::string name = fs::path(f.path).filename().string();
    int64_t label = -1;
    if (source == LabelSource::GroundTruth) {
      const int64_t number = ilsvrc_val_number(name);
      if (number < 1 || number > static_cast<int64_t>(ground_truth.size()))
        throw Error(fmt::format("{}: no line for val image {} ({} holds {} lines; names must be "
                                "ILSVRC2012_val_<number>.JPEG)",
                                label_path, f.path, label_path, ground_truth.size()));
      const int64_t id = ground_truth[number - 1];
      const auto it = synsets.find(id);
      if (it == synsets.end())
        throw Error(fmt::format("{}:{}: ILSVRC2012_ID {} has no entry in {}", label_path, number, id, p.synsets));
      label = wnid_label(wnids, it->second, fmt::format("{}:{}", label_path, number));
    } else if (source == LabelSource::CaffeValTxt) {
      const auto it = caffe.find(name);
      if (it == caffe.end()) throw Error(fmt::format("{}: no line for val image {}", label_path, f.path));
      if (it->second >= static_cast<int64_t>(wnids.size()))
        throw Error(fmt::format("{}: class index {} of {} is outside 0..{}", label_path, it->second, name, wnids.size() - 1));
      label = it->second;
    } else {
      const auto it = kaggle.find(fs::path(name).stem().string());
      if (it == kaggle.end()) throw Error(fmt::format("{}: no row for val image {}", label_path, f.path));
      label = wnid_label(wnids, it->second, label_path);
    }
    out.push_back({f.path, label});
  }
  return out;
}

std::vector<LabelledFile> cap_per_class(std::vector<LabelledFile> files, int64_t max_per_class) {
  if (max_per_class <= 0) return files;
  std::map<int64_t, int64_t> seen;
  std::vector<LabelledFile> out;
  for (auto& f : files)
    if (seen[f.label]++ < max_per_class) out.push_back(std::move(f));
  return out;
}

Dataset load_imagenet(const Params& params) {
  const ImageNetOptions p = imagenet_table().parse(params);
  const ClassFolderScan train = scan_class_folders(train_dir(p), "ImageNet train folder");
  const ImageDecodeOptions options = image_decode_options(params);
  Dataset d;
  d.kind = "imagenet";
  d.class_names = train.class_names;
  std::vector<int64_t> identity(train.class_names.size());
  for (size_t c = 0; c < identity.size(); ++c) identity[c] = static_cast<int64_t>(c);
  int64_t ignored = train.ignored_files;
  std::vector<LabelledFile> val;
  if (val_has_class_folders(p)) {
    const ClassFolderScan scan = scan_class_folders(val_dir(p), "ImageNet val folder");
    val = labelled_files(scan, labels_by_name(train.class_names, scan, "ImageNet val folder"),
                         p.max_test_per_class);
    ignored += scan.ignored_files;
  } else {
    val = cap_per_class(flat_val_files(p, train.class_names, list_image_files(val_dir(p), "ImageNet val folder", &ignored)),
                        p.max_test_per_class);
  }
  d.train = decode_image_files(labelled_files(train, identity, p.max_per_class), d.class_names, options, "train",
                               d.load_report);
  d.test = decode_image_files(val, d.class_names, options, "test", d.load_report);
  d.load_report["ignored_files"] = static_cast<double>(ignored);
  validate_dataset(d, p.path);
  return d;
}

std::string fingerprint_imagenet(const Params& params) {
  const ImageNetOptions p = imagenet_table().parse(params);
  std::string id = "imagenet|" + params_identity(params);
  id += "|train=" + scan_digest(scan_class_folders(train_dir(p), "ImageNet train folder"));
  if (val_has_class_folders(p)) {
    id += "|val=" + scan_digest(scan_class_folders(val_dir(p), "ImageNet val folder"));
  } else {
    int64_t ignored = 0;
    id += "|val=" + files_digest(val_dir(p), list_image_files(val_dir(p), "ImageNet val folder", &ignored));
    for (const auto& f : label_files(p)) id += "|" + file_identity(f);
  }
  return id;
}

DatasetLoaderInfo make_imagenet_info() {
  DatasetLoaderInfo info;
  info.kind = "imagenet";
  info.description = "ImageNet-1K: <path>/train/<wnid>/ + <path>/val/ (class folders, or flat with a label file)";
  info.params = imagenet_table().specs();
  // ImageNet photos are ~400 x 350 and get shrunk a lot: DCT scaling saves most of the decode time.
  append_image_decode_params(info.params, true);
  info.load = load_imagenet;
  info.fingerprint = fingerprint_imagenet;
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_imagenet_info);
}  // namespace dq
