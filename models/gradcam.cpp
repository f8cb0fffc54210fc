#include "models/gradcam.h"

#include "core/error.h"

namespace dq {

torch::Tensor gradcampp(const torch::Tensor& a, const torch::Tensor& scores, const torch::Tensor& target,
                        int64_t rows, int64_t cols) {
  DQ_ASSERT(a.dim() == 4 && scores.dim() == 2 && a.size(0) == scores.size(0), "GradCAM++ needs N x K x h x w and N x C");
  // Images are independent: the gradient of the summed target scores gives each image its own g.
  const torch::Tensor y = scores.gather(1, target.to(torch::kLong).view({-1, 1})).sum();
  // In float32 from here on, whatever precision the network ran in (bf16 autocast on a GPU).
  const torch::Tensor g = torch::autograd::grad({y}, {a}, /*grad_outputs=*/{}, /*retain_graph=*/false)[0].detach().to(torch::kFloat32);
  const torch::Tensor act = a.detach().to(torch::kFloat32);
  const torch::Tensor g2 = g * g, g3 = g2 * g;
  const torch::Tensor denom = 2 * g2 + (act * g3).sum({2, 3}, /*keepdim=*/true);
  const torch::Tensor alpha = torch::where(denom != 0, g2 / torch::where(denom != 0, denom, torch::ones_like(denom)),
                                           torch::zeros_like(denom));
  const torch::Tensor w = (alpha * torch::relu(g)).sum({2, 3}, /*keepdim=*/true);
  torch::Tensor cam = torch::relu((w * act).sum(1, /*keepdim=*/true));  // N x 1 x h x w
  const auto flat = cam.flatten(1);
  const auto lo = std::get<0>(flat.min(1, true)).view({-1, 1, 1, 1});
  const auto hi = std::get<0>(flat.max(1, true)).view({-1, 1, 1, 1});
  const auto range = hi - lo;
  cam = torch::where(range > 0, (cam - lo) / torch::where(range > 0, range, torch::ones_like(range)),
                     torch::zeros_like(cam));
  if (cam.size(2) != rows || cam.size(3) != cols)
    cam = torch::nn::functional::interpolate(
        cam, torch::nn::functional::InterpolateFuncOptions()
                 .size(std::vector<int64_t>{rows, cols})
                 .mode(torch::kBilinear)
                 .align_corners(false));
  return cam.squeeze(1).to(torch::kFloat32).contiguous();
}

}  // namespace dq
