// Fashion-MNIST (and MNIST) from the four gzipped IDX files, e.g. Debian's dataset-fashion-mnist
// package at /usr/share/datasets/fashion-mnist/.
#include <fmt/format.h>

#include "core/error.h"
#include "core/param_table.h"
#include "datasets/dataset.h"
#include "datasets/idx.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

ImageSet load_split(const std::string& dir, const std::string& prefix) {
  const std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  const IdxArray images = read_idx_u8(images_path);
  const IdxArray labels = read_idx_u8(labels_path);
  if (images.shape.size() != 3)
    throw Error(fmt::format("{}: expected a 3-d image array (N x H x W), found {} dimensions", images_path,
                            images.shape.size()));
  if (labels.shape.size() != 1 || labels.shape[0] != images.shape[0])
    throw Error(fmt::format("{}: {} labels do not match {} images in {}", labels_path,
                            labels.shape.empty() ? 0 : labels.shape[0], images.shape[0], images_path));
  ImageSet s;
  s.n = images.shape[0];
  s.channels = 1;
  s.height = images.shape[1];
  s.width = images.shape[2];
  s.pixels = images.data;
  s.labels.assign(labels.data.begin(), labels.data.end());
  for (int64_t i = 0; i < s.n; ++i)
    if (s.labels[static_cast<size_t>(i)] > 9)
      throw Error(fmt::format("{}: record {} has label {}, expected 0..9", labels_path, i, s.labels[static_cast<size_t>(i)]));
  return s;
}

// The first `max_per_class` images of each class in file order (the whole split when 0), as the
// other loaders' max_per_class keep the first files of each class.
ImageSet first_per_class(ImageSet s, int64_t max_per_class) {
  if (max_per_class <= 0) return s;
  std::vector<int64_t> ids, taken(10, 0);
  for (int64_t i = 0; i < s.n; ++i)
    if (taken[static_cast<size_t>(s.labels[static_cast<size_t>(i)])]++ < max_per_class) ids.push_back(i);
  return s.subset(ids);
}

enum class ClassNames { Fashion, Digits };
const char* class_names_name(ClassNames names) { return names == ClassNames::Fashion ? "fashion" : "digits"; }

struct FashionMnistOptions {
  std::string path = "/usr/share/datasets/fashion-mnist";
  ClassNames names = ClassNames::Fashion;
  int64_t max_per_class = 0;       // 0 = all
  int64_t max_test_per_class = 0;  // 0 = all
};

const ParamTable<FashionMnistOptions>& fashion_mnist_table() {
  using O = FashionMnistOptions;
  static const ParamTable<FashionMnistOptions> table{{
      field({.name = "path", .help = "folder holding train-/t10k-{images-idx3,labels-idx1}-ubyte.gz"}, &O::path),
      field({.name = "names", .help = "class names to use"},
            named_values({ClassNames::Fashion, ClassNames::Digits}, class_names_name), &O::names),
      // Added after results existed: left out of cell ids and cache keys at 0 (ParamSpec::omit_at_default).
      field({.name = "max_per_class", .help = "keep the first N train images of each class (0 = all)", .min = 0,
             .omit_at_default = true},
            &O::max_per_class),
      field({.name = "max_test_per_class", .help = "same for the test split", .min = 0, .omit_at_default = true},
            &O::max_test_per_class),
  }};
  return table;
}

DatasetLoaderInfo make_fashion_mnist_info() {
  DatasetLoaderInfo info;
  info.kind = "fashion_mnist";
  info.description = "Fashion-MNIST (or MNIST with names: digits) from gzipped IDX files";
  info.params = fashion_mnist_table().specs();
  info.load = [](const Params& p) {
    const FashionMnistOptions o = fashion_mnist_table().parse(p);
    const std::string& dir = o.path;
    Dataset d;
    d.kind = "fashion_mnist";
    if (o.names == ClassNames::Fashion)
      d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    else
      d.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    d.train = first_per_class(load_split(dir, "train"), o.max_per_class);
    d.test = first_per_class(load_split(dir, "t10k"), o.max_test_per_class);
    validate_dataset(d, dir);
    return d;
  };
  info.fingerprint = [](const Params& p) {
    const std::string dir = fashion_mnist_table().parse(p).path;
    std::string id = "fashion_mnist|" + p.canonical();
    for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                          "t10k-labels-idx1-ubyte.gz"})
      id += "|" + file_identity(dir + "/" + f);
    return id;
  };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_fashion_mnist_info);
}  // namespace dq
