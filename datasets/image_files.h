#pragma once
// Decoding many image files into one ImageSet, in parallel and in a fixed order: every loader
// that reads image files (image_folder, imagenet, fakeddit) shares these options and this code.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/param_table.h"
#include "core/params.h"
#include "datasets/class_folders.h"
#include "datasets/dataset.h"
#include "datasets/image_resize.h"

namespace dq {

struct ImageDecodeOptions {
  int64_t image_size = 32;  // output is image_size x image_size
  int64_t channels = 3;     // 3 = RGB, 1 = grey (PIL's luma)
  Interpolation interpolation = Interpolation::Area;
  ResizeMode resize = ResizeMode::Crop;
  bool skip_bad_images = false;   // on_bad_image: skip (count in load_report) | error
  bool jpeg_dct_scaling = false;  // let libjpeg decode big JPEGs at k/8 scale before resizing
  int threads = 0;                // 0 = 4 per core (see resolve_threads)
};

// The rows behind ImageDecodeOptions (image_size, channels, interpolation, resize, on_bad_image,
// jpeg_dct_scaling, threads), shared by the image loaders. `jpeg_dct_scaling_default`: on for sources
// of large photos that are shrunk a lot (ImageNet, Fakeddit).
const ParamTable<ImageDecodeOptions>& image_decode_table(bool jpeg_dct_scaling_default);
// Appends image_decode_table(jpeg_dct_scaling_default).specs() to an image loader's own.
void append_image_decode_params(std::vector<ParamSpec>& params, bool jpeg_dct_scaling_default);
// The decode options of a loader's validated params (its own keys are left to it).
ImageDecodeOptions image_decode_options(const Params& params);

int resolve_threads(int requested);

struct LabelledFile {
  std::string path;
  int64_t label = 0;
};

// The files of a class-folder scan, class by class, at most `max_per_class` of each (0 = all; the
// first ones in sorted order), labelled with class_labels[c] for scan class c.
std::vector<LabelledFile> labelled_files(const ClassFolderScan& scan, const std::vector<int64_t>& class_labels,
                                         int64_t max_per_class);

// Decodes `files` into an ImageSet (N x C x S x S, same order as `files`). Bad files (unreadable,
// empty, truncated, not JPEG/PNG) throw dq::Error naming the first bad file in list order, or with
// skip_bad_images are dropped and counted in report["<split>_bad_images_skipped"]; a class that
// skipping leaves with no image (so also a split left empty) is a dq::Error naming the class (from
// `class_names`, indexed by label) and its dropped files, as an empty class folder is. Recoverable
// decoder warnings are counted in report["<split>_decoder_warnings"]. Throws dq::OutOfMemory when
// the decoded split could not fit in the machine's memory.
ImageSet decode_image_files(const std::vector<LabelledFile>& files, const std::vector<std::string>& class_names,
                            const ImageDecodeOptions& options, const std::string& split,
                            std::map<std::string, double>& report);

}  // namespace dq
