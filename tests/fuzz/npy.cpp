// Fuzz target: the .npy reader (core/npy.h): users' embeddings and labels, external methods' outputs,
// our caches. A file that reads must hold exactly its shape's bytes and convert to its size.
#include "core/error.h"
#include "core/npy.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(npy) {
  const auto path = dq::fuzz::scratch() / "a.npy";
  dq::fuzz::write_file(path, input);
  const dq::NpyArray a = dq::read_npy(path.string());
  const int64_t n = a.size();
  if (n < 0) dq::fuzz::finding("negative element count");
  try {
    if (static_cast<int64_t>(a.as_float32(path.string()).size()) != n) dq::fuzz::finding("as_float32 size");
  } catch (const dq::Error&) {
  }
  try {
    if (static_cast<int64_t>(a.as_int64(path.string()).size()) != n) dq::fuzz::finding("as_int64 size");
  } catch (const dq::Error&) {
  }
}
