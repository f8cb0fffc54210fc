#!/bin/sh
# examples/train_from_export/ in CI: a tiny experiment is run and exported, and the example trains one
# epoch on the export with Debian's python3-torch, from images.npy and (without it) from the training
# split plus the masks, whose rebuilt images must equal the exported ones byte for byte.
set -u
dqbench="$1"
src="$2"
py=/usr/bin/python3
"$py" -c "import numpy, torch" 2>/dev/null || { echo "FAIL: $py cannot import numpy and torch (scripts/install-deps.sh installs python3-torch)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/e.yaml" <<YAML
name: example_export
database: $dir/e.db
cache_dir: $dir/cache
threads: 2
datasets:
  syn: {kind: synthetic_images, classes: 3, train_per_class: 30, test_per_class: 10, image_size: 16, seed: 2}
extractor: {kind: proxy, arch: small_cnn, epochs: 1, batch_size: 32}
train: {arch: small_cnn, epochs: 1, batch_size: 16, lr: 0.05}
patches: {patch_size: 4, drop: random, reconstruct: mean}
zip:
  method: [random, "bgfdq(theta=0.5)"]
  ratio: [1.0, 0.5]
YAML
fail() { echo "FAIL: $1"; cat "$dir/log" 2>/dev/null; exit 1; }
"$dqbench" run "$dir/e.yaml" >"$dir/log" 2>&1 || fail "the experiment did not run"
"$dqbench" export "$dir/e.yaml" --cells method=random --images --out "$dir/all" >"$dir/log" 2>&1 || fail "export of the full split"
"$dqbench" export "$dir/e.yaml" --cells method=bgfdq --images --test-split --out "$dir/with" >"$dir/log" 2>&1 || fail "export with images"
"$dqbench" export "$dir/e.yaml" --cells method=bgfdq --test-split --out "$dir/without" >"$dir/log" 2>&1 || fail "export without images"
with=$(ls -d "$dir"/with/*/) without=$(ls -d "$dir"/without/*/) all=$(ls -d "$dir"/all/*/)
"$py" "$src/examples/train_from_export/train.py" "$with" --epochs 1 >"$dir/log" 2>&1 || fail "train.py on images.npy"
grep -q "epoch 1/1: loss" "$dir/log" && grep -q "test top-1" "$dir/log" || fail "train.py printed no epoch or test accuracy"
"$py" "$src/examples/train_from_export/train.py" "$without" --train-images "$all/images.npy" --epochs 1 >"$dir/log" 2>&1 ||
  fail "train.py rebuilding images from the training split and the masks"
"$py" - "$src/examples/train_from_export" "$with" "$without" "$all" >"$dir/log" 2>&1 <<'PY' || fail "rebuilt images differ from the exported ones"
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import train
with_, without, all_ = sys.argv[2:5]
ids = np.load(without + "/indices.npy")
masks = np.load(without + "/masks.npy")
assert not masks.all(), "the export drops patches"
rebuilt = train.rebuild_images(np.load(all_ + "/images.npy")[ids], masks, json.load(open(without + "/manifest.json")))
assert np.array_equal(rebuilt, np.load(with_ + "/images.npy")), "rebuilt != exported"
PY
echo "ok"
