// Fuzz target: IDX files (datasets/idx.h), plain or gzipped, alone (one part) or as the four files of
// the fashion_mnist loader (four parts: train images, train labels, test images, test labels).
#include <fmt/format.h>

#include "datasets/decode_cache.h"
#include "datasets/idx.h"
#include "harness/dataset_definitions.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(idx) {
  const auto dir = dq::fuzz::scratch();
  const auto parts = dq::fuzz::split_parts(input, 4);
  if (parts.size() < 4) {
    dq::fuzz::write_file(dir / "a.idx", input);
    const dq::IdxArray a = dq::read_idx_u8((dir / "a.idx").string());
    int64_t n = 1;
    for (const int64_t s : a.shape) n *= s;
    if (static_cast<int64_t>(a.data.size()) != n) dq::fuzz::finding("IDX data size differs from its shape");
    return;
  }
  const char* names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                         "t10k-labels-idx1-ubyte.gz"};
  for (size_t i = 0; i < 4; ++i) dq::fuzz::write_file(dir / names[i], parts[i]);
  const auto def = dq::parse_dataset_spec(fmt::format("fashion_mnist(path={})", dir.string()), "fuzz");
  (void)dq::load_dataset(def.kind, def.params, "", "fuzz");
}
