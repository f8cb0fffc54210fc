// Fuzz target: JPEG and PNG decoding (datasets/image_decode.h), in memory, as every image loader
// decodes its files; the first byte picks the minimum side for JPEG DCT scaling (0 = none).
#include "datasets/image_decode.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(image_decode) {
  if (input.empty()) return;
  const int64_t min_side = static_cast<unsigned char>(input[0]) % 4 == 0 ? 0 : static_cast<unsigned char>(input[0]);
  input.remove_prefix(1);
  dq::DecodedImage image =
      dq::decode_image_rgb(reinterpret_cast<const uint8_t*>(input.data()), input.size(), "fuzz", min_side);
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width * image.height * 3))
    dq::fuzz::finding("a decoded image's pixels differ from its size");
  dq::to_grey(image);
}
