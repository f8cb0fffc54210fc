#include "models/lookahead.h"

namespace dq {

LookaheadEma::LookaheadEma(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  const auto keep = [&](const torch::Tensor& t) {
    if (!t.defined() || !t.is_floating_point()) return;
    net_.push_back(t);
    average_.push_back(t.detach().clone());
  };
  for (const auto& p : net.parameters()) keep(p);
  for (const auto& b : net.buffers()) keep(b);
}

void LookaheadEma::update(double decay) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < net_.size(); ++i) {
    average_[i].lerp_(net_[i], 1.0 - decay);
    net_[i].copy_(average_[i]);
  }
}

}  // namespace dq
