// Dataset loading speed: one small JPEG decode, and (when scripts/prepare-cifar10.sh has unpacked
// data/cifar10-jpg) the experiment's CIFAR-10 JPEG load, cold (decode) and warm (decode cache).
// Run: ./build/dq_bench --benchmark_filter=Cifar10 (each case runs once: these are measurements,
// not micro-benchmarks). "ColdDisk" first evicts the files from the page cache (fadvise), so the
// reads really hit the disk.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "datasets/decode_cache.h"
#include "datasets/image_decode.h"
#include "datasets/image_encode.h"
#include "harness/datasets_command.h"

namespace fs = std::filesystem;

namespace {

const std::string kCifarSpec = std::string("image_folder(path=") + DQ_SOURCE_DIR + "/data/cifar10-jpg,image_size=32";
const std::string kCacheDir = std::string(DQ_SOURCE_DIR) + "/cache/bench-datasets";

void BM_DecodeJpeg32(benchmark::State& state) {
  std::vector<uint8_t> px(32 * 32 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 7919) >> 5);
  const auto jpg = dq::encode_jpeg(px.data(), 32, 32, 3, 90);
  for (auto _ : state) benchmark::DoNotOptimize(dq::decode_image_rgb(jpg.data(), jpg.size(), "mem"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeJpeg32);

void evict_from_page_cache(const std::string& root) {
  ::sync();
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd >= 0) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ::close(fd);
  }
}

dq::LoadedDataset load(const std::string& spec, const std::string& cache_dir) {
  auto defs = dq::parse_dataset_definitions(spec);
  return dq::load_dataset(defs[0].kind, defs[0].params, cache_dir, "bench");
}

void set_counters(benchmark::State& state, const dq::LoadedDataset& loaded) {
  const auto& d = loaded.dataset;
  state.counters["images"] = static_cast<double>(d.train.n + d.test.n);
  state.counters["images_per_s"] = static_cast<double>(d.train.n + d.test.n) / loaded.seconds;
  state.counters["from_cache"] = loaded.from_cache;
}

void BM_Cifar10JpegCold(benchmark::State& state, bool evict) {
  const std::string spec = fmt::format("{},threads={})", kCifarSpec, state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    if (evict) evict_from_page_cache(std::string(DQ_SOURCE_DIR) + "/data/cifar10-jpg");
    state.ResumeTiming();
    set_counters(state, load(spec, ""));
  }
}

void BM_Cifar10JpegCached(benchmark::State& state, bool evict) {
  const std::string spec = kCifarSpec + ")";
  const auto built = load(spec, kCacheDir);  // builds the cache on the first run
  for (auto _ : state) {
    state.PauseTiming();
    if (evict) evict_from_page_cache(kCacheDir);
    state.ResumeTiming();
    set_counters(state, load(spec, kCacheDir));
  }
  if (!evict) fmt::print(stderr, "{}", dq::inspect_datasets(spec, kCacheDir));
}

// The part of every cached load that cannot be cached: listing and stat-ing the 60,000 files.
void BM_Cifar10Fingerprint(benchmark::State& state) {
  const auto defs = dq::parse_dataset_definitions(kCifarSpec + ")");
  const auto& info = dq::DatasetRegistry::instance().find(defs[0].kind, "bench");
  for (auto _ : state) benchmark::DoNotOptimize(info.fingerprint(defs[0].params));
}

const bool registered = [] {
  if (!fs::is_directory(std::string(DQ_SOURCE_DIR) + "/data/cifar10-jpg")) return false;
  for (auto [name, evict] : {std::pair{"BM_Cifar10JpegCold", false}, std::pair{"BM_Cifar10JpegColdDisk", true}})
    benchmark::RegisterBenchmark(name, BM_Cifar10JpegCold, evict)
        ->Arg(1)->Arg(2)->Arg(8)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
  for (auto [name, evict] : {std::pair{"BM_Cifar10JpegCached", false}, std::pair{"BM_Cifar10JpegCachedColdDisk", true}})
    benchmark::RegisterBenchmark(name, BM_Cifar10JpegCached, evict)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("BM_Cifar10Fingerprint", BM_Cifar10Fingerprint)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
