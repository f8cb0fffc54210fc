// Fuzz target: the Fakeddit loader (datasets/fakeddit.cpp) through the TSV reader and JPEG/PNG
// decoding. Parts: multimodal_train.tsv, multimodal_test_public.tsv, then up to four images saved as
// public_image_set/a.jpg, b.jpg, c.jpg, d.jpg (the seeds' rows use ids a..d).
#include <fmt/format.h>

#include "datasets/decode_cache.h"
#include "harness/dataset_definitions.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(fakeddit) {
  const auto dir = dq::fuzz::scratch();
  const auto parts = dq::fuzz::split_parts(input, 6);
  const char* names[] = {"multimodal_train.tsv", "multimodal_test_public.tsv", "public_image_set/a.jpg",
                         "public_image_set/b.jpg", "public_image_set/c.jpg", "public_image_set/d.jpg"};
  for (size_t i = 0; i < parts.size(); ++i) dq::fuzz::write_file(dir / names[i], parts[i]);
  const auto def = dq::parse_dataset_spec(fmt::format("fakeddit(path={},image_size=8,threads=1)", dir.string()), "fuzz");
  (void)dq::load_dataset(def.kind, def.params, "", "fuzz");
}
