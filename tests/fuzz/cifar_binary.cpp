// Fuzz target: the CIFAR-10 and CIFAR-100 binary loaders (datasets/cifar_binary.cpp). The input's parts
// (fuzz_target.h) are the files: CIFAR-10 data_batch_1..5.bin, test_batch.bin, batches.meta.txt when
// the first byte is even, else CIFAR-100 train.bin, test.bin, fine_label_names.txt,
// coarse_label_names.txt.
#include <fmt/format.h>

#include "datasets/decode_cache.h"
#include "harness/dataset_definitions.h"
#include "tests/fuzz/fuzz_target.h"

DQ_FUZZ_TARGET(cifar_binary) {
  if (input.empty()) return;
  const bool cifar10 = static_cast<unsigned char>(input[0]) % 2 == 0;
  input.remove_prefix(1);
  const std::vector<std::string> names =
      cifar10 ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin", "test_batch.bin", "batches.meta.txt"}
              : std::vector<std::string>{"train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"};
  const auto dir = dq::fuzz::scratch();
  const auto parts = dq::fuzz::split_parts(input, names.size());
  for (size_t i = 0; i < parts.size(); ++i) dq::fuzz::write_file(dir / names[i], parts[i]);
  const auto def = dq::parse_dataset_spec(fmt::format("{}(path={})", cifar10 ? "cifar10" : "cifar100", dir.string()),
                                          "fuzz");
  (void)dq::load_dataset(def.kind, def.params, "", "fuzz");  // validate_dataset inside
}
