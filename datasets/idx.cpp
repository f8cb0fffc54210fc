#include "datasets/idx.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <memory>

#include "core/error.h"

namespace dq {

IdxArray read_idx_u8(const std::string& path) {
  // gzopen reads plain files transparently too.
  std::unique_ptr<gzFile_s, decltype(&gzclose)> f(gzopen(path.c_str(), "rb"), &gzclose);
  if (!f) throw Error(fmt::format("{}: cannot open IDX file", path));
  auto read_exact = [&](void* dst, size_t n, const std::string& what) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(f.get(), static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int err = 0;
        throw Error(fmt::format("{}: corrupt gzip stream while reading {}: {}", path, what, gzerror(f.get(), &err)));
      }
      if (got == 0)
        throw Error(fmt::format("{}: truncated IDX file: {} needs {} bytes, only {} present", path, what, n, done));
      done += static_cast<size_t>(got);
    }
  };
  unsigned char magic[4];
  read_exact(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(fmt::format("{}: wrong magic number {:02x}{:02x}{:02x}{:02x} (not an IDX file)", path, magic[0],
                            magic[1], magic[2], magic[3]));
  if (magic[2] != 0x08)
    throw Error(fmt::format("{}: IDX element type 0x{:02x} is not unsigned byte (0x08)", path, magic[2]));
  const int ndims = magic[3];
  if (ndims < 1 || ndims > 4) throw Error(fmt::format("{}: IDX file declares {} dimensions", path, ndims));
  IdxArray out;
  int64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    unsigned char b[4];
    read_exact(b, 4, "the dimension sizes");
    const int64_t size = (int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    out.shape.push_back(size);
    if (size > 0 && total > (int64_t{1} << 40) / size)  // 1 TiB: beyond any IDX file (and no overflow)
      throw Error(fmt::format("{}: IDX dimensions {} are beyond any file", path, fmt::join(out.shape, " x ")));
    total *= size;
  }
  // The data is read in pieces as it arrives: a header that promises more than the (possibly gzipped)
  // file holds is a truncated file, not a request for that much memory (found by fuzzing:
  // tests/fuzz/inputs/idx/regressions/).
  constexpr int64_t kPiece = int64_t{64} << 20;
  while (static_cast<int64_t>(out.data.size()) < total) {
    const size_t done = out.data.size();
    const int64_t piece = std::min(kPiece, total - static_cast<int64_t>(done));
    out.data.resize(done + static_cast<size_t>(piece));
    read_exact(out.data.data() + done, static_cast<size_t>(piece),
               fmt::format("the data (bytes {}..{} of {})", done, done + static_cast<size_t>(piece), total));
  }
  return out;
}

}  // namespace dq
