// Feature extractors: the embeddings every selection method works on, computed once per
// (dataset, extractor) and cached on disk as .npy so that every method, ratio and seed reuses them.
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/atomic_file.h"
#include "core/content_hash.h"
#include "core/embedding_check.h"
#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "models/compute_mode.h"
#include "models/device_batch.h"
#include "models/extractor_network.h"
#include "models/networks.h"
#include "models/torch_errors.h"

namespace dq {

namespace {

// Runs `fn` (N x C x H x W float -> N x d) over the training images in batches. Each batch is
// checked (core/embedding_check.h) in the dtype the network returned, so a float64 output beyond the
// float32 range is reported as such rather than as the infinity the conversion would make of it.
template <typename Forward>
Embeddings embed_images(const ImageSet& images, const Normalization& norm, torch::Device device, Forward&& fn,
                        const EmbeddingOrigin& origin, const ProgressFn& progress) {
  torch::NoGradGuard no_grad;
  Embeddings out;
  out.n = images.n;
  const int64_t batch = 128;  // keeps activations under glibc's mmap threshold (see cli/main.cpp)
  for (int64_t start = 0; start < images.n; start += batch) {
    const int64_t count = std::min(batch, images.n - start);
    auto x = images_to_device(images.image(start), count, images.channels, images.height, images.width, norm, device);
    auto raw = fn(x).to(torch::kCPU).contiguous();
    if (raw.dim() != 2 || raw.size(0) != count)
      throw Error(fmt::format("extractor returned shape {} for a batch of {} images; expected {} x d",
                              fmt::join(raw.sizes(), "x"), count, count));
    EmbeddingOrigin batch = origin;
    batch.labels = origin.labels.subspan(static_cast<size_t>(start), static_cast<size_t>(count));
    batch.first_row = start;
    if (raw.scalar_type() == torch::kDouble)
      check_embeddings(raw.template data_ptr<double>(), count, raw.size(1), batch);
    auto f = raw.to(torch::kFloat32).contiguous();
    check_embeddings(f.template data_ptr<float>(), count, f.size(1), batch);
    if (out.d == 0) {
      out.d = f.size(1);
      out.z.resize(static_cast<size_t>(images.n * out.d));
    }
    std::copy_n(f.template data_ptr<float>(), count * out.d, out.z.data() + start * out.d);
  }
  if (progress) progress(fmt::format("embedded {} images into {} dimensions", out.n, out.d));
  return out;
}

// A TorchScript module's output, or with `layer`: its method of that name, or else its top-level
// children run in order up to and including `layer` (the usual way to cut a torchvision ResNet at
// `avgpool`; valid for modules whose forward is their children in order). N x ... -> N x d.
torch::Tensor torchscript_features(torch::jit::script::Module& module, const std::string& layer, torch::Tensor x,
                                   const std::string& path) {
  if (layer.empty()) {
    const c10::IValue out = module.forward({x});
    if (!out.isTensor())
      throw Error(fmt::format("extractor.path '{}': forward returned a {}, not an N x d tensor (set extractor.layer "
                              "to the method or child that gives the embedding, e.g. features)",
                              path, out.tagKind()));
    return out.toTensor();
  }
  if (auto method = module.find_method(layer)) return (*method)({x}).toTensor().flatten(1);
  for (auto child : module.named_children()) {
    x = child.value.forward({x}).toTensor();
    if (child.name == layer) break;
  }
  return x.flatten(1);
}

// The proxy network's test accuracy beside its cached model (written once, after training).
void write_extractor_record(const std::string& model_path, const ExtractorNetwork& net) {
  if (model_path.empty()) return;
  nlohmann::json j = {{"top1", net.top1}, {"top1_tta", net.top1_tta}};
  const std::string text = j.dump() + "\n";
  write_cache_file(extractor_record_path(model_path), "extractor accuracy",
                   [&](AtomicFileWriter& out) { out.write(text.data(), text.size()); });
}

// Fills net.top1 / top1_tta from the record beside `model_path`; a missing or damaged record leaves -1.
void read_extractor_record(const std::string& model_path, double& top1, double& top1_tta) {
  if (model_path.empty()) return;
  std::ifstream in(extractor_record_path(model_path));
  if (!in) return;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    top1 = j.at("top1").get<double>();
    top1_tta = j.at("top1_tta").get<double>();
  } catch (const nlohmann::json::exception&) {
    top1 = top1_tta = -1;
  }
}

}  // namespace

std::string extractor_record_path(const std::string& model_path) {
  return (std::filesystem::path(model_path).replace_extension(".top1.json")).string();
}

torch::Tensor ExtractorNetwork::input(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w) const {
  return in_memory_format(images_to_device(pixels, count, c, h, w, norm, device), compute);
}

torch::Tensor ExtractorNetwork::embed(const torch::Tensor& x) {
  torch::Tensor f;
  {
    AutocastGuard autocast(compute, device);
    f = classifier ? classifier->features(in_memory_format(x.to(device), compute))
                   : torchscript_features(*script, layer, x.to(device), path);
  }
  return f.scalar_type() == torch::kBFloat16 ? f.to(torch::kFloat32) : f;
}

namespace {

// The proxy network: loaded from the cache or trained (and cached), with its identity as an artefact.
void load_or_train_proxy(ExtractorNetwork& net, const Dataset& dataset, const ExtractorOptions& extractor, const TrainRecipe& recipe,
                         const std::string& cache_dir, const ProgressFn& progress) {
  // The DQ paper's setting: a network trained on the full training set (no pretrained weights can be
  // obtained here). Trained with the recipe's options, evaluated on the test split for the record.
  const ImageSet& train = dataset.train;
  const uint64_t seed = static_cast<uint64_t>(extractor.seed);
  const auto fresh = [&] {
    torch::manual_seed(seed);
    return make_classifier(recipe.arch, train.channels, dataset.num_classes(), train.height, train.width);
  };
  net.artefact.kind = "extractor_network";
  net.artefact.key = extractor_network_key(dataset, extractor);
  const std::string model_path = extractor_model_path(cache_dir, net.artefact.key);
  net.classifier = fresh();
  if (!model_path.empty() && std::filesystem::exists(model_path)) {
    try {
      torch::serialize::InputArchive archive;
      net.artefact.sha256 = read_archive_cache(archive, model_path);
      net.classifier->load(archive);
      net.artefact.from_cache = true;
      net.artefact.bytes = static_cast<int64_t>(std::filesystem::file_size(model_path));
      read_extractor_record(model_path, net.top1, net.top1_tta);
      if (progress) progress(fmt::format("extractor network from cache {}", model_path));
    } catch (const c10::Error& e) {  // damaged: retrain from the same initialisation
      warn_cache_rebuild("extractor network", model_path, e.what_without_backtrace());
      net.classifier = fresh();
    }
  }
  net.classifier->to(net.device);
  net.compute.memory_format = recipe.compute.memory_format;
  if (!net.artefact.from_cache) {
    const TrainResult trained = train_model_in_place(*net.classifier, train, dataset.test, recipe, seed, net.device, progress);
    if (dataset.test.n > 0) {
      net.top1 = trained.final_top1;
      net.top1_tta = trained.final_top1_tta;
    }
    torch::serialize::OutputArchive archive;
    net.classifier->to(torch::kCPU);  // the cache file (and its content hash) holds CPU tensors, as the MAE's does
    net.classifier->save(archive);
    net.classifier->to(net.device);
    net.artefact.sha256 = write_archive_cache(archive, model_path, "extractor network");  // a failed write warns
    if (!model_path.empty()) write_extractor_record(model_path, net);
    std::error_code ec;
    if (!model_path.empty()) net.artefact.bytes = static_cast<int64_t>(std::filesystem::file_size(model_path, ec));
  }
  set_memory_format(*net.classifier, net.compute);  // a cached network loads in the default layout
  net.classifier->eval();
}

}  // namespace

ExtractorNetwork load_extractor_network(const Dataset& dataset, const ExtractorOptions& extractor, const std::string& cache_dir,
                                        const ProgressFn& progress, const std::string& expected_sha256) {
  const ExtractorKind kind = extractor.kind;
  if (kind == ExtractorKind::None)
    throw Error("extractor kind 'none' has no network (GradCAM++ and SPD in the patch stage need kind proxy or "
                "torchscript)");
  const TrainRecipe recipe = extractor.recipe.at_ratio(1.0);  // the proxy trains on all data
  set_compute_threads(recipe.threads);
  ExtractorNetwork net;
  net.device = to_torch_device(recipe.device);
  net.norm = normalization_for(recipe.normalize, dataset.train);
  net.compute.precision = recipe.compute.precision;
  if (kind == ExtractorKind::Proxy) {
    load_or_train_proxy(net, dataset, extractor, recipe, cache_dir, progress);
  } else {
    const std::string& path = extractor.path;
    if (!std::filesystem::is_regular_file(path))
      throw Error(fmt::format("extractor.path: TorchScript file '{}' does not exist", path));
    try {
      net.script = torch::jit::load(path, net.device);
    } catch (const c10::Error& e) {
      throw Error(fmt::format("extractor.path: cannot load TorchScript file '{}': {}", path, e.what_without_backtrace()));
    }
    net.script->eval();
    net.path = path;
    net.layer = extractor.layer;
    std::vector<std::string> children;
    for (auto c : net.script->named_children()) children.push_back(c.name);
    if (!net.layer.empty() && !net.script->find_method(net.layer) &&
        std::find(children.begin(), children.end(), net.layer) == children.end())
      throw Error(fmt::format("extractor layer '{}': '{}' has no method or top-level child of that name (children: {})",
                              net.layer, path, fmt::join(children, ", ")));
    const std::string sha = sha256_file_hex(path);
    net.artefact = {.kind = "extractor_network", .key = sha256_hex("torchscript|" + sha), .sha256 = sha,
                    .bytes = static_cast<int64_t>(std::filesystem::file_size(path)), .from_cache = false};
  }
  if (!expected_sha256.empty() && net.artefact.sha256 != expected_sha256)
    throw Error(fmt::format("the extractor network is not the one the embeddings were made from (its bytes hash to "
                            "{}, the embeddings' network to {}): {}; give the experiment a cache folder, or re-run "
                            "the cell so that both come from one network",
                            net.artefact.sha256.substr(0, 12), expected_sha256.substr(0, 12),
                            net.artefact.from_cache ? "the cached file was replaced"
                                                    : "retraining it gave other weights"));
  return net;
}

namespace {

// Embeddings of `key` from the cache, or nullopt (missing, damaged or of another shape: a miss).
std::optional<Embeddings> cached_embeddings(const Dataset& dataset, const std::string& path, const ProgressFn& progress) {
  if (path.empty() || !std::filesystem::exists(path)) return std::nullopt;
  NpyArray arr;
  try {
    arr = read_npy(path);
  } catch (const Error& e) {  // truncated or damaged: a miss (core/atomic_file.h)
    warn_cache_rebuild("embedding", path, e.what());
    return std::nullopt;
  }
  if (arr.shape.size() != 2 || arr.shape[0] != dataset.train.n) return std::nullopt;  // stale or foreign: overwritten
  Embeddings out;
  out.n = arr.shape[0];
  out.d = arr.shape[1];
  check_embeddings(arr, {"cached embeddings " + path, dataset.train.labels, &dataset.class_names});
  out.z = arr.as_float32(path);
  out.from_cache = true;
  out.cache_path = path;
  out.sha256 = file_content_sha256(path);
  if (progress) progress(fmt::format("embeddings from cache {}", path));
  return out;
}

}  // namespace

Embeddings compute_embeddings(const Dataset& dataset, const ExtractorOptions& extractor, const std::string& cache_dir,
                              const ProgressFn& progress) {
  const ExtractorKind kind = extractor.kind;
  if (kind == ExtractorKind::None) return carried_features(dataset);
  if (!dataset.has_images())
    throw Error(fmt::format("extractor kind '{}' needs images, but dataset '{}' has features only (use kind: none)",
                            extractor_kind_name(kind), dataset.kind));

  // A cached proxy network names its embeddings without being loaded: its content hash is on disk.
  if (kind == ExtractorKind::Proxy) {
    const std::string net_key = extractor_network_key(dataset, extractor);
    const std::string net_path = extractor_model_path(cache_dir, net_key);
    if (!net_path.empty() && std::filesystem::exists(net_path)) {
      const std::string net_sha = file_content_sha256(net_path);
      const std::string key = embeddings_key(dataset, extractor, net_sha);
      if (auto cached = cached_embeddings(dataset, embeddings_path(cache_dir, key), progress)) {
        cached->key = key;
        cached->network = {.kind = "extractor_network", .key = net_key, .sha256 = net_sha,
                           .bytes = static_cast<int64_t>(std::filesystem::file_size(net_path)), .from_cache = true};
        read_extractor_record(net_path, cached->extractor_top1, cached->extractor_top1_tta);
        return std::move(*cached);
      }
    }
  }

  const std::string origin = kind == ExtractorKind::Proxy ? fmt::format("proxy extractor ({})", arch_name(extractor.recipe.arch))
                                                          : "TorchScript extractor " + extractor.path;
  Embeddings out = converting_torch_errors("extractor", [&] {
    ExtractorNetwork net = load_extractor_network(dataset, extractor, cache_dir, progress);
    const std::string key = embeddings_key(dataset, extractor, net.artefact.sha256);
    if (auto cached = cached_embeddings(dataset, embeddings_path(cache_dir, key), progress)) {
      cached->key = key;
      cached->network = net.artefact;
      cached->extractor_top1 = net.top1;
      cached->extractor_top1_tta = net.top1_tta;
      return std::move(*cached);
    }
    Embeddings e = embed_images(dataset.train, net.norm, net.device, [&](torch::Tensor x) { return net.embed(x); },
                                {origin, dataset.train.labels, &dataset.class_names}, progress);
    e.key = key;
    e.network = net.artefact;
    e.extractor_top1 = net.top1;
    e.extractor_top1_tta = net.top1_tta;
    return e;
  });
  if (out.from_cache) return out;
  out.sha256 = npy_sha256(out.z.data(), {out.n, out.d});
  const std::string path = embeddings_path(cache_dir, out.key);
  if (!path.empty() && try_write_cache(path, "embedding", [&] { write_npy(path, out.z.data(), {out.n, out.d}); }))
    out.cache_path = path;
  return out;
}

}  // namespace dq
