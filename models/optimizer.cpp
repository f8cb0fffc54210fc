#include "models/optimizer.h"

namespace dq {
namespace {

bool is_batchnorm(const torch::nn::Module& m) {
  return m.as<torch::nn::BatchNorm2d>() || m.as<torch::nn::BatchNorm1d>();
}

}  // namespace

std::unique_ptr<torch::optim::SGD> make_optimizer(torch::nn::Module& model, const TrainRecipe& r,
                                                  std::vector<double>& base_lrs) {
  const auto options = [&](double lr, double wd) {
    return torch::optim::SGDOptions(lr).momentum(r.momentum).weight_decay(wd).nesterov(r.nesterov);
  };
  if (!r.decoupled && r.bn_bias_lr_scale == 1.0 && !r.nesterov) {
    base_lrs = {r.lr};
    return std::make_unique<torch::optim::SGD>(model.parameters(), options(r.lr, r.weight_decay));
  }
  std::vector<torch::Tensor> bn_biases, others;
  for (const auto& m : model.modules(/*include_self=*/true))
    for (const auto& item : m->named_parameters(/*recurse=*/false)) {
      if (!item.value().requires_grad()) continue;
      (is_batchnorm(*m) && item.key() == "bias" ? bn_biases : others).push_back(item.value());
    }
  double lr = r.lr, wd_other = r.weight_decay, wd_bn = r.weight_decay;
  if (r.decoupled) {
    const double kilostep_scale = 1024.0 * (1.0 + 1.0 / (1.0 - r.momentum));
    lr = r.lr / kilostep_scale;
    const double decay = r.weight_decay * static_cast<double>(r.batch_size) / kilostep_scale;
    wd_other = lr > 0 ? decay / lr : 0.0;
    wd_bn = lr > 0 && r.bn_bias_lr_scale > 0 ? decay / (lr * r.bn_bias_lr_scale) : 0.0;
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  base_lrs.clear();
  if (!bn_biases.empty()) {
    groups.emplace_back(bn_biases, std::make_unique<torch::optim::SGDOptions>(options(lr * r.bn_bias_lr_scale, wd_bn)));
    base_lrs.push_back(lr * r.bn_bias_lr_scale);
  }
  groups.emplace_back(others, std::make_unique<torch::optim::SGDOptions>(options(lr, wd_other)));
  base_lrs.push_back(lr);
  return std::make_unique<torch::optim::SGD>(std::move(groups), options(lr, wd_other));
}

void set_learning_rates(torch::optim::SGD& optimizer, const std::vector<double>& base_lrs,
                        const std::function<double(double)>& scheduled) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < base_lrs.size() && g < groups.size(); ++g)
    static_cast<torch::optim::SGDOptions&>(groups[g].options()).lr(scheduled(base_lrs[g]));
}

}  // namespace dq
