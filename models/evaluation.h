#pragma once
// Test-split evaluation of a classifier: plain top-1 and top-1 with test-time augmentation (the
// airbench recipes' levels), from one pass over the test images. Include only from models/*.cpp and
// the LibTorch tests (pulls in LibTorch).
#include <torch/torch.h>

#include "models/models.h"
#include "models/networks.h"

namespace dq {

// Logits of `model` (eval mode) for normalised images `x` (N x C x H x W) under test-time
// augmentation, with f(v) the logits of view v as float32:
//   level 0: f(x);
//   level 1 (mirror): m(x) = (f(x) + f(flip(x))) / 2;
//   level 2 (mirror + translate): m(x) / 2 + (m(t1) + m(t2)) / 4, t1 and t2 the image shifted by one
//   pixel down-right and up-left (reflect padding, i.e. the 1-px reflect-padded image cropped at its
//   top-left and bottom-right corners).
// `plain`, when given, receives f(x) (the first view: plain inference costs nothing extra).
// Runs inside the recipe's precision and layout (models/compute_mode.h).
torch::Tensor tta_logits(ClassifierImpl& model, const torch::Tensor& x, int64_t level, const ComputeOptions& compute,
                         torch::Device device, torch::Tensor* plain = nullptr);

struct EvalResult {
  double top1 = 0;       // plain inference, in [0, 1]
  double top1_tta = -1;  // with test-time augmentation at `level` (-1 for level 0)
};

// Evaluates `model` on the whole `test` split (eval mode, no grad, batches of 128).
EvalResult evaluate(ClassifierImpl& model, const ImageSet& test, const Normalization& norm, torch::Device device,
                    int64_t tta_level, const ComputeOptions& compute);

}  // namespace dq
