#!/bin/sh
# The paper's models brought in (README "GPU"): scripts/export_resnet18.py and scripts/export_mae.py
# (random weights: no download) write TorchScript files that serve as the extractor, the GradCAM++
# network and the MAE of cells run by the real binary; a MAE that changes kept pixels, a file that is
# not TorchScript and a ResNet file without its feature layer fail their cells naming key and file.
# Usage: paper_models.sh DQBENCH PYTHON SOURCE_DIR (PYTHON has torch, torchvision and timm).
set -u
dqbench=$(readlink -f "$1") python="$2" src="$3"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && cat "$dir/log"; exit 1; }
"$python" "$src/scripts/export_resnet18.py" --random-init --out "$dir/resnet18.pt" || fail "ResNet-18 export"
"$python" "$src/scripts/export_mae.py" --random-init --arch mae_vit_tiny_patch16 --out "$dir/mae.pt" || fail "MAE export"
cat > "$dir/grey.py" <<'PY'
import sys, torch
class Grey(torch.nn.Module):  # the MAE interface, but the kept pixels are not given back
    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return images * 0.0 + 0.5
torch.jit.script(Grey()).save(sys.argv[1])
PY
"$python" "$dir/grey.py" "$dir/grey.pt" || fail "grey MAE"
echo "not TorchScript" > "$dir/junk.pt"

experiment() {  # $1 = name, $2 = extractor, $3 = patches, $4 = methods
  cat > "$dir/$1.yaml" <<YAML
name: $1
database: $dir/$1.db
cache_dir: $dir/cache
memory_budget: 6GiB
timeout: 10m
threads: 2
datasets:
  syn: {kind: synthetic_images, classes: 3, train_per_class: 8, test_per_class: 4, image_size: 32}
extractor: $2
train: {epochs: 1, batch_size: 8, augment: none}
patches: $3
grid:
  method: $4
  ratio: [0.5]
YAML
}
sql() { sqlite3 "$dir/$1.db" "$2"; }
extractor="{kind: torchscript, path: $dir/resnet18.pt, layer: features, normalize: imagenet}"
patches="{drop: gradcampp, cam_network: torchscript, cam_path: $dir/resnet18.pt, cam_target: predicted, reconstruct: mae, mae_path: $dir/mae.pt, patch_size: 4}"
experiment paper "$extractor" "$patches" '["bgfdq(k=3,theta=0.25)", "bgfdq(k=3,spd=on)"]'
"$dqbench" run "$dir/paper.yaml" > "$dir/log" 2>&1 || fail "the cells with the exported models did not run"
[ "$(sql paper "SELECT count(*) FROM cells WHERE status='DONE'")" = 2 ] || fail "not every cell is DONE"
[ "$(sql paper "SELECT count(*) FROM metrics WHERE name='mae_torchscript' AND value=1")" = 2 ] ||
  fail "the TorchScript MAE did not reconstruct"
[ "$(sql paper "SELECT count(*) FROM stages WHERE stage='patches'")" = 2 ] || fail "no patch stage"
# The methods saw the exported ResNet-18's 512-d embeddings of the 24 training images.
"$python" -c "
import numpy, glob, sys
a = numpy.load(sorted(glob.glob('$dir/cache/embeddings/*.npy'))[0])
sys.exit(0 if a.shape == (24, 512) else 'embeddings of shape %s' % (a.shape,))" || fail "embeddings are not 24 x 512"

failed_with() {  # $1 = experiment, $2 = text its cell's error must contain
  "$dqbench" run "$dir/$1.yaml" > "$dir/log" 2>&1 && fail "$1: the run succeeded"
  sql "$1" "SELECT error FROM cells" > "$dir/error"
  cat "$dir/error"
  grep -qF -- "$2" "$dir/error" || fail "$1: the error lacks '$2'"
}
experiment grey "$extractor" "{drop: gradcampp, cam_network: torchscript, cam_path: $dir/resnet18.pt, reconstruct: mae, mae_path: $dir/grey.pt}" '["bgfdq(k=3,theta=0.25)"]'
failed_with grey "patches.mae_path '$dir/grey.pt': the MAE changed "
grep -q "kept pixel values" "$dir/error" || fail "the count of changed kept pixels is not given"
experiment junk "{kind: torchscript, path: $dir/junk.pt, layer: features, normalize: imagenet}" "{}" '[random]'
failed_with junk "extractor.path: cannot load TorchScript file '$dir/junk.pt'"
experiment nolayer "{kind: torchscript, path: $dir/resnet18.pt, normalize: imagenet}" "{}" '[random]'
failed_with nolayer "extractor.path '$dir/resnet18.pt': forward returned a Tuple"
# The paper-models example validates with these files in place of the exported pretrained ones (its
# CIFAR data is missing here: exit 4, every cell listed).
sed "s|pretrained/resnet18_imagenet.pt|$dir/resnet18.pt|g; s|pretrained/mae_vit_large.pt|$dir/mae.pt|g; s|^name: .*|&\ndatabase: $dir/example.db|" \
  "$src/examples/paper_models/table1_cifar_pretrained.yaml" > "$dir/example.yaml"
(cd "$dir" && "$dqbench" run --dry-run example.yaml) > "$dir/log" 2>&1
code=$?
[ "$code" -eq 0 ] || [ "$code" -eq 4 ] || fail "the paper-models example does not validate (exit $code)"
grep -q "(54 cells," "$dir/log" || fail "the paper-models example does not expand into 54 cells"
echo "ok: the exported ResNet-18 and MAE run through cells; bad files are refused by key and file"
