// dqbench's half of bench/pytorch_side_by_side.sh: images per second of our networks and trainer,
// measured the way bench/side_by_side/pytorch_side.py measures PyTorch, so the script can print ratios.
//   dq_side_by_side step  --arch resnet18 --size 32 --batch 64 --iters 5 --threads 2 [--device cuda]
//                         [--precision bf16] [--memory-format channels_last]
//   dq_side_by_side epoch --data DIR --arch small_cnn --batch 128 --threads 2
//   dq_side_by_side dump  --cifar data/cifar10-jpg --cache cache --out DIR
//   dq_side_by_side recipe --batch 512 --iters 3 --threads 2 --memory-format channels_last --precision bf16
//                          [--device cuda]
// On a CUDA device the clock stops after the device has finished the timed work (a synchronise after
// the last call), as pytorch_side.py does; --device takes what a cell's `device:` takes.
// Each measurement prints one line: "dqbench <row> <images per second>".
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <malloc.h>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
#include "models/compute_mode.h"
#include "models/device.h"
#include "models/models.h"
#include "models/networks.h"
#include "models/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Waits for the device's queued work (CUDA); nothing on the CPU.
void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Images per second of `fn` (one batch per call) over `iters` calls after one warm-up call, the
// device's queue drained before the clock starts and before it stops.
template <typename Fn>
double images_per_second(Fn&& fn, int64_t batch, int64_t iters, const torch::Device& device) {
  fn();
  synchronize(device);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) fn();
  synchronize(device);
  return static_cast<double>(batch * iters) / seconds_since(t0);
}

dq::ComputeOptions compute_options(const std::string& precision, const std::string& memory_format) {
  dq::ComputeOptions c;
  if (precision == "bf16")
    c.precision = dq::Precision::Bf16;
  else if (precision != "fp32")
    throw dq::Error(fmt::format("--precision: '{}' is not fp32 | bf16", precision));
  if (memory_format == "channels_last")
    c.memory_format = dq::MemoryFormat::ChannelsLast;
  else if (memory_format != "contiguous")
    throw dq::Error(fmt::format("--memory-format: '{}' is not contiguous | channels_last", memory_format));
  return c;
}

// Forward (no grad, eval mode: the embedding pass) and one SGD training step on a fixed random batch,
// on `device` in the given layout and precision (bf16: autocast around the forward pass, fp32 weights).
void measure_steps(const std::string& arch, int64_t size, int64_t batch, int64_t iters, const std::string& row,
                   const dq::ComputeOptions& compute, const torch::Device& device) {
  torch::manual_seed(0);
  auto model = dq::make_classifier(arch, 3, 10, size, size);
  model->to(device);
  dq::set_memory_format(*model, compute);
  auto x = dq::in_memory_format(torch::randn({batch, 3, size, size}).to(device), compute);
  auto y = torch::randint(0, 10, {batch}, torch::kInt64).to(device);
  {
    torch::NoGradGuard no_grad;
    model->eval();
    const auto infer = [&] {
      dq::AutocastGuard autocast(compute, device);
      return model->features(x);
    };
    std::cout << fmt::format("dqbench {}_forward {:.2f}\n", row, images_per_second(infer, batch, iters, device));
  }
  model->train();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(5e-4));
  auto step = [&] {
    sgd.zero_grad();
    torch::Tensor logits;
    {
      dq::AutocastGuard autocast(compute, device);
      logits = model->forward(x);
    }
    torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y).backward();
    sgd.step();
  };
  std::cout << fmt::format("dqbench {}_train {:.2f}\n", row, images_per_second(step, batch, iters, device));
}

// The airbench94 recipe (the preset's values) with the given layout and precision.
dq::TrainRecipe airbench94_recipe(const std::string& memory_format, const std::string& precision, int64_t batch) {
  dq::Params p("train", dq::train_recipe_specs());
  for (const auto& [k, v] : dq::find_recipe_preset("airbench94", "bench").values) p.set_from_text(k, v, "bench");
  p.set_from_text("memory_format", memory_format, "--memory-format");
  p.set_from_text("precision", precision, "--precision");
  p.set_from_text("batch_size", std::to_string(batch), "--batch");
  return dq::train_recipe_from(p);
}

// airbench94 inference (eval mode, no grad: the embedding and TTA passes) and one training step of its
// recipe (forward under autocast, label-smoothed summed cross-entropy, backward, Nesterov SGD with the
// BatchNorm-bias group) on a fixed random batch, in the recipe's layout and precision.
void measure_recipe(const dq::TrainRecipe& r, int64_t iters, const std::string& row, const torch::Device& device) {
  torch::manual_seed(0);
  auto model = dq::make_classifier(dq::Arch::Airbench94, 3, 10, 32, 32);
  model->to(device);
  dq::set_memory_format(*model, r.compute);
  auto x = dq::in_memory_format(torch::randn({r.batch_size, 3, 32, 32}).to(device), r.compute);
  auto y = torch::randint(0, 10, {r.batch_size}, torch::kInt64).to(device);
  {
    torch::NoGradGuard no_grad;
    model->eval();
    const auto infer = [&] {
      dq::AutocastGuard autocast(r.compute, device);
      return model->forward(x);
    };
    std::cout << fmt::format("dqbench {}_forward {:.2f}\n", row, images_per_second(infer, r.batch_size, iters, device));
  }
  model->train();
  std::vector<double> base_lrs;
  auto sgd = dq::make_optimizer(*model, r, base_lrs);
  const auto loss_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(r.label_smoothing).reduction(torch::kSum);
  auto step = [&] {
    sgd->zero_grad();
    torch::Tensor logits;
    {
      dq::AutocastGuard autocast(r.compute, device);
      logits = model->forward(x);
    }
    torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y, loss_options).backward();
    sgd->step();
  };
  std::cout << fmt::format("dqbench {}_train {:.2f}\n", row, images_per_second(step, r.batch_size, iters, device));
}

dq::ImageSet read_dump(const std::string& dir) {
  const dq::NpyArray labels = dq::read_npy(dir + "/train_y.npy");
  std::ifstream shape_in(dir + "/train_x.shape");
  dq::ImageSet s;
  shape_in >> s.n >> s.channels >> s.height >> s.width;
  if (!shape_in || labels.shape.size() != 1 || labels.shape[0] != s.n)
    throw dq::Error(fmt::format("{}: not a dump written by `dq_side_by_side dump`", dir));
  s.pixels.resize(static_cast<size_t>(s.n * s.image_bytes()));
  std::ifstream px(dir + "/train_x.u8", std::ios::binary);
  px.read(reinterpret_cast<char*>(s.pixels.data()), static_cast<std::streamsize>(s.pixels.size()));
  if (!px) throw dq::Error(fmt::format("{}/train_x.u8: short file", dir));
  s.labels = labels.as_int64(dir + "/train_y.npy");
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // The same allocator settings as dqbench (cli/main.cpp, keep_freed_memory_in_heap).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"dqbench side of the PyTorch side-by-side benchmark"};
  app.require_subcommand(1);
  int64_t threads = 2, batch = 64, iters = 5, size = 32;
  std::string arch = "resnet18", row, data, cifar, cache = "cache", out, memory_format = "channels_last",
              precision = "fp32", device = "cpu", step_memory_format = "contiguous";
  auto* step = app.add_subcommand("step", "forward and training-step images/s on a random batch");
  step->add_option("--arch", arch);
  step->add_option("--size", size);
  step->add_option("--batch", batch);
  step->add_option("--iters", iters);
  step->add_option("--threads", threads);
  step->add_option("--row", row, "row name (default: arch_size)");
  step->add_option("--device", device, "cpu | cuda | cuda:N");
  step->add_option("--precision", precision, "fp32 | bf16 (autocast around the forward pass)");
  step->add_option("--memory-format", step_memory_format, "contiguous (default) | channels_last");
  auto* epoch = app.add_subcommand("epoch", "one training epoch of dq::train_model_in_place over a dump");
  epoch->add_option("--data", data)->required();
  epoch->add_option("--arch", arch);
  epoch->add_option("--batch", batch);
  epoch->add_option("--threads", threads);
  auto* dump = app.add_subcommand("dump", "decode CIFAR-10 (image_folder) and write its training split raw");
  dump->add_option("--cifar", cifar)->required();
  dump->add_option("--cache", cache);
  dump->add_option("--out", out)->required();
  auto* recipe = app.add_subcommand("recipe", "airbench94 inference and recipe training-step images/s on a random batch");
  recipe->add_option("--batch", batch);
  recipe->add_option("--iters", iters);
  recipe->add_option("--threads", threads);
  recipe->add_option("--memory-format", memory_format, "contiguous | channels_last");
  recipe->add_option("--precision", precision, "fp32 | bf16");
  recipe->add_option("--row", row, "row name (default: airbench94_<memory format>_<precision>)");
  recipe->add_option("--device", device, "cpu | cuda | cuda:N");
  CLI11_PARSE(app, argc, argv);
  try {
    torch::set_num_threads(static_cast<int>(threads));
    const torch::Device dev = dq::resolve_device(device);
    if (*recipe)
      measure_recipe(airbench94_recipe(memory_format, precision, batch), iters,
                     row.empty() ? fmt::format("airbench94_{}_{}", memory_format, precision) : row, dev);
    if (*step)
      measure_steps(arch, size, batch, iters, row.empty() ? fmt::format("{}_{}", arch, size) : row,
                    compute_options(precision, step_memory_format), dev);
    if (*epoch) {
      const dq::ImageSet train = read_dump(data);
      const dq::ImageSet no_test;  // time the epoch only
      dq::TrainRecipe r;
      r.arch = dq::parse_arch(arch, "--arch");
      r.epochs = 1;
      r.batch_size = batch;
      r.lr = 0.05;
      r.momentum = 0.9;
      r.weight_decay = 5e-4;
      r.augment = dq::Augment::FlipCrop;
      r.crop_padding = 4;
      r.normalize = dq::Normalize::Cifar;
      r.threads = threads;
      torch::manual_seed(0);
      auto model = dq::make_classifier(r.arch, train.channels, 10, train.height, train.width);
      const auto t0 = Clock::now();
      dq::train_model_in_place(*model, train, no_test, r, 0, torch::Device(torch::kCPU), nullptr);
      std::cout << fmt::format("dqbench epoch_{} {:.2f}\n", arch, static_cast<double>(train.n) / seconds_since(t0));
    }
    if (*dump) {
      dq::Params p("image_folder", dq::DatasetRegistry::instance().find("image_folder", "dump").params);
      p.set_from_text("path", cifar, "--cifar");
      p.set_from_text("image_size", "32", "dump");
      const dq::LoadedDataset loaded = dq::load_dataset("image_folder", p, cache, "--cifar");
      const dq::ImageSet& t = loaded.dataset.train;
      std::filesystem::create_directories(out);
      std::ofstream(out + "/train_x.shape") << t.n << " " << t.channels << " " << t.height << " " << t.width << "\n";
      std::ofstream px(out + "/train_x.u8", std::ios::binary);
      px.write(reinterpret_cast<const char*>(t.pixels.data()), static_cast<std::streamsize>(t.pixels.size()));
      dq::write_npy(out + "/train_y.npy", t.labels.data(), {t.n});
      std::cout << fmt::format("dumped {} training images {}x{}x{} ({:.1f}s, from cache: {})\n", t.n, t.channels,
                               t.height, t.width, loaded.seconds, loaded.from_cache);
    }
  } catch (const dq::Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
