// Training a target network on a (quantized) coreset and evaluating it on the full test split: the
// step budget (models/schedule.h), SGD (plain, or airbench's Nesterov in decoupled form with a
// BatchNorm-bias group), augmentation, the lookahead EMA and the whitening layer's initialisation.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "models/airbench94.h"
#include "models/compute_mode.h"
#include "models/device_batch.h"
#include "models/evaluation.h"
#include "models/lookahead.h"
#include "models/models.h"
#include "models/networks.h"
#include "models/optimizer.h"
#include "models/schedule.h"
#include "models/torch_errors.h"

namespace dq {

namespace {

// A host tensor for one batch; page-locked when it is bound for a CUDA device (faster copies).
torch::Tensor host_batch(int64_t count, const ImageSet& s, torch::Device device) {
  return host_tensor({count, s.channels, s.height, s.width}, torch::kFloat32, device);
}

// Sets a whitening first layer (models/airbench94.h) from the first `whiten_images` training images,
// normalised and unaugmented.
void initialise_whitening(torch::nn::Conv2dImpl& layer, const ImageSet& train, const Normalization& norm,
                          const TrainRecipe& recipe) {
  const int64_t count = std::min(recipe.whiten_images, train.n);
  std::vector<int64_t> ids(static_cast<size_t>(count));
  std::iota(ids.begin(), ids.end(), 0);
  auto images = torch::empty({count, train.channels, train.height, train.width}, torch::kFloat32);
  gather_images(train, ids.data(), count, norm, nullptr, images.data_ptr<float>());
  torch::NoGradGuard no_grad;
  const torch::Tensor filters = whitening_filters(images, layer.weight.size(2), recipe.whiten_eps);
  layer.weight.copy_(filters.to(layer.weight.device()));
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
                                 const ProgressFn& progress, AugmentOn augment_on) {
  ClassifierImpl* model = &model_ref;
  const Normalization norm = normalization_for(recipe.normalize, train);
  const StepPlan plan = plan_steps(recipe, train.n);
  set_memory_format(*model, recipe.compute);
  torch::nn::Conv2dImpl* whitening = model->whitening_layer();
  if (whitening && train.n > 0) initialise_whitening(*whitening, train, norm, recipe);
  if (whitening) whitening->bias.requires_grad_(true);

  std::vector<double> base_lrs;
  const std::unique_ptr<torch::optim::SGD> optimizer = make_optimizer(*model, recipe, base_lrs);
  auto loss_options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(recipe.label_smoothing);
  if (recipe.loss_reduction == LossReduction::Sum) loss_options = loss_options.reduction(torch::kSum);
  // Order, crops and flips come from our own Rng on the host: the same on every device.
  Rng rng(derive_seed(seed, "train-order"));
  std::vector<int64_t> order(static_cast<size_t>(train.n));
  std::iota(order.begin(), order.end(), 0);
  const bool flip = recipe.augment == Augment::FlipCrop || recipe.augment == Augment::Flip;
  const bool crop = (recipe.augment == Augment::FlipCrop || recipe.augment == Augment::Crop) && recipe.crop_padding > 0;
  const bool alternating = flip && recipe.flip_mode == FlipMode::Alternating;
  const bool augment_on_device = augment_on == AugmentOn::Device || (augment_on == AugmentOn::Auto && device.is_cuda());
  // Alternating flip: one coin per image before the first epoch; odd epochs flip every image.
  std::vector<uint8_t> base_flip;
  if (alternating) {
    base_flip.resize(static_cast<size_t>(train.n));
    for (auto& f : base_flip) f = static_cast<uint8_t>(rng.uniform_below(2));
  }
  std::vector<CropFlip> crops(static_cast<size_t>(recipe.batch_size));
  std::vector<int64_t> batch_labels(static_cast<size_t>(recipe.batch_size));

  TrainResult result;
  result.train_samples = train.n;
  result.budget_steps = plan.total_steps;
  // Events given in budget epochs happen at these step counts (models/schedule.h).
  const int64_t whiten_bias_steps = recipe.whiten_bias_epochs * plan.epoch_steps;
  const int64_t lookahead_after = recipe.lookahead_start_epoch * plan.epoch_steps;
  std::optional<LookaheadEma> lookahead;
  // Evaluate on the test split after at most `evaluations` evenly spaced epochs (always the last): on
  // CPU a full test pass costs about a third of a training epoch on Fashion-MNIST.
  const int64_t epochs = plan.epochs;
  const int64_t eval_every = std::max<int64_t>(1, (epochs + recipe.evaluations - 1) / recipe.evaluations);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    if (recipe.schedule != Schedule::PiecewiseLinear)  // per epoch
      set_learning_rates(*optimizer, base_lrs, [&](double lr) { return scheduled_lr(lr, recipe, plan, epoch, result.steps); });
    for (int64_t i = train.n - 1; i > 0; --i)  // Fisher-Yates with our Rng: same order everywhere
      std::swap(order[static_cast<size_t>(i)], order[rng.uniform_below(static_cast<uint64_t>(i + 1))]);
    model->train();
    // The loss is summed on the device and read once per epoch: no host sync per step on a GPU.
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    int64_t loss_count = 0;
    for (int64_t start = 0; start < train.n && result.steps < plan.total_steps; start += recipe.batch_size) {
      const int64_t count = std::min(recipe.batch_size, train.n - start);
      if (count < 2 && train.n >= 2) continue;  // BatchNorm cannot train on a batch of one
      if (recipe.drop_last && count < recipe.batch_size && start > 0) break;  // the last partial batch
      const int64_t* ids = order.data() + start;
      for (int64_t k = 0; k < count; ++k) {
        CropFlip& cf = crops[static_cast<size_t>(k)];
        cf = CropFlip{};
        if (crop) {
          cf.pad = recipe.crop_padding;
          cf.reflect = recipe.padding_mode == PaddingMode::Reflect;
          cf.dy = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * cf.pad + 1)));
          cf.dx = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(2 * cf.pad + 1)));
        }
        if (alternating) cf.flip = (base_flip[static_cast<size_t>(ids[k])] != 0) != (epoch % 2 == 1);
        else if (flip) cf.flip = rng.uniform_below(2) == 1;
        batch_labels[static_cast<size_t>(k)] = train.labels[static_cast<size_t>(ids[k])];
      }
      if (recipe.schedule == Schedule::PiecewiseLinear)  // per step
        set_learning_rates(*optimizer, base_lrs,
                           [&](double lr) { return scheduled_lr(lr, recipe, plan, epoch, result.steps); });
      if (whitening && result.steps == whiten_bias_steps) {  // freeze the whitening bias
        whitening->bias.requires_grad_(false);
        whitening->bias.mutable_grad().reset();  // no gradient: SGD leaves it alone (no decay, no momentum)
      }
      torch::Tensor x;
      if (augment_on_device) {
        x = augmented_images_to_device(train, ids, count, norm, crop || flip ? crops.data() : nullptr, device);
      } else {
        x = host_batch(count, train, device);
        gather_images(train, ids, count, norm, crops.data(), x.data_ptr<float>());
        x = to_device(x, device);
      }
      auto y = labels_to_device(batch_labels.data(), count, device);
      optimizer->zero_grad();
      torch::Tensor logits;
      {
        AutocastGuard autocast(recipe.compute, device);
        logits = model->forward(in_memory_format(x, recipe.compute));
      }
      auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y, loss_options);
      loss.backward();
      optimizer->step();
      loss_sum += recipe.loss_reduction == LossReduction::Sum ? loss.detach().to(torch::kFloat64)
                                                               : loss.detach().to(torch::kFloat64) * static_cast<double>(count);
      loss_count += count;
      ++result.steps;
      if (recipe.lookahead_every > 0 && result.steps > lookahead_after && result.steps % recipe.lookahead_every == 0) {
        if (!lookahead) lookahead.emplace(*model);
        else lookahead->update(lookahead_decay_at(result.steps, plan.total_steps, recipe.lookahead_decay,
                                                  recipe.lookahead_every, recipe.lookahead_power));
      }
    }
    if (lookahead) lookahead->update(1.0);  // back to the average at the end of every epoch
    result.final_train_loss = loss_count > 0 ? loss_sum.item<double>() / static_cast<double>(loss_count) : 0;
    result.epochs = epoch + 1;
    const bool last = epoch + 1 == epochs;
    if ((epoch + 1) % eval_every != 0 && !last) {
      if (progress)
        progress(fmt::format("epoch {}/{}: loss {:.4f} ({} of {} steps)", epoch + 1, epochs, result.final_train_loss,
                             result.steps, plan.total_steps));
      continue;
    }
    const EvalResult eval = evaluate(*model, test, norm, device, last ? recipe.tta_level : 0, recipe.compute);
    result.final_top1 = eval.top1;
    result.best_top1 = std::max(result.best_top1, result.final_top1);
    if (last) result.final_top1_tta = eval.top1_tta;
    if (progress)
      progress(fmt::format("epoch {}/{}: loss {:.4f}, test top-1 {:.2f}%{}", epoch + 1, epochs,
                           result.final_train_loss, 100.0 * result.final_top1,
                           last && recipe.tta_level > 0 ? fmt::format(", with TTA {:.2f}%", 100.0 * eval.top1_tta)
                                                        : std::string()));
  }
  return result;
}

}  // namespace dq
