#include "core/npy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <span>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hashing.h"

namespace dq {

int64_t NpyArray::size() const {
  // A zero anywhere makes it empty; read_npy checked that the other dimensions' product fits in the
  // file, so it cannot overflow (multiplying first could: (2^62, 2^62, 0)).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

namespace {
template <typename Out, typename In>
void convert(const unsigned char* src, int64_t n, std::vector<Out>& out) {
  out.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    In v;
    std::memcpy(&v, src + i * sizeof(In), sizeof(In));
    out[static_cast<size_t>(i)] = static_cast<Out>(v);
  }
}
}  // namespace

std::vector<float> NpyArray::as_float32(const std::string& path) const {
  std::vector<float> out;
  if (dtype == "f4") convert<float, float>(bytes.data(), size(), out);
  else if (dtype == "f8") convert<float, double>(bytes.data(), size(), out);
  else if (dtype == "f2") throw Error(fmt::format("{}: float16 arrays are not supported; save as float32", path));
  else throw Error(fmt::format("{}: expected a float array, found dtype '{}'", path, dtype));
  return out;
}

std::vector<int64_t> NpyArray::as_int64(const std::string& path) const {
  std::vector<int64_t> out;
  if (dtype == "i8") convert<int64_t, int64_t>(bytes.data(), size(), out);
  else if (dtype == "i4") convert<int64_t, int32_t>(bytes.data(), size(), out);
  else if (dtype == "u8") {
    // Values from 2^63 up have no int64: read as negative numbers they would sort first.
    for (int64_t i = 0; i < size(); ++i) {
      uint64_t v;
      std::memcpy(&v, bytes.data() + i * static_cast<int64_t>(sizeof v), sizeof v);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(fmt::format("{}: element {} is {} (uint64), beyond the int64 range integers are read in", path, i, v));
    }
    convert<int64_t, uint64_t>(bytes.data(), size(), out);
  }
  else if (dtype == "u4") convert<int64_t, uint32_t>(bytes.data(), size(), out);
  else if (dtype == "i2") convert<int64_t, int16_t>(bytes.data(), size(), out);
  else if (dtype == "u2") convert<int64_t, uint16_t>(bytes.data(), size(), out);
  else if (dtype == "i1" || dtype == "b1") convert<int64_t, int8_t>(bytes.data(), size(), out);
  else if (dtype == "u1") convert<int64_t, uint8_t>(bytes.data(), size(), out);
  else throw Error(fmt::format("{}: expected an integer array, found dtype '{}'", path, dtype));
  return out;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open .npy file", path));
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error(fmt::format("{}: not a .npy file (bad magic)", path));
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw Error(fmt::format("{}: truncated .npy header", path));
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw Error(fmt::format("{}: truncated .npy header", path));
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    throw Error(fmt::format("{}: unsupported .npy version {}", path, major));
  }
  // The header is read only when the file holds it: a lying length is bad input, not a request for
  // up to 4 GiB (found by fuzzing: tests/fuzz/inputs/npy/regressions/).
  const std::streamoff header_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff file_size = in.tellg();
  in.seekg(header_start);
  if (static_cast<std::streamoff>(header_len) > file_size - header_start)
    throw Error(fmt::format("{}: truncated .npy header ({} bytes announced, {} in the file)", path, header_len,
                            file_size - header_start));
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw Error(fmt::format("{}: truncated .npy header", path));

  std::smatch m;
  NpyArray arr;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([<>|=])([a-z]\\d+)'")))
    throw Error(fmt::format("{}: .npy header has no dtype: {}", path, header));
  if (m[1] == ">" && m[2].str().substr(1) != "1")
    throw Error(fmt::format("{}: big-endian arrays are not supported", path));
  arr.dtype = m[2];
  if (arr.dtype.size() > 3)  // item sizes of numbers are 1..16 bytes; "f99999999999999999999" would overflow
    throw Error(fmt::format("{}: unsupported dtype '{}'", path, arr.dtype));
  if (std::regex_search(header, m, std::regex("'fortran_order':\\s*True")))
    throw Error(fmt::format("{}: Fortran-order arrays are not supported; save with np.ascontiguousarray", path));
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    throw Error(fmt::format("{}: .npy header has no shape", path));
  const std::string shape_text = m[1];
  static const std::regex digits("\\d+");
  for (std::sregex_iterator it(shape_text.begin(), shape_text.end(), digits), end; it != end; ++it) {
    if (it->str().size() > 18) throw Error(fmt::format("{}: .npy shape ({}) is beyond any file", path, shape_text));
    arr.shape.push_back(std::stoll(it->str()));
  }
  const int64_t item = std::stoll(arr.dtype.substr(1));
  if (item == 0) throw Error(fmt::format("{}: unsupported dtype '{}'", path, arr.dtype));
  // The header's shape is checked against the file before anything is allocated: a cut or lying
  // header is bad input, not a request for terabytes (which used to end as "out of memory").
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const int64_t available = static_cast<int64_t>(in.tellg() - data_start);
  in.seekg(data_start);
  int64_t nbytes = item;
  for (const int64_t s : arr.shape)
    if (s != 0 && nbytes > available / s) nbytes = available + 1;  // more than the file holds (and no overflow)
    else nbytes *= s;
  if (std::find(arr.shape.begin(), arr.shape.end(), 0) != arr.shape.end()) nbytes = 0;
  if (nbytes > available)
    throw Error(fmt::format("{}: truncated .npy data (shape ({}) of {}-byte items needs more than the {} bytes the file "
                            "holds)",
                            path, shape_text, item, available));
  arr.bytes.resize(static_cast<size_t>(nbytes));
  if (nbytes > 0 && !in.read(reinterpret_cast<char*>(arr.bytes.data()), nbytes))
    throw Error(fmt::format("{}: truncated .npy data (expected {} bytes for shape {})", path, nbytes, shape_text));
  return arr;
}

namespace {
// The magic, header length and header that precede the data for `shape`.
std::string npy_preamble(const char* descr, const std::vector<int64_t>& shape) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    shape_text += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  shape_text += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_text);
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header;
}

// Writes the header for `shape` and then `parts` back to back (their bytes must add up to the shape).
void write_raw_parts(const std::string& path, const char* descr, const std::vector<std::span<const unsigned char>>& parts,
                     size_t item, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  const std::string preamble = npy_preamble(descr, shape);
  AtomicFileWriter out(path);
  out.write(preamble.data(), preamble.size());
  size_t written = 0;
  for (const auto& part : parts) {
    out.write(part.data(), part.size());
    written += part.size();
  }
  DQ_ASSERT(written == static_cast<size_t>(n) * item, "npy parts do not add up to the shape");
  out.commit();
}
void write_raw(const std::string& path, const char* descr, const void* data, size_t item,
               const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  write_raw_parts(path, descr, {{static_cast<const unsigned char*>(data), static_cast<size_t>(n) * item}}, item, shape);
}
}  // namespace

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  write_raw(path, "<f4", data, 4, shape);
}
void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape) {
  write_raw(path, "<f8", data, 8, shape);
}
void write_npy(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape) {
  write_raw(path, "<i8", data, 8, shape);
}
void write_npy(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape) {
  write_raw(path, "<i4", data, 4, shape);
}

void write_npy(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape) {
  write_raw(path, "|u1", data, 1, shape);
}
void write_npy_bool(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  DQ_ASSERT(std::all_of(data, data + n, [](uint8_t v) { return v <= 1; }), "a numpy bool is 0 or 1");
  write_raw(path, "|b1", data, 1, shape);
}

std::string npy_sha256(const float* data, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  Sha256 digest;
  const std::string preamble = npy_preamble("<f4", shape);
  digest.update(preamble.data(), preamble.size());
  digest.update(data, static_cast<size_t>(n) * sizeof(float));
  return digest.hex();
}

void write_npy_rows(const std::string& path, const std::vector<std::span<const float>>& parts,
                    const std::vector<int64_t>& shape) {
  std::vector<std::span<const unsigned char>> bytes;
  for (const auto& p : parts) bytes.emplace_back(reinterpret_cast<const unsigned char*>(p.data()), p.size_bytes());
  write_raw_parts(path, "<f4", bytes, 4, shape);
}

}  // namespace dq
