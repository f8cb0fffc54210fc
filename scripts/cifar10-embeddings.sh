#!/bin/sh
# Real CIFAR-10 embeddings for the neighbour-search zoo (issue 24): embeds data/cifar10-jpg with an
# extractor (the embed stage of one cheap cell; cached under cache/embeddings/ as every cell's) and
# writes the embeddings and the training labels, in the dataset's row order, as
#   cache/real_embeddings/cifar10_Z.npy   cache/real_embeddings/cifar10_y.npy
# which experiments/scale/zoo_scale.yaml reads and the benchmarks take through
#   DQ_BENCH_EMBEDDINGS=cache/real_embeddings/cifar10_Z.npy DQ_BENCH_LABELS=cache/real_embeddings/cifar10_y.npy
# Usage: sh scripts/cifar10-embeddings.sh ['EXTRACTOR']
#   EXTRACTOR is the YAML `extractor:` section; default '{kind: proxy, arch: small_cnn, epochs: 2}' (the
#   CPU recipe's proxy, experiments/cpu/*.yaml). A stronger one, e.g. '{kind: torchscript, path: ...}',
#   replaces the files. Needs build/dqbench and build/dq_side_by_side (sh scripts/build.sh) and sqlite3.
set -eu
cd "$(dirname "$0")/.."
extractor="${1:-{kind: proxy, arch: small_cnn, epochs: 2\}}"
for tool in build/dqbench build/dq_side_by_side; do
  [ -x "$tool" ] || { echo "cifar10-embeddings: $tool is missing (sh scripts/build.sh)" >&2; exit 2; }
done
[ -d data/cifar10-jpg/train ] || { echo "cifar10-embeddings: data/cifar10-jpg/train is missing (scripts/prepare-cifar10.sh)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/embed.yaml" <<YAML
name: cifar10_real_embeddings
database: $tmp/embed.db
cache_dir: cache
datasets:
  cifar10: {kind: image_folder, path: data/cifar10-jpg, image_size: 32}
extractor: $extractor
train: none
grid: {dataset: [cifar10], method: [random], ratio: [0.1], seed: [0]}
YAML
OMP_WAIT_POLICY=PASSIVE build/dqbench run "$tmp/embed.yaml"
z=$(sqlite3 "$tmp/embed.db" "SELECT path FROM artefacts WHERE kind='embeddings' ORDER BY rowid DESC LIMIT 1")
[ -f "$z" ] || { echo "cifar10-embeddings: the run recorded no embeddings file" >&2; exit 1; }
build/dq_side_by_side dump --cifar data/cifar10-jpg --cache cache --out "$tmp/dump" > /dev/null
mkdir -p cache/real_embeddings
cp "$z" cache/real_embeddings/cifar10_Z.npy
cp "$tmp/dump/train_y.npy" cache/real_embeddings/cifar10_y.npy
echo "cache/real_embeddings/cifar10_Z.npy ($z) and cifar10_y.npy written"
