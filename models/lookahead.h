#pragma once
// The lookahead EMA of the airbench recipes (after hlb-cifar10): an exponential moving average of a
// network's weights and BatchNorm statistics that is copied back into the network each time it is
// updated, as the Lookahead optimiser's slow weights are. Include only from models/*.cpp and the
// LibTorch tests (pulls in LibTorch).
#include <torch/torch.h>

#include <vector>

namespace dq {

class LookaheadEma {
 public:
  // Starts the average at the network's current floating-point parameters and buffers (integer
  // buffers such as BatchNorm's batch counter are left out).
  explicit LookaheadEma(torch::nn::Module& net);
  // average <- decay x average + (1 - decay) x net, then net <- average, for every tensor of the
  // snapshot (decay 1: the network goes back to the average).
  void update(double decay);

 private:
  std::vector<torch::Tensor> net_, average_;
};

}  // namespace dq
