#pragma once
// Shared by the LibTorch tests: a tiny learnable image set, a tiny airbench94 recipe, an experiment run in child
// processes, and a cell's recorded metric.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

#include "core/rng.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "models/models.h"
#include "test_helpers.h"

namespace dq::test {

// The airbench94 preset as train_recipe_from gives it, shrunk to one epoch of batches of 32 on a tiny
// set (whitening from 64 images), on the CPU with 2 threads.
inline TrainRecipe tiny_airbench_recipe() {
  Params p("train", train_recipe_specs());
  for (const auto& [k, v] : find_recipe_preset("airbench94", "test").values) p.set_from_text(k, v, "test");
  TrainRecipe r = train_recipe_from(p);
  r.batch_size = 32;
  r.epochs = 1;
  r.partial_epoch = 0;
  r.whiten_images = 64;
  r.threads = 2;
  r.device = parse_device("cpu", "test");
  return r;
}

// `n` RGB images of side x side: dim noise, and for class k (= i % classes) a bright column at x = k
// over the top half, so a small network learns them in a few steps.
inline ImageSet learnable_images(int64_t n, int64_t classes, int64_t side, uint64_t seed) {
  ImageSet s;
  s.n = n;
  s.channels = 3;
  s.height = s.width = side;
  s.pixels.resize(static_cast<size_t>(n * 3 * side * side));
  s.labels.resize(static_cast<size_t>(n));
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % classes;
    s.labels[static_cast<size_t>(i)] = label;
    uint8_t* img = s.pixels.data() + i * s.image_bytes();
    for (int64_t k = 0; k < s.image_bytes(); ++k) img[k] = static_cast<uint8_t>(rng.uniform_below(64));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < side / 2; ++y) img[(c * side + y) * side + label] = 255;
  }
  return s;
}

// Metric `name` of cell `cell` in `store`, NaN when it was not recorded.
inline double cell_metric(Store& store, const std::string& cell, const std::string& name) {
  const auto m = store.metrics(cell);
  const auto it = m.find(name);
  return it == m.end() ? std::nan("") : it->second;
}

// An experiment written to dir/file from `yaml` and run as `dqbench run` does (every cell in a child
// dqbench process), with the runner's log.
struct ExperimentRun {
  Experiment experiment;
  RunSummary summary;
  std::string log;
};
inline ExperimentRun run_yaml_experiment(const std::filesystem::path& dir, const std::string& file,
                                         const std::string& yaml) {
  write_text(dir / file, yaml);
  ExperimentRun run{load_experiment((dir / file).string()), {}, {}};
  RunOptions options;
  options.self_exe = DQ_DQBENCH_EXE;
  std::ostringstream log;
  run.summary = run_experiment(run.experiment, options, log);
  run.log = log.str();
  return run;
}

}  // namespace dq::test
