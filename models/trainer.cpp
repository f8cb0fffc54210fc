// Training a target network on a (quantized) coreset and evaluating it on the full test split.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "models/models.h"
#include "models/networks.h"

namespace dq {

void set_compute_threads(int64_t threads) {
  // 0: the process's share (OMP_NUM_THREADS, which `dqbench run -j N` sets per cell), else all cores.
  int64_t n = threads > 0 ? threads : std::max<int64_t>(1, std::thread::hardware_concurrency());
  if (const char* share = std::getenv("OMP_NUM_THREADS"); threads <= 0 && share && std::atoi(share) > 0)
    n = std::atoi(share);
  torch::set_num_threads(static_cast<int>(n));
}

std::string torch_version() { return TORCH_VERSION; }

namespace {

// Random crop (after zero padding) and horizontal flip, drawn from our deterministic Rng.
torch::Tensor augment_batch(torch::Tensor x, const TrainRecipe& recipe, Rng& rng) {
  const bool flip = recipe.augment == "flip_crop" || recipe.augment == "flip";
  const bool crop = (recipe.augment == "flip_crop" || recipe.augment == "crop") && recipe.crop_padding > 0;
  if (!flip && !crop) return x;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), pad = recipe.crop_padding;
  torch::Tensor padded = crop ? torch::constant_pad_nd(x, {pad, pad, pad, pad}, 0) : x;
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor img = padded[i];
    if (crop) {
      const int64_t dy = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * pad + 1)));
      const int64_t dx = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * pad + 1)));
      img = img.slice(1, dy, dy + h).slice(2, dx, dx + w);
    }
    if (flip && rng.uniform_below(2) == 1) img = img.flip({2});
    out.push_back(img);
  }
  return torch::stack(out);
}

double evaluate(ClassifierImpl& model, const ImageSet& test, const std::vector<float>& mean,
                const std::vector<float>& std, torch::Device device) {
  torch::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  const int64_t batch = 128;  // keeps activations under glibc's mmap threshold (see harness/main.cpp)
  for (int64_t start = 0; start < test.n; start += batch) {
    const int64_t count = std::min(batch, test.n - start);
    auto x = images_to_tensor(test.image(start), count, test.channels, test.height, test.width, mean, std).to(device);
    auto pred = model.forward(x).argmax(1).to(torch::kCPU);
    auto labels = torch::from_blob(const_cast<int64_t*>(test.labels.data() + start), {count}, torch::kInt64);
    correct += pred.eq(labels).sum().item<int64_t>();
  }
  return test.n > 0 ? static_cast<double>(correct) / static_cast<double>(test.n) : 0.0;
}

}  // namespace

TrainResult train_and_evaluate(const ImageSet& train, const ImageSet& test, int64_t num_classes,
                               const TrainRecipe& recipe, uint64_t seed, const ProgressFn& progress) {
  if (train.n == 0) throw Error("training set is empty (ratio too small for this dataset?)");
  set_compute_threads(recipe.threads);
  torch::manual_seed(seed);
  const torch::Device device = resolve_device(recipe.device);
  auto model = make_classifier(recipe.arch, train.channels, num_classes);
  model->to(device);
  return train_model_in_place(*model, train, test, recipe, seed, device, progress);
}

TrainResult train_model_in_place(ClassifierImpl& model_ref, const ImageSet& train, const ImageSet& test,
                                 const TrainRecipe& recipe, uint64_t seed, torch::Device device,
                                 const ProgressFn& progress) {
  ClassifierImpl* model = &model_ref;
  std::vector<float> mean, std;
  channel_statistics(train.pixels.data(), train.n, train.channels, train.height * train.width, mean, std);

  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(recipe.lr)
                                                       .momentum(recipe.momentum)
                                                       .weight_decay(recipe.weight_decay));
  Rng rng(derive_seed(seed, "train-order"));
  std::vector<int64_t> order(static_cast<size_t>(train.n));
  std::iota(order.begin(), order.end(), 0);
  const int64_t bytes = train.image_bytes();
  std::vector<uint8_t> batch_pixels(static_cast<size_t>(recipe.batch_size * bytes));
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
    const double lr = recipe.schedule == "cosine"
                          ? recipe.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / epochs))
                          : recipe.lr;
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    for (int64_t i = train.n - 1; i > 0; --i)  // Fisher-Yates with our Rng: same order everywhere
      std::swap(order[static_cast<size_t>(i)], order[rng.uniform_below(static_cast<uint64_t>(i + 1))]);
    model->train();
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (int64_t start = 0; start < train.n; start += recipe.batch_size) {
      const int64_t count = std::min(recipe.batch_size, train.n - start);
      if (count < 2 && train.n >= 2) continue;  // BatchNorm cannot train on a batch of one
      for (int64_t k = 0; k < count; ++k) {
        const int64_t id = order[static_cast<size_t>(start + k)];
        std::copy_n(train.image(id), bytes, batch_pixels.data() + k * bytes);
        batch_labels[static_cast<size_t>(k)] = train.labels[static_cast<size_t>(id)];
      }
      auto x = images_to_tensor(batch_pixels.data(), count, train.channels, train.height, train.width, mean, std);
      x = augment_batch(x, recipe, rng).to(device);
      auto y = torch::from_blob(batch_labels.data(), {count}, torch::kInt64).clone().to(device);
      optimizer.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(count);
      loss_count += count;
      ++result.steps;
    }
    result.final_train_loss = loss_count > 0 ? loss_sum / static_cast<double>(loss_count) : 0;
    result.epochs = epoch + 1;
    if ((epoch + 1) % eval_every != 0 && epoch + 1 != epochs) continue;
    result.final_top1 = evaluate(*model, test, mean, std, device);
    result.best_top1 = std::max(result.best_top1, result.final_top1);
    if (progress)
      progress(fmt::format("epoch {}/{}: loss {:.4f}, test top-1 {:.2f}%", epoch + 1, epochs,
                           result.final_train_loss, 100.0 * result.final_top1));
  }
  return result;
}

}  // namespace dq
