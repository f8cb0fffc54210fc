// The patch stage's networks (patching/patch_stage.h PatchBackend): GradCAM++ ranking, the extractor's
// embeddings for SPD, and MAE reconstruction. Each network loads on first use.
#include <fmt/format.h>
#include <torch/script.h>

#include <filesystem>
#include <optional>

#include "core/code_identity.h"
#include "core/error.h"
#include "core/hashing.h"
#include "datasets/dataset.h"
#include "models/compute_mode.h"
#include "models/device_batch.h"
#include "models/extractor_network.h"
#include "models/gradcam.h"
#include "models/mae.h"
#include "models/torch_errors.h"
#include "patching/patch_stage.h"

namespace dq {
namespace {

class TorchPatchBackend final : public PatchBackend {
 public:
  TorchPatchBackend(const Dataset& dataset, const ExtractorOptions& extractor, const PatchOptions& patches, std::string cache_dir,
                    std::string network_sha256, ProgressFn progress)
      : dataset_(dataset), extractor_(extractor), patches_(patches), cache_dir_(std::move(cache_dir)),
        progress_(std::move(progress)), network_sha256_(std::move(network_sha256)) {
    if (patches_.cam_network == CamNetwork::TorchScript) {
      const std::string& path = patches_.cam_path;
      if (!std::filesystem::is_regular_file(path))
        throw Error(fmt::format("patches.cam_path: TorchScript file '{}' does not exist", path));
      cam_sha256_ = sha256_file_hex(path);
    }
  }

  // The network GradCAM++ explains (by the content of its bytes), its options and the ranking code.
  std::string ranking_key() const override {
    std::string id = fmt::format("gradcampp|target:{}|network:{}", cam_target_name(patches_.cam_target),
                                 cam_network_name(patches_.cam_network));
    id += "|network-sha256:" + (patches_.cam_network == CamNetwork::TorchScript ? cam_sha256_ : network_sha256_);
    if (patches_.precision == PatchPrecision::Bf16) id += "|precision:bf16";  // fp32 keys stay as they were before the key existed
    ranking_asked_ = true;
    return sha256_hex(id + "|code:" + code_identity(Producer::PatchScores));
  }

  std::vector<ArtefactUse> artefacts() const override {
    std::vector<ArtefactUse> out;
    if (patches_.cam_network == CamNetwork::TorchScript && (cam_ || ranking_asked_)) {
      const std::string& path = patches_.cam_path;
      out.push_back({.kind = "cam_network", .key = sha256_hex("torchscript|" + cam_sha256_), .sha256 = cam_sha256_,
                     .bytes = static_cast<int64_t>(std::filesystem::file_size(path)), .from_cache = false});
    }
    if (mae_) out.push_back(mae_->artefact());
    return out;
  }

  // The PatchBackend interface (patching/patch_stage.h) is where LibTorch's errors become ours.
  std::vector<float> patch_scores(const uint8_t* images, std::span<const int64_t> labels, const PatchGrid& grid) override {
    return converting_torch_errors("patches/ranking", [&] { return gradcampp_scores(images, labels, grid); });
  }

  void reconstruct(uint8_t* images, int64_t n, std::span<const uint8_t> masks, const PatchGrid& grid) override {
    converting_torch_errors("patches/reconstruction", [&] {
      if (!mae_)  // on the extractor's device, as the rest of the patch stage
        mae_ = make_mae(dataset_, patches_, grid, cache_dir_, progress_, to_torch_device(extractor_.recipe.device));
      mae_->reconstruct(images, n, masks);
    });
  }

  std::vector<float> embed(const uint8_t* images, int64_t n, int64_t& dim) override {
    return converting_torch_errors("patches/spd", [&] {
      torch::NoGradGuard no_grad;
      ExtractorNetwork& net = network();
      const auto& t = dataset_.train;
      const torch::Tensor f =
          net.embed(net.input(images, n, t.channels, t.height, t.width)).to(torch::kCPU).to(torch::kFloat32).contiguous();
      dim = f.size(1);
      return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    });
  }

  std::map<std::string, double> metrics() const override { return mae_ ? mae_->metrics() : std::map<std::string, double>{}; }

 private:
  std::vector<float> gradcampp_scores(const uint8_t* images, std::span<const int64_t> labels, const PatchGrid& grid) {
    ExtractorNetwork& net = network();
    const auto& t = dataset_.train;
    const auto n = static_cast<int64_t>(labels.size());
    torch::Tensor x = net.input(images, n, t.channels, t.height, t.width);
    torch::Tensor a, scores;
    {
      AutocastGuard autocast(net.compute, net.device);  // the forward pass only; gradcampp works in float32
      if (patches_.cam_network == CamNetwork::TorchScript) {
        auto out = cam_script().forward({x});
        if (!out.isTuple() || out.toTuple()->elements().size() != 2)
          throw Error(fmt::format("patches.cam_path '{}': forward must return (activation N x K x h x w, scores N x classes)",
                                  patches_.cam_path));
        a = out.toTuple()->elements()[0].toTensor();
        scores = out.toTuple()->elements()[1].toTensor();
      } else {
        if (!net.classifier)
          throw Error("patches.cam_network: extractor needs an extractor of kind proxy (a TorchScript extractor has no "
                      "known spatial layer; give patches.cam_network: torchscript with cam_path)");
        a = net.classifier->feature_map(x);
        scores = net.classifier->classify_map(a);
      }
    }
    torch::Tensor target;
    if (patches_.cam_target == CamTarget::Label)
      target = labels_to_device(labels.data(), n, net.device);  // page-locked: no wait for the forward pass
    else
      target = scores.detach().argmax(1);
    const torch::Tensor cam = gradcampp(a, scores, target, grid.rows, grid.cols).to(torch::kCPU).contiguous();
    return {cam.data_ptr<float>(), cam.data_ptr<float>() + cam.numel()};
  }

  ExtractorNetwork& network() {
    if (!net_) {
      net_ = load_extractor_network(dataset_, extractor_, cache_dir_, progress_, network_sha256_);
      net_->compute.precision = patches_.precision == PatchPrecision::Bf16 ? Precision::Bf16 : Precision::Fp32;  // the patch stage's own choice
    }
    return *net_;
  }
  torch::jit::script::Module& cam_script() {
    if (!cam_) {
      const std::string& path = patches_.cam_path;
      if (!std::filesystem::is_regular_file(path))
        throw Error(fmt::format("patches.cam_path: TorchScript file '{}' does not exist", path));
      try {
        cam_ = torch::jit::load(path, network().device);
      } catch (const c10::Error& e) {
        throw Error(fmt::format("patches.cam_path: cannot load TorchScript file '{}': {}", path, e.what_without_backtrace()));
      }
      cam_->eval();
    }
    return *cam_;
  }

  const Dataset& dataset_;
  ExtractorOptions extractor_;
  PatchOptions patches_;
  std::string cache_dir_;
  ProgressFn progress_;
  std::string network_sha256_, cam_sha256_;
  mutable bool ranking_asked_ = false;
  std::optional<ExtractorNetwork> net_;
  std::optional<torch::jit::script::Module> cam_;
  std::unique_ptr<MaeReconstructor> mae_;
};

}  // namespace

std::unique_ptr<PatchBackend> make_patch_backend(const Dataset& dataset, const ExtractorOptions& extractor, const PatchOptions& patches,
                                                 const std::string& cache_dir, const std::string& network_sha256,
                                                 const ProgressFn& progress) {
  return std::make_unique<TorchPatchBackend>(dataset, extractor, patches, cache_dir, network_sha256, progress);
}

}  // namespace dq
