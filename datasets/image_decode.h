#pragma once
// Decoding one image file held in memory: JPEG through libjpeg-turbo's libjpeg API, PNG through
// libpng. The format is sniffed from the magic bytes, never from the file name (ImageNet has a PNG
// named .JPEG). Every input colour model (grey, RGB, CMYK/YCCK, palette, 16-bit, alpha) comes out as
// 8-bit interleaved RGB; `to_grey` gives one channel when a loader is asked for `channels: 1`.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dq {

enum class ImageFormat { Unknown, Jpeg, Png };

ImageFormat sniff_image_format(const uint8_t* data, size_t size);
const char* image_format_name(ImageFormat format);

struct DecodedImage {
  int64_t width = 0, height = 0;
  int64_t channels = 0;         // 3 after decode_image_rgb, 1 after to_grey
  std::vector<uint8_t> pixels;  // height x width x channels, row-major, interleaved
  int decoder_warnings = 0;     // recoverable libjpeg warnings (e.g. extraneous bytes before a marker)
};

// Decodes a JPEG or PNG to RGB. Throws dq::Error naming `source` for an empty buffer, an unknown
// format (with the first bytes in hex), a truncated file ("Premature end of JPEG file" is an
// error here, not the grey fill libjpeg would give) or any decoder error.
// `min_side` > 0 lets libjpeg decode at a reduced DCT scale (k/8) while both sides stay >= min_side:
// much faster for large photos that are resized down anyway; 0 decodes at full size.
DecodedImage decode_image_rgb(const uint8_t* data, size_t size, const std::string& source, int64_t min_side = 0);

// RGB -> one grey channel with PIL's integer ITU-R 601 luma: (19595 R + 38470 G + 7471 B + 2^15) >> 16.
void to_grey(DecodedImage& image);
uint8_t luma601(uint8_t r, uint8_t g, uint8_t b);

// CMYK as stored by Adobe/Photoshop JPEGs (inverted: 255 = no ink) or plain (0 = no ink) -> RGB.
void cmyk_to_rgb(const uint8_t* cmyk, int64_t pixels, bool adobe_inverted, uint8_t* rgb);

}  // namespace dq
