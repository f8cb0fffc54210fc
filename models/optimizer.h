#pragma once
// The SGD a training recipe asks for (models.h TrainRecipe): plain SGD with momentum and weight decay
// for the earlier recipes, or airbench's Nesterov SGD in decoupled form with BatchNorm biases in a
// group of their own. Include only from models/*.cpp and the LibTorch benchmarks (pulls in LibTorch).
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "models/models.h"

namespace dq {

// SGD over `model`'s parameters. Without a BatchNorm-bias multiplier, Nesterov or the decoupled form:
// one group, lr / momentum / weight_decay as given. Otherwise BatchNorm biases (lr x bn_bias_lr_scale)
// and the other trainable parameters form two groups; in the decoupled form the SGD lr is
// lr / (1024 (1 + 1/(1 - momentum))) and each group's weight decay weight_decay x batch_size / that
// scale / the group's lr, so the decay per step is the same in both groups. `base_lrs` receives each
// group's learning rate, in param_groups() order, before the schedule scales it.
std::unique_ptr<torch::optim::SGD> make_optimizer(torch::nn::Module& model, const TrainRecipe& recipe,
                                                  std::vector<double>& base_lrs);

// Sets every group's learning rate to scheduled_lr (models/schedule.h) of its base rate.
void set_learning_rates(torch::optim::SGD& optimizer, const std::vector<double>& base_lrs,
                        const std::function<double(double)>& scheduled);

}  // namespace dq
