#pragma once
// GradCAM++ (Chattopadhay et al., WACV 2018) as DQ's patch ranking uses it (methods-spec 2.3): include
// only from models/*.cpp (pulls in LibTorch).
#include <torch/torch.h>

namespace dq {

// Class activation maps from a last spatial activation `a` (N x K x h x w, part of the autograd graph)
// and class scores `scores` (N x classes) computed from it, for class `target[n]` of each image:
//   g = dy/dA,  alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)  (0 where the denominator is 0),
//   w_k = sum_ij alpha_ij relu(g_ij),  CAM = relu(sum_k w_k A^k),
// each map min-max normalised to [0, 1] (all zeros when flat), then bilinearly resized to
// rows x cols (align_corners = false). `a` and `scores` may be bfloat16 (autocast): the map is
// computed in float32. Returns N x rows x cols, float32, without grad.
torch::Tensor gradcampp(const torch::Tensor& a, const torch::Tensor& scores, const torch::Tensor& target,
                        int64_t rows, int64_t cols);

}  // namespace dq
