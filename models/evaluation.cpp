#include "models/evaluation.h"

#include <numeric>

#include "datasets/dataset.h"
#include "models/compute_mode.h"
#include "models/device_batch.h"

namespace dq {

torch::Tensor tta_logits(ClassifierImpl& model, const torch::Tensor& x, int64_t level, const ComputeOptions& compute,
                         torch::Device device, torch::Tensor* plain) {
  const auto f = [&](const torch::Tensor& view) {
    AutocastGuard autocast(compute, device);
    return model.forward(in_memory_format(view, compute)).to(torch::kFloat32);
  };
  const auto mirror = [&](const torch::Tensor& view, torch::Tensor* unflipped) {
    const torch::Tensor a = f(view);
    if (unflipped) *unflipped = a;
    return 0.5 * a + 0.5 * f(view.flip({3}));
  };
  if (level <= 0) {
    torch::Tensor logits = f(x);
    if (plain) *plain = logits;
    return logits;
  }
  const torch::Tensor mirrored = mirror(x, plain);
  if (level == 1) return mirrored;
  const int64_t h = x.size(2), w = x.size(3);
  const torch::Tensor padded = torch::reflection_pad2d(x, {1, 1, 1, 1});
  const torch::Tensor down_right = padded.slice(2, 0, h).slice(3, 0, w);
  const torch::Tensor up_left = padded.slice(2, 2, h + 2).slice(3, 2, w + 2);
  return 0.5 * mirrored + 0.5 * (0.5 * (mirror(down_right, nullptr) + mirror(up_left, nullptr)));
}

EvalResult evaluate(ClassifierImpl& model, const ImageSet& test, const Normalization& norm, torch::Device device,
                    int64_t tta_level, const ComputeOptions& compute) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t batch = 128;  // keeps activations under glibc's mmap threshold (see cli/main.cpp)
  std::vector<int64_t> ids(static_cast<size_t>(batch));
  const auto counter = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto correct = torch::zeros({}, counter), correct_tta = torch::zeros({}, counter);
  for (int64_t start = 0; start < test.n; start += batch) {
    const int64_t count = std::min(batch, test.n - start);
    std::iota(ids.begin(), ids.begin() + count, start);
    auto x = host_tensor({count, test.channels, test.height, test.width}, torch::kFloat32, device);
    gather_images(test, ids.data(), count, norm, nullptr, x.data_ptr<float>());
    auto labels = labels_to_device(test.labels.data() + start, count, device);
    torch::Tensor plain;
    const torch::Tensor logits = tta_logits(model, to_device(x, device), tta_level, compute, device, &plain);
    correct += plain.argmax(1).eq(labels).sum();
    if (tta_level > 0) correct_tta += logits.argmax(1).eq(labels).sum();
  }
  EvalResult r;
  if (test.n == 0) return r;
  const auto n = static_cast<double>(test.n);
  r.top1 = static_cast<double>(correct.item<int64_t>()) / n;
  if (tta_level > 0) r.top1_tta = static_cast<double>(correct_tta.item<int64_t>()) / n;
  return r;
}

}  // namespace dq
