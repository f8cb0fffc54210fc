#!/bin/sh
# Fuzzing with libFuzzer (tests/fuzz/README.md). Needs clang (installed here if missing; only this
# script needs it: ctest replays the committed inputs with the project's compiler).
#   sh scripts/fuzz.sh build                 configure and build build-fuzz/ (clang, ASan + UBSan + libFuzzer)
#   sh scripts/fuzz.sh run TARGET SECONDS    fuzz one target; new inputs go to build-fuzz/corpus/TARGET,
#                                            crashers to build-fuzz/crashes/TARGET (then: tests/fuzz/README.md)
#   sh scripts/fuzz.sh seeds DQBENCH         rewrite the committed seeds (tests/fuzz/make_seeds.py and a
#                                            small results database written by DQBENCH)
set -eu
cd "$(dirname "$0")/.."
command="${1:-}"
case "$command" in
build)
  if ! command -v clang++ > /dev/null 2>&1 || [ ! -d /usr/lib/llvm-14/lib/clang ]; then
    echo "installing clang (libFuzzer and the sanitizer runtimes come with it)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-dev
  fi
  flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only"
  [ -f build-fuzz/build.ninja ] || cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDQ_BUILD_MODELS=OFF -DDQ_FUZZ=ON \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
  targets=$(sed -n 's|^  tests/fuzz/\([a-z_]*\)\.cpp$|dq_fuzz_\1|p' CMakeLists.txt)
  # shellcheck disable=SC2086
  cmake --build build-fuzz -j "${DQ_BUILD_JOBS:-2}" --target $targets
  ;;
run)
  target="$2" seconds="$3"
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/crashes/$target"
  # Inputs up to 64 KiB; 2 GiB of memory; an input that runs 10 s is a hang.
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" UBSAN_OPTIONS="print_stacktrace=1" \
    "build-fuzz/dq_fuzz_$target" "build-fuzz/corpus/$target" "tests/fuzz/inputs/$target" \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$target/" -dict=tests/fuzz/fuzz.dict
  ;;
seeds)
  dqbench="$2"
  python3 tests/fuzz/make_seeds.py data/cifar10-jpg/train/airplane
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  cat > "$dir/s.yaml" <<YAML
name: seed
database: $dir/seed.db
cache_dir: $dir/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 8, dim: 2, clusters_per_class: 1}
extractor: {kind: none}
train: none
grid:
  method: [random, "bgfdq(k=2)"]
  ratio: [0.25]
  seed: [0]
YAML
  "$dqbench" run "$dir/s.yaml" > /dev/null
  # One cell FAILED with a message; the smallest pages; no WAL (a seed is one self-contained file).
  sqlite3 "$dir/seed.db" "UPDATE cells SET status='FAILED', error='a message' WHERE method_name='random';
    PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;"
  mkdir -p tests/fuzz/inputs/database/seeds
  cp "$dir/seed.db" tests/fuzz/inputs/database/seeds/results.db
  ;;
*)
  echo "usage: sh scripts/fuzz.sh build | run TARGET SECONDS | seeds DQBENCH" >&2
  exit 2
  ;;
esac
