// Fuzz target: the image_folder loader (datasets/image_folder.cpp): folder scan, JPEG/PNG decoding,
// resizing, labels. Part i is saved as <split>/c<class>/<i>.jpg with split train for even i and test
// for odd i, class (i / 2) % 2 (the decoder goes by the content, not the extension); the first byte
// picks the options (grey, stretch, nearest or bilinear).
#include <fmt/format.h>

#include "datasets/decode_cache.h"
#include "harness/dataset_definitions.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(image_folder) {
  if (input.empty()) return;
  const unsigned options = static_cast<unsigned char>(input[0]);
  input.remove_prefix(1);
  const auto dir = dq::fuzz::scratch();
  const auto parts = dq::fuzz::split_parts(input, 8);
  for (size_t i = 0; i < parts.size(); ++i)
    dq::fuzz::write_file(dir / (i % 2 == 0 ? "train" : "test") / fmt::format("c{}", (i / 2) % 2) / fmt::format("{}.jpg", i),
                         parts[i]);
  const std::string spec = fmt::format(
      "image_folder(path={},image_size={},channels={},resize={},interpolation={},on_bad_image={},threads=1)",
      dir.string(), 1 + options % 13, options & 16 ? 1 : 3, options & 32 ? "stretch" : "crop",
      options & 64 ? "nearest" : (options & 128 ? "bilinear" : "area"), options & 8 ? "skip" : "error");
  const auto def = dq::parse_dataset_spec(spec, "fuzz");
  (void)dq::load_dataset(def.kind, def.params, "", "fuzz");
}
