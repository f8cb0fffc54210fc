// Training a target network on a (quantized) coreset and evaluating it on the full test split.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "models/device_batch.h"
#include "models/models.h"
#include "models/networks.h"
#include "models/torch_errors.h"

namespace dq {

namespace {

// A host tensor for one batch; page-locked when it is bound for a CUDA device (faster copies).
torch::Tensor host_batch(int64_t count, const ImageSet& s, torch::Device device) {
  return host_tensor({count, s.channels, s.height, s.width}, torch::kFloat32, device);
}

// Labels on the device, through page-locked memory: a copy from pageable memory would wait for the
// device to finish every step queued before it.
torch::Tensor labels_on_device(const int64_t* labels, int64_t count, torch::Device device) {
  torch::Tensor host = host_tensor({count}, torch::kInt64, device);
  std::copy_n(labels, count, host.data_ptr<int64_t>());
  return to_device(host, device);
}

double evaluate(ClassifierImpl& model, const ImageSet& test, const Normalization& norm, torch::Device device) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t batch = 128;  // keeps activations under glibc's mmap threshold (see harness/main.cpp)
  std::vector<int64_t> ids(static_cast<size_t>(batch));
  auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  for (int64_t start = 0; start < test.n; start += batch) {
    const int64_t count = std::min(batch, test.n - start);
    std::iota(ids.begin(), ids.begin() + count, start);
    auto x = host_batch(count, test, device);
    gather_images(test, ids.data(), count, norm, nullptr, x.data_ptr<float>());
    auto labels = labels_on_device(test.labels.data() + start, count, device);
    correct += model.forward(to_device(x, device)).argmax(1).eq(labels).sum();
  }
  return test.n > 0 ? static_cast<double>(correct.item<int64_t>()) / static_cast<double>(test.n) : 0.0;
}

}  // namespace

TrainResult train_and_evaluate(const ImageSet& train, const ImageSet& test, int64_t num_classes,
                               const TrainRecipe& recipe, uint64_t seed, const ProgressFn& progress) {
  if (train.n == 0) throw Error("training set is empty (ratio too small for this dataset?)");
  return converting_torch_errors("train", [&] {
    set_compute_threads(recipe.threads);
    torch::manual_seed(seed);  // seeds the CPU generator and, where there are any, the CUDA ones
    const torch::Device device = to_torch_device(recipe.device);
    auto model = make_classifier(recipe.arch, train.channels, num_classes, train.height, train.width);
    model->to(device);
    return train_model_in_place(*model, train, test, recipe, seed, device, progress);
  });
}

TrainResult train_model_in_place(ClassifierImpl& model_ref, const ImageSet& train, const ImageSet& test,
                                 const TrainRecipe& recipe, uint64_t seed, torch::Device device,
                                 const ProgressFn& progress) {
  ClassifierImpl* model = &model_ref;
  const Normalization norm = normalization_for(recipe.normalize, train);

  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(recipe.lr)
                                                       .momentum(recipe.momentum)
                                                       .weight_decay(recipe.weight_decay));
  // Order, crops and flips come from our own Rng on the host: the same on every device.
  Rng rng(derive_seed(seed, "train-order"));
  std::vector<int64_t> order(static_cast<size_t>(train.n));
  std::iota(order.begin(), order.end(), 0);
  const bool flip = recipe.augment == Augment::FlipCrop || recipe.augment == Augment::Flip;
  const bool crop = (recipe.augment == Augment::FlipCrop || recipe.augment == Augment::Crop) && recipe.crop_padding > 0;
  std::vector<CropFlip> crops(static_cast<size_t>(recipe.batch_size));
  std::vector<int64_t> batch_labels(static_cast<size_t>(recipe.batch_size));

  TrainResult result;
  result.train_samples = train.n;
  // A fixed epoch count gives a 10% coreset a tenth of the steps; `min_steps` tops small sets up.
  const int64_t steps_per_epoch = std::max<int64_t>(1, (train.n + recipe.batch_size - 1) / recipe.batch_size);
  const int64_t epochs = std::max(recipe.epochs, (recipe.min_steps + steps_per_epoch - 1) / steps_per_epoch);
  // Evaluate on the test split after at most 5 evenly spaced epochs (always the last): on CPU a full
  // test pass costs about a third of a training epoch on Fashion-MNIST.
  const int64_t eval_every = std::max<int64_t>(1, (epochs + 4) / 5);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const double lr = recipe.schedule == Schedule::Cosine
                          ? recipe.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / epochs))
                          : recipe.lr;
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    for (int64_t i = train.n - 1; i > 0; --i)  // Fisher-Yates with our Rng: same order everywhere
      std::swap(order[static_cast<size_t>(i)], order[rng.uniform_below(static_cast<uint64_t>(i + 1))]);
    model->train();
    // The loss is summed on the device and read once per epoch: no host sync per step on a GPU.
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    int64_t loss_count = 0;
    for (int64_t start = 0; start < train.n; start += recipe.batch_size) {
      const int64_t count = std::min(recipe.batch_size, train.n - start);
      if (count < 2 && train.n >= 2) continue;  // BatchNorm cannot train on a batch of one
      const int64_t* ids = order.data() + start;
      for (int64_t k = 0; k < count; ++k) {
        CropFlip& cf = crops[static_cast<size_t>(k)];
        cf = CropFlip{};
        if (crop) {
          cf.pad = recipe.crop_padding;
          cf.dy = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * cf.pad + 1)));
          cf.dx = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * cf.pad + 1)));
        }
        if (flip) cf.flip = rng.uniform_below(2) == 1;
        batch_labels[static_cast<size_t>(k)] = train.labels[static_cast<size_t>(ids[k])];
      }
      auto x = host_batch(count, train, device);
      gather_images(train, ids, count, norm, crops.data(), x.data_ptr<float>());
      auto y = labels_on_device(batch_labels.data(), count, device);
      optimizer.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(to_device(x, device)), y);
      loss.backward();
      optimizer.step();
      loss_sum += loss.detach().to(torch::kFloat64) * static_cast<double>(count);
      loss_count += count;
      ++result.steps;
    }
    result.final_train_loss = loss_count > 0 ? loss_sum.item<double>() / static_cast<double>(loss_count) : 0;
    result.epochs = epoch + 1;
    if ((epoch + 1) % eval_every != 0 && epoch + 1 != epochs) continue;
    result.final_top1 = evaluate(*model, test, norm, device);
    result.best_top1 = std::max(result.best_top1, result.final_top1);
    if (progress)
      progress(fmt::format("epoch {}/{}: loss {:.4f}, test top-1 {:.2f}%", epoch + 1, epochs,
                           result.final_train_loss, 100.0 * result.final_top1));
  }
  return result;
}

}  // namespace dq
