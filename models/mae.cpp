// A small ViT masked autoencoder for the patch grid (He et al., CVPR 2022), trained in-project, and
// the loader for a user's TorchScript MAE. The encoder sees only the kept tokens (dropped ones are
// masked out of attention as keys, so kept tokens never read them), the decoder predicts the pixels
// of every patch from the encoded kept tokens plus a shared mask token.
#include "models/mae.h"

#include <fmt/format.h>
#include <torch/script.h>


#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/code_identity.h"
#include "core/error.h"
#include "core/hashing.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "models/compute_mode.h"
#include "models/device_batch.h"
#include "models/networks.h"

namespace dq {
namespace {

namespace nn = torch::nn;

// Fixed 2-D sin-cos position embedding (MAE's), rows*cols x dim.
torch::Tensor sincos_2d(int64_t rows, int64_t cols, int64_t dim) {
  DQ_ASSERT(dim % 4 == 0, "position embedding width must be a multiple of 4");
  const int64_t q = dim / 4;
  auto omega = torch::arange(q, torch::kFloat64).div(q);
  omega = 1.0 / torch::pow(10000.0, omega);
  auto ys = torch::arange(rows, torch::kFloat64).repeat_interleave(cols);
  auto xs = torch::arange(cols, torch::kFloat64).repeat({rows});
  auto oy = torch::outer(ys, omega), ox = torch::outer(xs, omega);
  return torch::cat({torch::sin(oy), torch::cos(oy), torch::sin(ox), torch::cos(ox)}, 1).to(torch::kFloat32);
}

// Pre-norm transformer block with an optional key mask (true = this key may be attended to).
struct BlockImpl : nn::Module {
  nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
  int64_t heads;
  BlockImpl(int64_t dim, int64_t heads_) : heads(heads_) {
    ln1 = register_module("ln1", nn::LayerNorm(nn::LayerNormOptions({dim})));
    qkv = register_module("qkv", nn::Linear(dim, 3 * dim));
    proj = register_module("proj", nn::Linear(dim, dim));
    ln2 = register_module("ln2", nn::LayerNorm(nn::LayerNormOptions({dim})));
    fc1 = register_module("fc1", nn::Linear(dim, 4 * dim));
    fc2 = register_module("fc2", nn::Linear(4 * dim, dim));
  }
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& key_ok) {
    const int64_t n = x.size(0), l = x.size(1), d = x.size(2), dh = d / heads;
    auto h = ln1->forward(x);
    auto t = qkv->forward(h).view({n, l, 3, heads, dh}).permute({2, 0, 3, 1, 4});  // 3 x n x heads x l x dh
    auto att = torch::matmul(t[0], t[1].transpose(-2, -1)) / std::sqrt(static_cast<double>(dh));
    if (key_ok.defined()) att = att.masked_fill(key_ok.logical_not().view({n, 1, 1, l}), -1e9);
    auto y = torch::matmul(torch::softmax(att, -1), t[2]).transpose(1, 2).reshape({n, l, d});
    x = x + proj->forward(y);
    return x + fc2->forward(torch::gelu(fc1->forward(ln2->forward(x))));
  }
};
TORCH_MODULE(Block);

struct MaeConfig {
  int64_t channels, patch, rows, cols, dim, depth, decoder_dim, decoder_depth, heads;
  int64_t tokens() const { return rows * cols; }
  int64_t patch_values() const { return channels * patch * patch; }
};

struct MaeNetImpl : nn::Module {
  MaeConfig c;
  nn::Linear embed{nullptr}, to_decoder{nullptr}, predict{nullptr};
  nn::ModuleList encoder{nullptr}, decoder{nullptr};
  nn::LayerNorm enc_norm{nullptr}, dec_norm{nullptr};
  torch::Tensor cls, mask_token, pos, dec_pos;
  explicit MaeNetImpl(const MaeConfig& config) : c(config) {
    embed = register_module("embed", nn::Linear(c.patch_values(), c.dim));
    cls = register_parameter("cls", torch::randn({1, 1, c.dim}) * 0.02);
    mask_token = register_parameter("mask_token", torch::randn({1, 1, c.decoder_dim}) * 0.02);
    pos = register_buffer("pos", sincos_2d(c.rows, c.cols, c.dim).unsqueeze(0));
    dec_pos = register_buffer("dec_pos", sincos_2d(c.rows, c.cols, c.decoder_dim).unsqueeze(0));
    encoder = register_module("encoder", nn::ModuleList());
    for (int64_t i = 0; i < c.depth; ++i) encoder->push_back(Block(c.dim, c.heads));
    enc_norm = register_module("enc_norm", nn::LayerNorm(nn::LayerNormOptions({c.dim})));
    to_decoder = register_module("to_decoder", nn::Linear(c.dim, c.decoder_dim));
    decoder = register_module("decoder", nn::ModuleList());
    for (int64_t i = 0; i < c.decoder_depth; ++i) decoder->push_back(Block(c.decoder_dim, c.heads));
    dec_norm = register_module("dec_norm", nn::LayerNorm(nn::LayerNormOptions({c.decoder_dim})));
    predict = register_module("predict", nn::Linear(c.decoder_dim, c.patch_values()));
  }
  // N x C x H x W -> N x L x (C p p), patch-major, channel-major inside a patch.
  torch::Tensor patchify(const torch::Tensor& x) const {
    const int64_t n = x.size(0);
    return x.view({n, c.channels, c.rows, c.patch, c.cols, c.patch})
        .permute({0, 2, 4, 1, 3, 5})
        .reshape({n, c.tokens(), c.patch_values()});
  }
  torch::Tensor unpatchify(const torch::Tensor& t) const {
    const int64_t n = t.size(0);
    return t.view({n, c.rows, c.cols, c.channels, c.patch, c.patch})
        .permute({0, 3, 1, 4, 2, 5})
        .reshape({n, c.channels, c.rows * c.patch, c.cols * c.patch});
  }
  // x: normalised images; kept: N x L bool. Returns predicted patches N x L x (C p p).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& kept) {
    const int64_t n = x.size(0);
    auto tok = embed->forward(patchify(x)) + pos;
    tok = torch::cat({cls.expand({n, 1, c.dim}), tok}, 1);
    const auto key_ok = torch::cat({torch::ones({n, 1}, kept.options()), kept}, 1);
    for (auto& b : *encoder) tok = b->as<BlockImpl>()->forward(tok, key_ok);
    tok = to_decoder->forward(enc_norm->forward(tok));
    auto body = tok.slice(1, 1);
    body = torch::where(kept.unsqueeze(-1), body, mask_token.expand_as(body)) + dec_pos;
    tok = torch::cat({tok.slice(1, 0, 1), body}, 1);
    for (auto& b : *decoder) tok = b->as<BlockImpl>()->forward(tok, torch::Tensor());
    return predict->forward(dec_norm->forward(tok)).slice(1, 1);
  }
};
TORCH_MODULE(MaeNet);

// patches.precision: the MAE's forward passes in fp32 or under bf16 autocast.
ComputeOptions mae_compute(const PatchOptions& p) {
  ComputeOptions c;
  c.precision = p.precision == PatchPrecision::Bf16 ? Precision::Bf16 : Precision::Fp32;
  return c;
}

MaeConfig config_from(const Dataset& dataset, const MaeOptions& m, const PatchGrid& grid) {
  MaeConfig c{dataset.train.channels, grid.patch, grid.rows, grid.cols, m.dim, m.depth, m.decoder_dim, m.decoder_depth,
              m.heads};
  check_mae_widths(m, [](const std::string&) { return std::string(); });
  return c;
}

// Random masks keeping `keep` of L tokens per row, from a seeded generator.
torch::Tensor random_kept(int64_t n, int64_t l, int64_t keep, torch::Generator& gen) {
  const auto noise = torch::rand({n, l}, gen);
  const auto order = noise.argsort(/*dim=*/1, /*descending=*/false);
  auto kept = torch::zeros({n, l}, torch::kBool);
  kept.scatter_(1, order.slice(1, 0, keep), true);
  return kept;
}

class InProjectMae final : public MaeReconstructor {
 public:
  InProjectMae(const Dataset& dataset, const PatchOptions& p, const PatchGrid& grid, const std::string& cache_dir,
               const ProgressFn& progress, torch::Device device)
      : c_(config_from(dataset, p.mae, grid)), net_(c_), device_(device), compute_(mae_compute(p)) {
    channel_statistics(dataset.train.pixels.data(), dataset.train.n, dataset.train.channels,
                       dataset.train.height * dataset.train.width, mean_, stddev_);
    std::string path;
    artefact_.kind = "mae";
    artefact_.key = mae_cache_key(dataset, p, grid);
    if (!cache_dir.empty()) {
      const auto dir = std::filesystem::path(cache_dir) / "mae";
      std::filesystem::create_directories(dir);
      path = (dir / (artefact_.key + ".pt")).string();
    }
    torch::manual_seed(static_cast<uint64_t>(p.mae.seed));
    net_ = MaeNet(c_);
    if (!path.empty() && std::filesystem::exists(path)) {
      try {
        torch::serialize::InputArchive archive;
        artefact_.sha256 = read_archive_cache(archive, path);
        net_->load(archive);
        torch::Tensor meta;
        archive.read("dq_meta", meta);
        metrics_["mae_train_seconds"] = meta[0].item<double>();
        metrics_["mae_recon_mse"] = meta[1].item<double>();
        metrics_["mae_mean_fill_mse"] = meta[2].item<double>();
        metrics_["mae_from_cache"] = 1;
        artefact_.from_cache = true;
        artefact_.bytes = static_cast<int64_t>(std::filesystem::file_size(path));
        if (progress) progress(fmt::format("MAE from cache {}", path));
      } catch (const c10::Error&) {
        if (progress) progress(fmt::format("MAE cache {} is damaged: retraining", path));
        metrics_.clear();
        torch::manual_seed(static_cast<uint64_t>(p.mae.seed));
        net_ = MaeNet(c_);
      }
    }
    net_->to(device_);
    if (metrics_.empty()) {
      train(dataset, p.mae, progress);
      torch::serialize::OutputArchive archive;
      net_->to(torch::kCPU);  // the cache file holds CPU tensors, loadable on any machine
      net_->save(archive);
      net_->to(device_);
      archive.write("dq_meta", torch::tensor({metrics_["mae_train_seconds"], metrics_["mae_recon_mse"],
                                              metrics_["mae_mean_fill_mse"]}, torch::kFloat64));
      artefact_.sha256 = write_archive_cache(archive, path, "MAE");  // a failed cache write is a warning
      std::error_code ec;
      if (!path.empty()) artefact_.bytes = static_cast<int64_t>(std::filesystem::file_size(path, ec));
      metrics_["mae_from_cache"] = 0;
    }
    net_->eval();
  }

  void reconstruct(uint8_t* images, int64_t n, std::span<const uint8_t> masks) override {
    torch::NoGradGuard no_grad;
    const torch::Tensor x = images_to_device(images, n, c_.channels, c_.rows * c_.patch, c_.cols * c_.patch,
                                             Normalization{mean_, stddev_}, device_);
    const torch::Tensor kept = staged_to_device(
        torch::from_blob(const_cast<uint8_t*>(masks.data()), {n, c_.tokens()}, torch::kUInt8).to(torch::kBool), device_);
    torch::Tensor pred;
    {
      AutocastGuard autocast(compute_, device_);
      pred = net_->forward(x, kept);
    }
    paste_predictions(images, n, masks, net_->unpatchify(pred.to(torch::kFloat32)).to(torch::kCPU));
  }

  std::map<std::string, double> metrics() const override { return metrics_; }
  ArtefactUse artefact() const override { return artefact_; }

 private:
  ArtefactUse artefact_;
  // Writes de-normalised predictions (rounded bytes) into the dropped patches only.
  void paste_predictions(uint8_t* images, int64_t n, std::span<const uint8_t> masks, const torch::Tensor& pred) {
    auto m = torch::from_blob(mean_.data(), {1, c_.channels, 1, 1});
    auto s = torch::from_blob(stddev_.data(), {1, c_.channels, 1, 1});
    const torch::Tensor bytes =
        (pred * s + m).mul(255.0).round().clamp(0, 255).to(torch::kUInt8).contiguous();
    const uint8_t* src = bytes.data_ptr<uint8_t>();
    const int64_t h = c_.rows * c_.patch, w = c_.cols * c_.patch, img = c_.channels * h * w;
    const PatchGrid grid{c_.rows, c_.cols, c_.patch};
    for (int64_t i = 0; i < n; ++i)
      copy_dropped_patches(images + i * img, src + i * img, c_.channels, h, w, grid,
                           masks.subspan(static_cast<size_t>(i * c_.tokens()), static_cast<size_t>(c_.tokens())));
  }

  void train(const Dataset& dataset, const MaeOptions& m, const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    const ImageSet& train = dataset.train;
    const int64_t n = m.train_samples > 0 ? std::min(train.n, m.train_samples) : train.n;
    const int64_t batch = m.batch, epochs = m.epochs;
    const int64_t keep = std::max<int64_t>(1, c_.tokens() - std::llround(m.mask_ratio * c_.tokens()));
    torch::optim::AdamW opt(net_->parameters(), torch::optim::AdamWOptions(m.lr).weight_decay(0.05));
    auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(m.seed));
    Rng order_rng(derive_seed(static_cast<uint64_t>(m.seed), "mae-order"));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const int64_t steps_per_epoch = (n + batch - 1) / batch, total = steps_per_epoch * epochs;
    int64_t step = 0;
    net_->train();
    double last = 0;
    for (int64_t e = 0; e < epochs; ++e) {
      for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[order_rng.uniform_below(static_cast<uint64_t>(i + 1))]);
      // The loss is summed on the device and read once per epoch: no host sync per step on a GPU.
      auto sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
      for (int64_t start = 0; start < n; start += batch, ++step) {
        const int64_t count = std::min(batch, n - start);
        std::vector<uint8_t> pixels(static_cast<size_t>(count * train.image_bytes()));
        for (int64_t i = 0; i < count; ++i)
          std::copy_n(train.image(order[start + i]), train.image_bytes(), pixels.data() + i * train.image_bytes());
        const auto x = images_to_device(pixels.data(), count, c_.channels, train.height, train.width,
                                        Normalization{mean_, stddev_}, device_);
        const auto kept = staged_to_device(random_kept(count, c_.tokens(), keep, gen), device_);
        const double lr = m.lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / total));
        for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        torch::Tensor pred;
        {
          AutocastGuard autocast(compute_, device_);  // the forward pass; the loss in float32
          pred = net_->forward(x, kept);
        }
        const auto loss = masked_mse(pred.to(torch::kFloat32), net_->patchify(x), kept);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sum += loss.detach().to(torch::kFloat64) * static_cast<double>(count);
      }
      last = sum.item<double>() / static_cast<double>(n);
      if (progress) progress(fmt::format("MAE epoch {}/{}: masked-patch MSE {:.4f} (normalised units)", e + 1, epochs, last));
    }
    metrics_["mae_train_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics_["mae_train_loss"] = last;
    evaluate(dataset, keep, m);
  }

  static torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& kept) {
    const auto dropped = kept.logical_not().unsqueeze(-1).to(torch::kFloat32);
    return ((pred - target).pow(2) * dropped).sum() / (dropped.sum() * pred.size(2)).clamp_min(1);
  }

  // Reconstruction error on up to 512 test images (train images when there is no test split), in
  // [0,1] pixel units over the dropped pixels, beside the error of the mean fill on the same masks.
  void evaluate(const Dataset& dataset, int64_t keep, const MaeOptions& m) {
    net_->eval();
    torch::NoGradGuard no_grad;
    const ImageSet& set = dataset.test.n > 0 ? dataset.test : dataset.train;
    const int64_t n = std::min<int64_t>(512, set.n);
    auto gen = at::detail::createCPUGenerator(derive_seed(static_cast<uint64_t>(m.seed), "mae-eval"));
    const auto kept = random_kept(n, c_.tokens(), keep, gen);
    std::vector<uint8_t> pixels(set.image(0), set.image(0) + n * set.image_bytes());
    const std::vector<uint8_t> original = pixels;
    std::vector<uint8_t> masks(static_cast<size_t>(n * c_.tokens()));
    const auto kb = kept.to(torch::kUInt8).contiguous();
    std::copy_n(kb.data_ptr<uint8_t>(), masks.size(), masks.data());
    reconstruct_batched(pixels.data(), n, masks);
    std::vector<uint8_t> fill(static_cast<size_t>(c_.channels));
    for (size_t ch = 0; ch < fill.size(); ++ch) fill[ch] = static_cast<uint8_t>(std::lround(mean_[ch] * 255));
    double mae_err = 0, mean_err = 0, count = 0;
    const PatchGrid grid{c_.rows, c_.cols, c_.patch};
    for (int64_t i = 0; i < n; ++i) {
      std::vector<uint8_t> filled(original.begin() + i * set.image_bytes(), original.begin() + (i + 1) * set.image_bytes());
      fill_dropped_patches(filled.data(), set.channels, set.height, set.width, grid,
                           std::span(masks).subspan(static_cast<size_t>(i * c_.tokens()), static_cast<size_t>(c_.tokens())), fill);
      for (int64_t k = 0; k < set.image_bytes(); ++k) {
        const int64_t t = ((k % (set.height * set.width)) / set.width / c_.patch) * c_.cols +
                          (k % set.width) / c_.patch;
        if (masks[static_cast<size_t>(i * c_.tokens() + t)]) continue;
        const double o = original[static_cast<size_t>(i * set.image_bytes() + k)] / 255.0;
        const double r = pixels[static_cast<size_t>(i * set.image_bytes() + k)] / 255.0;
        mae_err += (o - r) * (o - r);
        mean_err += (o - filled[static_cast<size_t>(k)] / 255.0) * (o - filled[static_cast<size_t>(k)] / 255.0);
        count += 1;
      }
    }
    metrics_["mae_recon_mse"] = count > 0 ? mae_err / count : 0;
    metrics_["mae_mean_fill_mse"] = count > 0 ? mean_err / count : 0;
  }

  void reconstruct_batched(uint8_t* images, int64_t n, std::span<const uint8_t> masks) {
    const int64_t bytes = c_.channels * c_.rows * c_.patch * c_.cols * c_.patch;
    for (int64_t s = 0; s < n; s += 128) {
      const int64_t count = std::min<int64_t>(128, n - s);
      reconstruct(images + s * bytes, count, masks.subspan(static_cast<size_t>(s * c_.tokens()), static_cast<size_t>(count * c_.tokens())));
    }
  }

  MaeConfig c_;
  MaeNet net_;
  torch::Device device_;
  ComputeOptions compute_;
  std::vector<float> mean_, stddev_;
  std::map<std::string, double> metrics_;
};

// A user's TorchScript MAE (scripts/export_mae.py writes the paper's ViT-L in this interface). It must
// return the kept pixels as it got them: a file that changes any is refused, with the count.
class ScriptMae final : public MaeReconstructor {
 public:
  ScriptMae(const std::string& path, const Dataset& dataset, const PatchGrid& grid, torch::Device device,
            const ComputeOptions& compute)
      : grid_(grid), channels_(dataset.train.channels), device_(device), compute_(compute), path_(path) {
    try {
      module_ = torch::jit::load(path, device);
    } catch (const c10::Error& e) {
      throw Error(fmt::format("patches.mae_path: cannot load TorchScript MAE '{}': {}", path, e.what_without_backtrace()));
    }
    module_.eval();
    const std::string sha = sha256_file_hex(path);
    artefact_ = {.kind = "mae", .key = sha256_hex("torchscript|" + sha), .sha256 = sha,
                 .bytes = static_cast<int64_t>(std::filesystem::file_size(path)), .from_cache = false};
  }
  void reconstruct(uint8_t* images, int64_t n, std::span<const uint8_t> masks) override {
    torch::NoGradGuard no_grad;
    const int64_t h = grid_.rows * grid_.patch, w = grid_.cols * grid_.patch;
    const std::vector<float> zero(static_cast<size_t>(channels_), 0.f), one(static_cast<size_t>(channels_), 1.f);
    const auto x = images_to_device(images, n, channels_, h, w, Normalization{zero, one}, device_);
    const auto m = torch::from_blob(const_cast<uint8_t*>(masks.data()), {n, grid_.count()}, torch::kUInt8).to(torch::kFloat32);
    torch::Tensor y;
    try {
      AutocastGuard autocast(compute_, device_);  // the kept-pixel check below holds either way
      y = module_.forward({x, staged_to_device(m, device_)}).toTensor();
    } catch (const c10::Error& e) {
      throw Error(fmt::format("patches.mae_path '{}': forward(images, mask) failed: {}", path_, e.what_without_backtrace()));
    }
    if (y.sizes() != x.sizes())
      throw Error(fmt::format("patches.mae_path '{}': forward returned shape {}, expected {}", path_,
                              fmt::join(y.sizes(), "x"), fmt::join(x.sizes(), "x")));
    const auto bytes = y.to(torch::kCPU).to(torch::kFloat32).mul(255.0).round().clamp(0, 255).to(torch::kUInt8).contiguous();
    const auto original = torch::from_blob(images, {n, channels_, h, w}, torch::kUInt8);
    const auto kept = m.to(torch::kBool).view({n, 1, grid_.rows, grid_.cols})
                          .repeat_interleave(grid_.patch, 2).repeat_interleave(grid_.patch, 3).expand({n, channels_, h, w});
    const int64_t changed = bytes.ne(original).logical_and(kept).sum().item<int64_t>();
    if (changed > 0)
      throw Error(fmt::format("patches.mae_path '{}': the MAE changed {} of the {} kept pixel values in a batch of {} "
                              "images; kept patches must come back bit-identical (return the input where the mask "
                              "is 1, as scripts/export_mae.py does)",
                              path_, changed, kept.sum().item<int64_t>(), n));
    const uint8_t* src = bytes.data_ptr<uint8_t>();
    const int64_t img = channels_ * h * w;
    for (int64_t i = 0; i < n; ++i)
      copy_dropped_patches(images + i * img, src + i * img, channels_, h, w, grid_,
                           masks.subspan(static_cast<size_t>(i * grid_.count()), static_cast<size_t>(grid_.count())));
  }
  std::map<std::string, double> metrics() const override { return {{"mae_torchscript", 1}}; }
  ArtefactUse artefact() const override { return artefact_; }

 private:
  ArtefactUse artefact_;
  PatchGrid grid_;
  int64_t channels_ = 0;
  torch::Device device_;
  ComputeOptions compute_;
  torch::jit::script::Module module_;
  std::string path_;
};

}  // namespace

std::string mae_cache_key(const Dataset& dataset, const PatchOptions& p, const PatchGrid& grid) {
  std::string id = "mae|dataset:" + dataset_identity(dataset) + "|code:" + code_identity(Producer::Mae) +
                   fmt::format("|grid:{}x{}x{}", grid.rows, grid.cols, grid.patch);
  const Params named = patch_params(p);  // the mae_* keys and values, as the section gives them
  for (const auto& [k, v] : named.values())
    if (k.rfind("mae_", 0) == 0) id += "|" + k + "=" + param_value_to_string(v);
  if (mae_compute(p).precision == Precision::Bf16) id += "|precision:bf16";  // fp32 keys as before the key existed
  return sha256_hex(id);
}

std::unique_ptr<MaeReconstructor> make_mae(const Dataset& dataset, const PatchOptions& patches, const PatchGrid& grid,
                                           const std::string& cache_dir, const ProgressFn& progress,
                                           torch::Device device) {
  const std::string& path = patches.mae.path;
  if (!path.empty()) {
    if (!std::filesystem::is_regular_file(path))
      throw Error(fmt::format("patches.mae_path: TorchScript MAE file '{}' does not exist", path));
    return std::make_unique<ScriptMae>(path, dataset, grid, device, mae_compute(patches));
  }
  return std::make_unique<InProjectMae>(dataset, patches, grid, cache_dir, progress, device);
}

}  // namespace dq
