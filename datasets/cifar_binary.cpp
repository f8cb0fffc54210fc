// CIFAR-10 and CIFAR-100, binary versions. Records have no header or delimiter:
//   CIFAR-10:  <label u8> <3072 pixel bytes>             data_batch_1..5.bin, test_batch.bin
//   CIFAR-100: <coarse u8> <fine u8> <3072 pixel bytes>  train.bin, test.bin
// The pixel bytes are 1024 R, 1024 G, 1024 B, each 32 x 32 row-major: already the planar
// C x H x W layout of ImageSet. Class names come from batches.meta.txt / *_label_names.txt.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/param_table.h"
#include "datasets/dataset.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

constexpr int64_t kImageBytes = 3 * 32 * 32;

struct RecordLayout {
  int64_t label_bytes;  // 1 (CIFAR-10) or 2 (coarse, fine)
  int64_t label_index;  // which label byte to use
  std::vector<int64_t> label_limits;  // each label byte must be below its limit
  std::vector<const char*> label_names;
};

// Appends the records of `path` to `set`.
void append_records(const std::string& path, const RecordLayout& layout, ImageSet& set) {
  std::vector<uint8_t> bytes;
  read_file_bytes(path, bytes);
  const int64_t record = layout.label_bytes + kImageBytes;
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size == 0 || size % record != 0)
    throw Error(fmt::format("{}: {} bytes is not a whole number of {}-byte records ({} complete; record {} is cut "
                            "after {} bytes): truncated or not a CIFAR binary file",
                            path, size, record, size / record, size / record, size % record));
  const int64_t n = size / record;
  set.pixels.resize(static_cast<size_t>((set.n + n) * kImageBytes));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    for (int64_t b = 0; b < layout.label_bytes; ++b)
      if (r[b] >= layout.label_limits[b])
        throw Error(fmt::format("{}: record {} has {} label {}, expected 0..{}", path, i, layout.label_names[b], r[b],
                                layout.label_limits[b] - 1));
    set.labels.push_back(r[layout.label_index]);
    std::memcpy(set.pixels.data() + (set.n + i) * kImageBytes, r + layout.label_bytes, kImageBytes);
  }
  set.n += n;
}

ImageSet read_split(const std::vector<std::string>& paths, const RecordLayout& layout) {
  ImageSet set;
  set.channels = 3;
  set.height = set.width = 32;
  for (const auto& p : paths) append_records(p, layout, set);
  return set;
}

std::vector<std::string> read_class_names(const std::string& path, size_t expected) {
  std::vector<std::string> names;
  for (auto line : read_text_lines(path)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    names.push_back(line);
  }
  if (names.size() != expected)
    throw Error(fmt::format("{}: {} class names, expected {} (one per line)", path, names.size(), expected));
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i].empty()) throw Error(fmt::format("{}:{}: empty class name", path, i + 1));
  return names;
}

struct CifarFiles {
  std::vector<std::string> train;
  std::string test, class_names;
};

Dataset load_cifar(const std::string& kind, const std::string& dir, const CifarFiles& files, size_t classes,
                   const RecordLayout& layout) {
  require_directory(dir, kind + " binary folder");
  Dataset d;
  d.kind = kind;
  d.class_names = read_class_names(files.class_names, classes);
  d.train = read_split(files.train, layout);
  d.test = read_split({files.test}, layout);
  validate_dataset(d, dir);
  return d;
}

std::string files_identity(const std::string& kind, const Params& p, const CifarFiles& files) {
  std::string id = kind + "|" + params_identity(p);
  for (const auto& f : files.train) id += "|" + file_identity(f);
  return id + "|" + file_identity(files.test) + "|" + file_identity(files.class_names);
}

// ---- CIFAR-10 ----
struct Cifar10Options {
  std::string path = "data/cifar-10-batches-bin";
};

const ParamTable<Cifar10Options>& cifar10_table() {
  static const ParamTable<Cifar10Options> table{{
      field({.name = "path", .help = "folder holding data_batch_1..5.bin, test_batch.bin and batches.meta.txt"},
            &Cifar10Options::path),
  }};
  return table;
}

CifarFiles cifar10_files(const Params& p) {
  const std::string dir = cifar10_table().parse(p).path;
  CifarFiles files{{}, dir + "/test_batch.bin", dir + "/batches.meta.txt"};
  for (int b = 1; b <= 5; ++b) files.train.push_back(fmt::format("{}/data_batch_{}.bin", dir, b));
  return files;
}

Dataset load_cifar10(const Params& p) {
  return load_cifar("cifar10", cifar10_table().parse(p).path, cifar10_files(p), 10, {1, 0, {10}, {"class"}});
}

DatasetLoaderInfo make_cifar10_info() {
  DatasetLoaderInfo info;
  info.kind = "cifar10";
  info.description = "CIFAR-10 binary version (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin)";
  info.params = cifar10_table().specs();
  info.load = load_cifar10;
  info.fingerprint = [](const Params& p) { return files_identity("cifar10", p, cifar10_files(p)); };
  return info;
}

// ---- CIFAR-100 ----
enum class Cifar100Label { Fine, Coarse };
const char* cifar100_label_name(Cifar100Label label) { return label == Cifar100Label::Fine ? "fine" : "coarse"; }

struct Cifar100Options {
  std::string path = "data/cifar-100-binary";
  Cifar100Label label = Cifar100Label::Fine;
};

const ParamTable<Cifar100Options>& cifar100_table() {
  static const ParamTable<Cifar100Options> table{{
      field({.name = "path", .help = "folder holding train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt"},
            &Cifar100Options::path),
      field({.name = "label", .help = "fine (100 classes) or coarse (20 superclasses)"},
            named_values({Cifar100Label::Fine, Cifar100Label::Coarse}, cifar100_label_name), &Cifar100Options::label),
  }};
  return table;
}

CifarFiles cifar100_files(const Params& p) {
  const Cifar100Options o = cifar100_table().parse(p);
  const std::string& dir = o.path;
  const std::string names = o.label == Cifar100Label::Fine ? "fine_label_names.txt" : "coarse_label_names.txt";
  return {{dir + "/train.bin"}, dir + "/test.bin", dir + "/" + names};
}

Dataset load_cifar100(const Params& p) {
  const Cifar100Options o = cifar100_table().parse(p);
  const bool fine = o.label == Cifar100Label::Fine;
  return load_cifar("cifar100", o.path, cifar100_files(p), fine ? 100 : 20,
                    {2, fine ? 1 : 0, {20, 100}, {"coarse", "fine"}});
}

DatasetLoaderInfo make_cifar100_info() {
  DatasetLoaderInfo info;
  info.kind = "cifar100";
  info.description = "CIFAR-100 binary version (cifar-100-binary: train.bin, test.bin; fine or coarse labels)";
  info.params = cifar100_table().specs();
  info.load = load_cifar100;
  info.fingerprint = [](const Params& p) { return files_identity("cifar100", p, cifar100_files(p)); };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_cifar10_info);
DQ_REGISTER_DATASET(make_cifar100_info);
}  // namespace dq
