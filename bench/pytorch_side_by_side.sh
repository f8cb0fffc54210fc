#!/usr/bin/env bash
# dqbench vs PyTorch on this machine, side by side in one run: images/s of ResNet-18 forward (the
# embedding pass) and training step at 32 px (CIFAR stem) and 224 px (ImageNet stem), the small CNN,
# and one whole CIFAR-10 epoch of our trainer against a PyTorch DataLoader loop over the same decoded
# images. Same threads, batch and input; the two sides alternate, REPS times per row, so machine load
# hits both alike; the table shows the median of each side and dqbench / PyTorch.
# The airbench94 rows (ROWS=recipe or all) time its inference and one step of its training recipe in
# three layouts/precisions (contiguous fp32, channels-last fp32, channels-last bf16 autocast), batch
# RECIPE_BATCH; with PYTORCH2=path/to/python (the pip flavour's venv, scripts/install-torch-pip.sh) a third side joins them.
#   bash bench/pytorch_side_by_side.sh   # THREADS=2 REPS=3 EPOCH_REPS=1 BUILD=build EPOCH=1 (0 skips the epoch row)
#   ROWS=recipe REPS=3 RECIPE_BATCH=512 RECIPE_ITERS=3 PYTORCH2=.venv-torch/bin/python bash bench/pytorch_side_by_side.sh
# ROWS: all (default) | networks (ResNet-18, small CNN, the epoch) | recipe (airbench94).
# Needs Debian's python3-torch and python3-torchvision (1.13 / 0.14, as libtorch-dev): installed if missing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
threads="${THREADS:-2}"
reps="${REPS:-3}"
build="${BUILD:-build}"
py=/usr/bin/python3
pyside=bench/side_by_side/pytorch_side.py
which_rows="${ROWS:-all}"
py2="${PYTORCH2:-}"

if ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  echo "installing Debian's python3-torch and python3-torchvision ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-torch python3-torchvision >/dev/null
fi
cmake --build "$build" -j1 --target dq_side_by_side >/dev/null
dq="$build/dq_side_by_side"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# torch $("$py" -c 'import torch; print(torch.__version__)'), threads $threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
[ -n "$py2" ] && echo "# second PyTorch side: $("$py2" -c 'import torch; print(torch.__version__)') ($py2)"
echo "# kernel $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$which_rows" = all ] || [ "$which_rows" = recipe ]; then
  variants=("contiguous fp32" "channels_last fp32" "channels_last bf16")
  for variant in "${variants[@]}"; do
    set -- $variant
    args="--batch ${RECIPE_BATCH:-512} --iters ${RECIPE_ITERS:-3} --threads $threads --memory-format $1 --precision $2"
    for ((r = 0; r < reps; ++r)); do
      sides=("$py $pyside recipe" "$dq recipe")
      [ -n "$py2" ] && sides+=("$py2 $pyside recipe")
      # rotate which side goes first
      for ((k = 0; k < ${#sides[@]}; ++k)); do
        ${sides[$(((k + r) % ${#sides[@]}))]} $args >>"$out/log"
      done
    done
  done
fi
[ "$which_rows" = recipe ] && rows=() && EPOCH=0

# row: name, then the arguments both sides take
rows=(
  "--arch resnet18 --size 32 --batch 32 --iters 10 --row resnet18_cifar_32"
  "--arch resnet18_imagenet --size 224 --batch 16 --iters 4 --row resnet18_imagenet_224"
  "--arch small_cnn --size 32 --batch 128 --iters 30 --row small_cnn_32"
)
for row in "${rows[@]+"${rows[@]}"}"; do
  for ((r = 0; r < reps; ++r)); do
    # alternate which side goes first
    if ((r % 2 == 0)); then
      "$py" "$pyside" step $row --threads "$threads" >>"$out/log"
      "$dq" step $row --threads "$threads" >>"$out/log"
    else
      "$dq" step $row --threads "$threads" >>"$out/log"
      "$py" "$pyside" step $row --threads "$threads" >>"$out/log"
    fi
  done
done

if [ "${EPOCH:-1}" != 0 ]; then
  [ -d data/cifar10-jpg ] || bash scripts/prepare-cifar10.sh
  "$dq" dump --cifar data/cifar10-jpg --cache cache --out "$out/cifar" >&2
  for ((r = 0; r < ${EPOCH_REPS:-1}; ++r)); do
    "$py" "$pyside" epoch --data "$out/cifar" --arch small_cnn --batch 128 --threads "$threads" >>"$out/log"
    "$dq" epoch --data "$out/cifar" --arch small_cnn --batch 128 --threads "$threads" >>"$out/log"
  done
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$py" - "$out/log" <<'PY'
import statistics, sys
rows, params = {}, set()
for line in open(sys.argv[1]):
    side, row, value = line.split()
    if row.startswith("params_"):
        params.add(f"{side} {row[7:]} {value}")
        continue
    rows.setdefault(row, {}).setdefault(side, []).append(float(value))
two = any("pytorch2" in sides for sides in rows.values())
med = lambda sides, side: statistics.median(sides[side]) if side in sides else float("nan")
head = "| row | PyTorch 1.13 img/s | dqbench img/s | dqbench / PyTorch |"
print(head + (" PyTorch 2.x img/s | dqbench / PyTorch 2.x |" if two else "") + " runs |")
print("|---" * (head.count("|") - 1 + (2 if two else 0) + 1) + "|")
for row, sides in rows.items():
    pt, dq, pt2 = med(sides, "pytorch"), med(sides, "dqbench"), med(sides, "pytorch2")
    line = f"| {row} | {pt:.1f} | {dq:.1f} | {dq / pt:.2f}x |"
    if two:
        line += f" {pt2:.1f} | {dq / pt2:.2f}x |"
    runs = " + ".join(str(len(sides.get(s, []))) for s in ("pytorch", "dqbench", "pytorch2") if s in sides)
    print(line + f" {runs} |")
for p in sorted(params):
    print(f"# parameters: {p}")
PY
