#include "datasets/image_decode.h"

#include <fmt/format.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
// jpeglib.h needs <cstdio> first.
#include <jerror.h>
#include <jpeglib.h>

#include "core/error.h"

namespace dq {

namespace {

// A decoded image larger than this is refused before any allocation (a corrupt header can claim
// 65535 x 65535 x 4 bytes).
constexpr int64_t kMaxPixels = int64_t{1} << 28;

std::string first_bytes_hex(const uint8_t* data, size_t size) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

// ---- JPEG ---------------------------------------------------------------------------------------
// libjpeg reports fatal errors through error_exit, which must not return; we longjmp back to the
// decode function. No C++ object with a destructor lives between setjmp and the libjpeg calls.
struct JpegErrors {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool premature_end;
  int warnings;
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;  // trace messages
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  // A truncated file decodes "successfully" with grey fill: PIL refuses it, and so do we.
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) errors->premature_end = true;
  else ++errors->warnings;
}

struct JpegRaw {
  int64_t width = 0, height = 0, components = 0;
  bool cmyk = false;
  bool adobe_inverted = false;
};

// Returns false (with errors->message set) on a libjpeg error.
bool jpeg_decode_raw(const uint8_t* data, size_t size, int64_t min_side, JpegRaw* raw, std::vector<uint8_t>* out,
                     JpegErrors* errors) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors->pub);
  errors->pub.error_exit = on_jpeg_error;
  errors->pub.emit_message = on_jpeg_message;
  errors->premature_end = false;
  errors->warnings = 0;
  errors->message[0] = '\0';
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;  // libjpeg has no CMYK -> RGB conversion
    default: cinfo.out_color_space = JCS_RGB; break;
  }
  cinfo.dct_method = JDCT_ISLOW;  // the accurate integer IDCT: identical output on every CPU
  if (min_side > 0) {
    const int64_t w = cinfo.image_width, h = cinfo.image_height;
    for (unsigned num = 1; num <= 8; ++num) {
      const int64_t sw = (w * num + 7) / 8, sh = (h * num + 7) / 8;
      if (std::min(sw, sh) >= min_side || num == 8) {
        cinfo.scale_num = num;
        cinfo.scale_denom = 8;
        break;
      }
    }
  }
  jpeg_start_decompress(&cinfo);
  raw->width = cinfo.output_width;
  raw->height = cinfo.output_height;
  raw->components = cinfo.output_components;
  raw->cmyk = cinfo.out_color_space == JCS_CMYK;
  // Photoshop writes CMYK inverted and marks it with an Adobe APP14 segment (as PIL assumes).
  raw->adobe_inverted = raw->cmyk && cinfo.saw_Adobe_marker;
  if (raw->width * raw->height > kMaxPixels) {
    std::snprintf(errors->message, sizeof errors->message, "image of %lld x %lld pixels is too large",
                  static_cast<long long>(raw->width), static_cast<long long>(raw->height));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const size_t stride = static_cast<size_t>(raw->width * raw->components);
  out->resize(stride * static_cast<size_t>(raw->height));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->data() + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& source, int64_t min_side) {
  JpegErrors errors;
  JpegRaw raw;
  std::vector<uint8_t> pixels;
  if (!jpeg_decode_raw(data, size, min_side, &raw, &pixels, &errors))
    throw Error(fmt::format("{}: cannot decode JPEG: {}", source, errors.message));
  if (errors.premature_end)
    throw Error(fmt::format("{}: truncated JPEG (premature end of data, {} bytes)", source, size));
  DecodedImage img;
  img.width = raw.width;
  img.height = raw.height;
  img.channels = 3;
  img.decoder_warnings = errors.warnings;
  const int64_t n = raw.width * raw.height;
  if (raw.components == 3) {
    img.pixels = std::move(pixels);
  } else if (raw.components == 1) {
    img.pixels.resize(static_cast<size_t>(n * 3));
    for (int64_t i = 0; i < n; ++i) img.pixels[i * 3] = img.pixels[i * 3 + 1] = img.pixels[i * 3 + 2] = pixels[i];
  } else if (raw.components == 4 && raw.cmyk) {
    img.pixels.resize(static_cast<size_t>(n * 3));
    cmyk_to_rgb(pixels.data(), n, raw.adobe_inverted, img.pixels.data());
  } else {
    throw Error(fmt::format("{}: JPEG with {} output components is not supported", source, raw.components));
  }
  return img;
}

// ---- PNG ----------------------------------------------------------------------------------------
struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
};

void on_png_read(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->pos + n > src->size) png_error(png, "unexpected end of data (truncated PNG)");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

void on_png_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // e.g. an unknown ancillary chunk: harmless

bool png_decode_rgb(PngSource* src, int64_t* width, int64_t* height, std::vector<uint8_t>* out,
                    std::vector<png_bytep>* rows) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, on_png_error, on_png_warning);
  if (!png) {
    std::snprintf(src->message, sizeof src->message, "libpng could not start");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    if (!src->message[0]) std::snprintf(src->message, sizeof src->message, "libpng could not start");
    return false;
  }
  png_set_read_fn(png, src, on_png_read);
  png_read_info(png, info);
  // Like PIL's convert("RGB"): palette and low-bit grey expanded, 16 bits scaled to 8 with rounding,
  // alpha dropped (not composited), no gamma correction.
  png_set_expand(png);
  png_set_scale_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *width = png_get_image_width(png, info);
  *height = png_get_image_height(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (*width * *height > kMaxPixels || rowbytes != static_cast<size_t>(*width * 3)) {
    std::snprintf(src->message, sizeof src->message, "unsupported PNG layout (%lld x %lld, %zu bytes per row)",
                  static_cast<long long>(*width), static_cast<long long>(*height), rowbytes);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  out->resize(rowbytes * static_cast<size_t>(*height));
  rows->resize(static_cast<size_t>(*height));
  for (int64_t y = 0; y < *height; ++y) (*rows)[y] = out->data() + y * rowbytes;
  png_read_image(png, rows->data());
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& source) {
  PngSource src{data, size, 0, {0}};
  DecodedImage img;
  std::vector<png_bytep> rows;
  if (!png_decode_rgb(&src, &img.width, &img.height, &img.pixels, &rows))
    throw Error(fmt::format("{}: cannot decode PNG: {}", source, src.message));
  img.channels = 3;
  return img;
}

}  // namespace

ImageFormat sniff_image_format(const uint8_t* data, size_t size) {
  static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::Jpeg;
  if (size >= 8 && std::memcmp(data, png_magic, 8) == 0) return ImageFormat::Png;
  return ImageFormat::Unknown;
}

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Unknown: break;
  }
  return "unknown";
}

DecodedImage decode_image_rgb(const uint8_t* data, size_t size, const std::string& source, int64_t min_side) {
  if (size == 0) throw Error(fmt::format("{}: empty image file (0 bytes)", source));
  switch (sniff_image_format(data, size)) {
    case ImageFormat::Jpeg: return decode_jpeg(data, size, source, min_side);
    case ImageFormat::Png: return decode_png(data, size, source);
    case ImageFormat::Unknown: break;
  }
  throw Error(fmt::format("{}: not a JPEG or PNG image (first bytes {}; formats are recognised by content, "
                          "not by extension)",
                          source, first_bytes_hex(data, size)));
}

uint8_t luma601(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((19595u * r + 38470u * g + 7471u * b + 0x8000u) >> 16);
}

void to_grey(DecodedImage& image) {
  if (image.channels == 1) return;
  DQ_ASSERT(image.channels == 3, "to_grey expects RGB");
  const int64_t n = image.width * image.height;
  for (int64_t i = 0; i < n; ++i)
    image.pixels[i] = luma601(image.pixels[i * 3], image.pixels[i * 3 + 1], image.pixels[i * 3 + 2]);
  image.pixels.resize(static_cast<size_t>(n));
  image.channels = 1;
}

void cmyk_to_rgb(const uint8_t* cmyk, int64_t pixels, bool adobe_inverted, uint8_t* rgb) {
  // With inverted storage, a stored value v means (255 - v) ink; colour = (255 - ink) * (255 - k) / 255.
  auto mul = [](unsigned a, unsigned b) { return static_cast<uint8_t>((a * b + 127) / 255); };
  for (int64_t i = 0; i < pixels; ++i) {
    const uint8_t* p = cmyk + i * 4;
    unsigned c = p[0], m = p[1], y = p[2], k = p[3];
    if (!adobe_inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
    rgb[i * 3] = mul(c, k);
    rgb[i * 3 + 1] = mul(m, k);
    rgb[i * 3 + 2] = mul(y, k);
  }
}

}  // namespace dq
