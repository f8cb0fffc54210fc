#include "models/networks.h"

#include <fmt/format.h>

#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hashing.h"
#include "datasets/dataset.h"
#include "models/airbench94.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

namespace nn = torch::nn;

nn::Conv2dOptions conv_options(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false);
}

// Two conv-BN-ReLU-pool blocks and a 128-unit hidden layer (the embedding), then the linear head:
// fast on 2 CPU cores (about half the multiply-adds of a third conv block) and ~90% on Fashion-MNIST
// in a few epochs. Adaptive pooling to 4x4 makes it size-agnostic (28x28, 32x32, ...).
struct SmallCnnImpl : ClassifierImpl {
  nn::Sequential body{nullptr};
  nn::Linear head{nullptr};
  SmallCnnImpl(int64_t channels, int64_t num_classes) {
    body = register_module(
        "body", nn::Sequential(nn::Conv2d(conv_options(channels, 32, 3, 1, 1)), nn::BatchNorm2d(32), nn::ReLU(),
                               nn::MaxPool2d(2), nn::Conv2d(conv_options(32, 64, 3, 1, 1)), nn::BatchNorm2d(64),
                               nn::ReLU(), nn::MaxPool2d(2), nn::AdaptiveAvgPool2d(4), nn::Flatten(),
                               nn::Linear(64 * 16, 128), nn::ReLU()));
    head = register_module("head", nn::Linear(128, num_classes));
  }
  torch::Tensor features(torch::Tensor x) override { return body->forward(x); }
  torch::Tensor classify(torch::Tensor f) override { return head->forward(f); }
  int64_t feature_dim() const override { return 128; }
  // The second conv block's output after its max-pool (8 x 8 at 32 px): the last spatial layer
  // before the fixed 4 x 4 pooling. Body modules [0, kMapEnd) make the map, the rest the embedding.
  static constexpr size_t kMapEnd = 8;
  torch::Tensor feature_map(torch::Tensor x) override {
    size_t i = 0;
    for (auto it = body->begin(); it != body->end() && i < kMapEnd; ++it, ++i) x = it->forward(x);
    return x;
  }
  torch::Tensor classify_map(torch::Tensor a) override {
    size_t i = 0;
    for (auto it = body->begin(); it != body->end(); ++it, ++i)
      if (i >= kMapEnd) a = it->forward(a);
    return head->forward(a);
  }
};

// A residual block's shortcut: identity (an empty Sequential) when the shape is kept, else a strided
// 1x1 convolution and batch norm to `out` channels.
nn::Sequential projection_shortcut(int64_t in, int64_t out, int64_t stride) {
  nn::Sequential shortcut;
  if (stride != 1 || in != out) {
    shortcut->push_back(nn::Conv2d(conv_options(in, out, 1, stride, 0)));
    shortcut->push_back(nn::BatchNorm2d(out));
  }
  return shortcut;
}

struct BasicBlockImpl : nn::Module {
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential shortcut{nullptr};
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", nn::Conv2d(conv_options(in, out, 3, stride, 1)));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    conv2 = register_module("conv2", nn::Conv2d(conv_options(out, out, 3, 1, 1)));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    shortcut = register_module("shortcut", projection_shortcut(in, out, stride));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    return torch::relu(y + (shortcut->is_empty() ? x : shortcut->forward(x)));
  }
};
TORCH_MODULE(BasicBlock);

// torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv), expansion 4.
struct BottleneckImpl : nn::Module {
  static constexpr int64_t kExpansion = 4;
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential shortcut{nullptr};
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
    const int64_t out = planes * kExpansion;
    conv1 = register_module("conv1", nn::Conv2d(conv_options(in, planes, 1, 1, 0)));
    bn1 = register_module("bn1", nn::BatchNorm2d(planes));
    conv2 = register_module("conv2", nn::Conv2d(conv_options(planes, planes, 3, stride, 1)));
    bn2 = register_module("bn2", nn::BatchNorm2d(planes));
    conv3 = register_module("conv3", nn::Conv2d(conv_options(planes, out, 1, 1, 0)));
    bn3 = register_module("bn3", nn::BatchNorm2d(out));
    shortcut = register_module("shortcut", projection_shortcut(in, out, stride));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1->forward(conv1->forward(x)));
    y = torch::relu(bn2->forward(conv2->forward(y)));
    y = bn3->forward(conv3->forward(y));
    return torch::relu(y + (shortcut->is_empty() ? x : shortcut->forward(x)));
  }
};
TORCH_MODULE(Bottleneck);

// ResNet-18 ([2,2,2,2] basic blocks, 512-d) and ResNet-50 ([3,4,6,3] bottlenecks, 2048-d). CIFAR stem
// (3x3 conv, no max-pool) as in DQ's validate_cifar.py; ImageNet stem (7x7 stride 2 + max-pool) as in
// torchvision. Global average pooling, then the linear head.
struct ResNetImpl : ClassifierImpl {
  nn::Sequential stem{nullptr}, layers{nullptr};
  nn::Linear head{nullptr};
  int64_t dim = 0;
  ResNetImpl(int64_t channels, int64_t num_classes, bool imagenet_stem, bool bottleneck) {
    stem = nn::Sequential();
    if (imagenet_stem) {
      stem->push_back(nn::Conv2d(conv_options(channels, 64, 7, 2, 3)));
      stem->push_back(nn::BatchNorm2d(64));
      stem->push_back(nn::ReLU());
      stem->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
    } else {
      stem->push_back(nn::Conv2d(conv_options(channels, 64, 3, 1, 1)));
      stem->push_back(nn::BatchNorm2d(64));
      stem->push_back(nn::ReLU());
    }
    register_module("stem", stem);
    layers = nn::Sequential();
    const std::vector<int64_t> blocks = bottleneck ? std::vector<int64_t>{3, 4, 6, 3} : std::vector<int64_t>{2, 2, 2, 2};
    int64_t in = 64;
    for (size_t stage = 0; stage < 4; ++stage) {
      const int64_t planes = int64_t{64} << stage;
      for (int64_t b = 0; b < blocks[stage]; ++b) {
        const int64_t stride = stage > 0 && b == 0 ? 2 : 1;
        if (bottleneck) {
          layers->push_back(Bottleneck(in, planes, stride));
          in = planes * BottleneckImpl::kExpansion;
        } else {
          layers->push_back(BasicBlock(in, planes, stride));
          in = planes;
        }
      }
    }
    register_module("layers", layers);
    dim = in;
    head = register_module("head", nn::Linear(dim, num_classes));
  }
  torch::Tensor features(torch::Tensor x) override {
    auto y = layers->forward(stem->forward(x));
    return torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
  }
  torch::Tensor classify(torch::Tensor f) override { return head->forward(f); }
  int64_t feature_dim() const override { return dim; }
  torch::Tensor feature_map(torch::Tensor x) override { return layers->forward(stem->forward(x)); }  // layer4
  torch::Tensor classify_map(torch::Tensor a) override {
    return head->forward(torch::adaptive_avg_pool2d(a, {1, 1}).flatten(1));
  }
};

// One pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)) with GELU.
struct VitBlockImpl : nn::Module {
  nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
  int64_t heads;
  VitBlockImpl(int64_t width, int64_t heads_, int64_t mlp) : heads(heads_) {
    norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({width}).eps(1e-6)));
    qkv = register_module("qkv", nn::Linear(width, 3 * width));
    proj = register_module("proj", nn::Linear(width, width));
    norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({width}).eps(1e-6)));
    fc1 = register_module("fc1", nn::Linear(width, mlp));
    fc2 = register_module("fc2", nn::Linear(mlp, width));
  }
  torch::Tensor attention(const torch::Tensor& x) {
    const int64_t b = x.size(0), n = x.size(1), c = x.size(2), d = c / heads;
    auto qkv_t = qkv->forward(x).reshape({b, n, 3, heads, d}).permute({2, 0, 3, 1, 4});  // 3 x B x H x N x D
    auto q = qkv_t[0], k = qkv_t[1], v = qkv_t[2];
    auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(d))), -1);
    return proj->forward(torch::matmul(attn, v).transpose(1, 2).reshape({b, n, c}));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = x + attention(norm1->forward(x));
    return x + fc2->forward(torch::gelu(fc1->forward(norm2->forward(x))));
  }
};
TORCH_MODULE(VitBlock);

struct VitImpl : ClassifierImpl {
  nn::Conv2d patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed;
  nn::Sequential blocks{nullptr};
  nn::LayerNorm norm{nullptr};
  nn::Linear head{nullptr};
  int64_t width;
  VitImpl(const VitConfig& cfg, int64_t channels, int64_t num_classes, int64_t height, int64_t img_width)
      : width(cfg.width) {
    if (height % cfg.patch != 0 || img_width % cfg.patch != 0)
      throw Error(fmt::format("arch vit: the image size {}x{} is not a multiple of the {}-px patch", height, img_width,
                              cfg.patch));
    if (cfg.width % cfg.heads != 0)
      throw Error(fmt::format("arch vit: width {} is not a multiple of {} heads", cfg.width, cfg.heads));
    const int64_t tokens = (height / cfg.patch) * (img_width / cfg.patch);
    patch_embed = register_module(
        "patch_embed", nn::Conv2d(nn::Conv2dOptions(channels, cfg.width, cfg.patch).stride(cfg.patch).bias(true)));
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, cfg.width}));
    pos_embed = register_parameter("pos_embed", torch::zeros({1, tokens + 1, cfg.width}));
    blocks = nn::Sequential();
    for (int64_t i = 0; i < cfg.depth; ++i) blocks->push_back(VitBlock(cfg.width, cfg.heads, cfg.mlp));
    register_module("blocks", blocks);
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({cfg.width}).eps(1e-6)));
    head = register_module("head", nn::Linear(cfg.width, num_classes));
    // timm's initialisation in spirit: small normal weights for the linears and the position embedding.
    torch::NoGradGuard no_grad;
    pos_embed.normal_(0, 0.02);
    cls_token.normal_(0, 1e-6);
    for (auto& m : modules(false))
      if (auto* lin = m->as<nn::Linear>()) {
        lin->weight.normal_(0, 0.02);
        lin->bias.zero_();
      }
  }
  torch::Tensor features(torch::Tensor x) override {
    auto t = patch_embed->forward(x).flatten(2).transpose(1, 2);  // B x tokens x width
    t = torch::cat({cls_token.expand({t.size(0), -1, -1}), t}, 1) + pos_embed;
    t = norm->forward(blocks->forward(t));
    return t.select(1, 0);
  }
  torch::Tensor classify(torch::Tensor f) override { return head->forward(f); }
  int64_t feature_dim() const override { return width; }
};

}  // namespace

torch::Tensor ClassifierImpl::feature_map(torch::Tensor) {
  throw Error("this network has no spatial feature map for GradCAM++ (small_cnn, airbench94 and the resnet variants "
              "have one)");
}
torch::Tensor ClassifierImpl::classify_map(torch::Tensor) {
  throw Error("this network has no spatial feature map for GradCAM++ (small_cnn, airbench94 and the resnet variants "
              "have one)");
}

std::shared_ptr<ClassifierImpl> make_vit(const VitConfig& config, int64_t channels, int64_t num_classes,
                                         int64_t height, int64_t width) {
  return std::make_shared<VitImpl>(config, channels, num_classes, height, width);
}

std::shared_ptr<ClassifierImpl> make_classifier(Arch arch, int64_t channels, int64_t num_classes, int64_t height,
                                                int64_t width) {
  switch (arch) {
    case Arch::SmallCnn: return std::make_shared<SmallCnnImpl>(channels, num_classes);
    case Arch::ResNet18: return std::make_shared<ResNetImpl>(channels, num_classes, false, false);
    case Arch::ResNet18ImageNet: return std::make_shared<ResNetImpl>(channels, num_classes, true, false);
    case Arch::ResNet50: return std::make_shared<ResNetImpl>(channels, num_classes, false, true);
    case Arch::ResNet50ImageNet: return std::make_shared<ResNetImpl>(channels, num_classes, true, true);
    case Arch::Vit: return make_vit(VitConfig{}, channels, num_classes, height, width);
    case Arch::Airbench94: return make_airbench94(channels, num_classes, height, width);
  }
  DQ_ASSERT(false, "unhandled arch");
  return nullptr;
}

std::shared_ptr<ClassifierImpl> make_classifier(const std::string& arch, int64_t channels, int64_t num_classes,
                                                int64_t height, int64_t width) {
  return make_classifier(parse_arch(arch, "network"), channels, num_classes, height, width);
}

int64_t count_parameters(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

NetworkInfo describe_network(Arch arch, int64_t channels, int64_t height, int64_t width, int64_t num_classes) {
  auto net = make_classifier(arch, channels, num_classes, height, width);
  return {arch_name(arch), net->feature_dim(), count_parameters(*net)};
}

namespace {

// Index `i` of a padded axis of length `n` mirrored into [0, n) without repeating the edge (-1 -> 1).
int64_t reflect_index(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// One image with reflect padding: dst[c][y][x] = src[c][r(y + dy - pad)][r(x' + dx - pad)].
void normalise_crop_flip_reflect(const uint8_t* src, int64_t c, int64_t h, int64_t w, const CropFlip& cf,
                                 const float* scale, const float* shift, float* dst) {
  for (int64_t ch = 0; ch < c; ++ch) {
    const uint8_t* plane = src + ch * h * w;
    float* out = dst + ch * h * w;
    const float a = scale[ch], b = shift[ch];
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t* srow = plane + reflect_index(y + cf.dy - cf.pad, h) * w;
      float* row = out + y * w;
      for (int64_t x = 0; x < w; ++x)
        row[x] = a * static_cast<float>(srow[reflect_index((cf.flip ? w - 1 - x : x) + cf.dx - cf.pad, w)]) + b;
    }
  }
}

// One image: dst[c][y][x] = src_padded[c][y + dy][x + dx] (flipped in x when asked), normalised.
void normalise_crop_flip(const uint8_t* src, int64_t c, int64_t h, int64_t w, const CropFlip& cf, const float* scale,
                         const float* shift, float* dst) {
  if (cf.reflect) return normalise_crop_flip_reflect(src, c, h, w, cf, scale, shift, dst);
  for (int64_t ch = 0; ch < c; ++ch) {
    const uint8_t* plane = src + ch * h * w;
    float* out = dst + ch * h * w;
    const float a = scale[ch], b = shift[ch];
    for (int64_t y = 0; y < h; ++y) {
      const int64_t sy = y + cf.dy - cf.pad;
      float* row = out + y * w;
      if (sy < 0 || sy >= h) {
        std::fill(row, row + w, b);  // black padding
        continue;
      }
      const uint8_t* srow = plane + sy * w;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sx = (cf.flip ? w - 1 - x : x) + cf.dx - cf.pad;
        row[x] = sx >= 0 && sx < w ? a * static_cast<float>(srow[sx]) + b : b;
      }
    }
  }
}

}  // namespace

void normalization_affine(const Normalization& norm, int64_t c, std::vector<float>& scale, std::vector<float>& shift) {
  DQ_ASSERT(static_cast<int64_t>(norm.mean.size()) == c && static_cast<int64_t>(norm.stddev.size()) == c,
            "normalisation has the wrong channel count");
  scale.resize(static_cast<size_t>(c));
  shift.resize(static_cast<size_t>(c));
  for (size_t i = 0; i < scale.size(); ++i) {
    scale[i] = 1.0f / (255.0f * norm.stddev[i]);
    shift[i] = -norm.mean[i] / norm.stddev[i];
  }
}

Normalization normalization_for(Normalize kind, const ImageSet& images) {
  Normalization n;
  const auto constants = [&](std::vector<float> mean, std::vector<float> stddev, const char* name) {
    if (images.channels != 3)
      throw Error(fmt::format("normalize: {} needs 3-channel images, these have {}", name, images.channels));
    n.mean = std::move(mean);
    n.stddev = std::move(stddev);
  };
  switch (kind) {
    case Normalize::Dataset:
      channel_statistics(images.pixels.data(), images.n, images.channels, images.height * images.width, n.mean, n.stddev);
      break;
    case Normalize::Cifar: constants({0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}, "cifar"); break;
    case Normalize::ImageNet: constants({0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, "imagenet"); break;
    case Normalize::Cifar10: constants({0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, "cifar10"); break;
    case Normalize::None:
      n.mean.assign(static_cast<size_t>(images.channels), 0.f);
      n.stddev.assign(static_cast<size_t>(images.channels), 1.f);
      break;
  }
  return n;
}

void gather_images(const ImageSet& images, const int64_t* ids, int64_t count, const Normalization& norm,
                   const CropFlip* crops, float* out) {
  std::vector<float> scale, shift;
  normalization_affine(norm, images.channels, scale, shift);
  const int64_t bytes = images.image_bytes();
  for (int64_t k = 0; k < count; ++k)
    normalise_crop_flip(images.image(ids[k]), images.channels, images.height, images.width, crops ? crops[k] : CropFlip{},
                        scale.data(), shift.data(), out + k * bytes);
}

torch::Tensor images_to_tensor(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const Normalization& norm) {
  std::vector<float> scale, shift;
  normalization_affine(norm, c, scale, shift);
  auto t = torch::empty({count, c, h, w}, torch::kFloat32);
  float* out = t.data_ptr<float>();
  const int64_t bytes = c * h * w;
  for (int64_t k = 0; k < count; ++k)
    normalise_crop_flip(pixels + k * bytes, c, h, w, CropFlip{}, scale.data(), shift.data(), out + k * bytes);
  return t;
}

void channel_statistics(const uint8_t* pixels, int64_t n, int64_t c, int64_t hw, std::vector<float>& mean,
                        std::vector<float>& stddev) {
  mean.assign(static_cast<size_t>(c), 0.f);
  stddev.assign(static_cast<size_t>(c), 1.f);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = pixels + (i * c + ch) * hw;
      for (int64_t k = 0; k < hw; ++k) {
        const double v = p[k] / 255.0;
        sum += v;
        sq += v * v;
      }
    }
    const double count = static_cast<double>(n * hw);
    const double mu = count > 0 ? sum / count : 0;
    const double var = count > 0 ? sq / count - mu * mu : 1;
    mean[static_cast<size_t>(ch)] = static_cast<float>(mu);
    stddev[static_cast<size_t>(ch)] = static_cast<float>(std::sqrt(std::max(var, 1e-6)));
  }
}

std::string write_archive_cache(torch::serialize::OutputArchive& archive, const std::string& path, const std::string& what) {
  std::ostringstream out;
  archive.save_to(out);
  const std::string data = out.str();
  if (!path.empty())
    write_cache_file(path, what, [&](AtomicFileWriter& file) { file.write(data.data(), data.size()); });
  return sha256_hex(data);
}

std::string read_archive_cache(torch::serialize::InputArchive& archive, const std::string& path) {
  std::vector<uint8_t> bytes;
  read_file_bytes(path, bytes);
  const std::string data(bytes.begin(), bytes.end());
  std::istringstream in(data);
  archive.load_from(in);
  return sha256_hex(data);
}

}  // namespace dq
