#include "datasets/image_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/memory_budget.h"
#include "datasets/big_buffer.h"
#include "datasets/image_decode.h"
#include "datasets/source_files.h"

namespace dq {

namespace {
const char* interpolation_name(Interpolation i) {
  switch (i) {
    case Interpolation::Nearest: return "nearest";
    case Interpolation::Bilinear: return "bilinear";
    case Interpolation::Area: return "area";
  }
  return "?";
}
const char* resize_mode_name(ResizeMode m) { return m == ResizeMode::Crop ? "crop" : "stretch"; }
}  // namespace

const ParamTable<ImageDecodeOptions>& image_decode_table(bool jpeg_dct_scaling_default) {
  using O = ImageDecodeOptions;
  const auto make = [](bool dct) {
    O defaults;
    defaults.jpeg_dct_scaling = dct;
    return ParamTable<ImageDecodeOptions>(
        {
            field({.name = "image_size", .help = "output side length in pixels (images become square)", .min = 1,
                   .max = 4096},
                  &O::image_size),
            field({.name = "channels", .help = "3 = RGB, 1 = grey (ITU-R 601 luma, as PIL)"},
                  named_values({int64_t{1}, int64_t{3}}, [](int64_t c) { return std::to_string(c); }), &O::channels),
            field({.name = "interpolation",
                   .help = "resampling when the size changes: area (box filter, best for shrinking), bilinear, nearest"},
                  named_values({Interpolation::Area, Interpolation::Bilinear, Interpolation::Nearest}, interpolation_name),
                  &O::interpolation),
            field({.name = "resize", .help = "crop: centred square crop then scale (keeps aspect); stretch: scale each side"},
                  named_values({ResizeMode::Crop, ResizeMode::Stretch}, resize_mode_name), &O::resize),
            field({.name = "on_bad_image",
                   .help = "unreadable/empty/truncated/unknown image: error aborts; skip drops it and counts it in the "
                           "load report"},
                  named_values({false, true}, [](bool skip) { return skip ? "skip" : "error"; }), &O::skip_bad_images),
            field({.name = "jpeg_dct_scaling",
                   .help = "decode large JPEGs at a reduced DCT scale (k/8) before resizing: faster, slightly different "
                           "pixels"},
                  &O::jpeg_dct_scaling),
            field({.name = "threads",
                   .help = "decoding threads (0 = 4 per core: file reads wait on the disk); does not change the result",
                   .min = 0, .max = 1024},
                  ParamCodec<int, int64_t>{[](const int& v) { return static_cast<int64_t>(v); },
                                           [](const int64_t& v) { return static_cast<int>(v); }},
                  &O::threads),
        },
        {}, defaults);
  };
  static const ParamTable<ImageDecodeOptions> without_dct = make(false), with_dct = make(true);
  return jpeg_dct_scaling_default ? with_dct : without_dct;
}

void append_image_decode_params(std::vector<ParamSpec>& params, bool jpeg_dct_scaling_default) {
  const auto& specs = image_decode_table(jpeg_dct_scaling_default).specs();
  params.insert(params.end(), specs.begin(), specs.end());
}

ImageDecodeOptions image_decode_options(const Params& p) { return image_decode_table(false).parse(p); }

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  // Reading many small files from a cold disk waits on I/O, not the CPU: 4 threads per core read
  // CIFAR-10's 60,000 JPEGs 3x faster than 1 per core, and cost nothing when the files are cached.
  return static_cast<int>(std::min(64u, 4 * std::max(1u, std::thread::hardware_concurrency())));
}

std::vector<LabelledFile> labelled_files(const ClassFolderScan& scan, const std::vector<int64_t>& class_labels,
                                         int64_t max_per_class) {
  DQ_ASSERT(class_labels.size() == scan.class_names.size(), "one label per scanned class");
  std::vector<LabelledFile> out;
  for (size_t c = 0; c < scan.files.size(); ++c) {
    const auto& files = scan.files[c];
    const size_t take = max_per_class > 0 ? std::min(files.size(), static_cast<size_t>(max_per_class)) : files.size();
    for (size_t i = 0; i < take; ++i) out.push_back({files[i].path, class_labels[c]});
  }
  return out;
}

namespace {

// Decodes one file into `out` (C x S x S, planar). Throws dq::Error naming the file.
int decode_one(const std::string& path, const ImageDecodeOptions& o, std::vector<uint8_t>& file_bytes,
               std::vector<uint8_t>& resized, uint8_t* out) {
  read_file_bytes(path, file_bytes);
  const int64_t min_side = o.jpeg_dct_scaling ? o.image_size : 0;
  DecodedImage img = decode_image_rgb(file_bytes.data(), file_bytes.size(), path, min_side);
  if (o.channels == 1) to_grey(img);
  const int64_t s = o.image_size, c = img.channels;
  resized.resize(static_cast<size_t>(s * s * c));
  fit_square(img.pixels.data(), img.width, img.height, c, resized.data(), s, o.resize, o.interpolation);
  for (int64_t k = 0; k < c; ++k)  // interleaved HWC -> planar CHW
    for (int64_t i = 0; i < s * s; ++i) out[k * s * s + i] = resized[i * c + k];
  return img.decoder_warnings;
}

}  // namespace

ImageSet decode_image_files(const std::vector<LabelledFile>& files, const std::vector<std::string>& class_names,
                            const ImageDecodeOptions& o, const std::string& split,
                            std::map<std::string, double>& report) {
  ImageSet set;
  set.n = static_cast<int64_t>(files.size());
  set.channels = o.channels;
  set.height = set.width = o.image_size;
  const int64_t bytes = set.image_bytes();
  const uint64_t total = static_cast<uint64_t>(set.n) * static_cast<uint64_t>(bytes);
  if (total > physical_memory_bytes())
    throw OutOfMemory(fmt::format("decoded {} images ({} x {} x {} x {})", split, set.n, set.channels, set.height,
                                  set.width),
                      total, 0, physical_memory_bytes());
  reserve_with_huge_pages(set.pixels, total);
  set.pixels.resize(total);
  set.labels.resize(files.size());

  std::vector<uint8_t> ok(files.size(), 0);
  std::map<int64_t, std::string> failures;  // index -> message; rare, so a locked map is enough
  std::atomic<int64_t> next{0}, warnings{0};
  std::exception_ptr fatal;
  std::mutex mutex;
  const int64_t chunk = 32;
  auto worker = [&] {
    std::vector<uint8_t> file_bytes, resized;
    for (;;) {
      const int64_t begin = next.fetch_add(chunk);
      if (begin >= set.n) return;
      for (int64_t i = begin; i < std::min(set.n, begin + chunk); ++i) {
        try {
          warnings += decode_one(files[i].path, o, file_bytes, resized, set.pixels.data() + i * bytes);
          ok[i] = 1;
        } catch (const Error& e) {
          std::lock_guard lock(mutex);
          failures[i] = e.what();
        } catch (...) {
          std::lock_guard lock(mutex);
          if (!fatal) fatal = std::current_exception();
          next = set.n;
          return;
        }
      }
    }
  };
  const int threads = static_cast<int>(std::min<int64_t>(resolve_threads(o.threads), std::max<int64_t>(1, set.n / chunk)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (fatal) std::rethrow_exception(fatal);

  if (!failures.empty() && !o.skip_bad_images) {
    const auto& [index, message] = *failures.begin();
    throw Error(fmt::format("{} ({} split, image {} of {}; {} bad image(s) in all; on_bad_image: skip drops them)",
                            message, split, index, set.n, failures.size()));
  }
  // A class whose every file was skipped is as broken as an empty class folder: refuse it, naming
  // the class and what was dropped (a split that lost everything has such a class too).
  std::map<int64_t, int64_t> listed, dropped;
  for (const auto& f : files) ++listed[f.label];
  for (const auto& [index, _] : failures) ++dropped[files[static_cast<size_t>(index)].label];
  for (const auto& [label, count] : dropped) {
    if (count < listed[label]) continue;
    std::string what;
    int shown_files = 0;
    for (const auto& [index, message] : failures)
      if (files[static_cast<size_t>(index)].label == label && shown_files++ < 3) what += (what.empty() ? "" : "; ") + message;
    if (count > 3) what += fmt::format("; and {} more", count - 3);
    const std::string name = label >= 0 && label < static_cast<int64_t>(class_names.size())
                                 ? class_names[static_cast<size_t>(label)]
                                 : std::to_string(label);
    throw Error(fmt::format("{} split: class '{}' holds no usable image: on_bad_image: skip dropped all {} of its "
                            "files: {}",
                            split, name, count, what));
  }
  // Compact: move the good images down over the skipped ones, keeping their order.
  int64_t kept = 0;
  for (int64_t i = 0; i < set.n; ++i) {
    if (!ok[i]) continue;
    if (kept != i) std::memmove(set.pixels.data() + kept * bytes, set.pixels.data() + i * bytes, static_cast<size_t>(bytes));
    set.labels[kept++] = files[i].label;
  }
  int shown = 0;
  for (const auto& [index, message] : failures)
    if (shown++ < 5) fmt::print(stderr, "warning: skipped bad image: {}\n", message);
  set.n = kept;
  set.pixels.resize(static_cast<size_t>(kept * bytes));
  set.labels.resize(static_cast<size_t>(kept));
  report[split + "_bad_images_skipped"] = static_cast<double>(failures.size());
  if (warnings > 0) report[split + "_decoder_warnings"] = static_cast<double>(warnings.load());
  return set;
}

}  // namespace dq
