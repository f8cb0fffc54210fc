#!/bin/sh
# Issue 11's example through the binary: class c's only train image is 0 bytes, on_bad_image: skip.
# `datasets inspect` must not print a class with 0 train images and exit 0: exit 2, class and file named.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
png="iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
mkdir -p "$dir/imgs/train/a" "$dir/imgs/train/c" "$dir/imgs/test/a" "$dir/imgs/test/c"
echo "$png" | base64 -d > "$dir/imgs/train/a/1.png"
echo "$png" | base64 -d > "$dir/imgs/test/a/2.png"
echo "$png" | base64 -d > "$dir/imgs/test/c/3.png"
: > "$dir/imgs/train/c/bad.jpg"
"$dqbench" datasets inspect --no-cache "image_folder(path=$dir/imgs,image_size=4,on_bad_image=skip)" > "$dir/out" 2>&1
code=$?
cat "$dir/out"
[ "$code" -eq 2 ] || { echo "FAIL: exit code was $code, expected 2"; exit 1; }
want="error: command line: train split: class 'c' holds no usable image: on_bad_image: skip dropped all 1 of its files: $dir/imgs/train/c/bad.jpg: empty image file (0 bytes)"
grep -qF "$want" "$dir/out" || { echo "FAIL: message lacks '$want'"; exit 1; }
# `run` must not train without the class and record DONE: the cell ends FAILED with the same message.
cat > "$dir/e.yaml" <<YAML
name: e
database: $dir/e.db
cache_dir: $dir/cache
datasets:
  imgs: {kind: image_folder, path: $dir/imgs, image_size: 4, on_bad_image: skip}
train: {arch: small_cnn, epochs: 1}
grid: {method: [random], ratio: [1.0]}
YAML
"$dqbench" run "$dir/e.yaml" > "$dir/out" 2>&1
code=$?
cat "$dir/out"
[ "$code" -eq 1 ] || { echo "FAIL: run exit code was $code, expected 1 (a failed cell)"; exit 1; }
grep -qF -- "-> FAILED: $dir/e.yaml dataset 'imgs': train split: class 'c' holds no usable image" "$dir/out" \
  || { echo "FAIL: the cell is not FAILED with the class named"; exit 1; }
echo "$png" | base64 -d > "$dir/imgs/train/c/good.png"  # one good image: the class survives
"$dqbench" datasets inspect --no-cache "image_folder(path=$dir/imgs,image_size=4,on_bad_image=skip)" > "$dir/out" 2>&1 \
  || { cat "$dir/out"; echo "FAIL: a class with one good image was refused"; exit 1; }
grep -q "train_bad_images_skipped=1" "$dir/out" || { cat "$dir/out"; echo "FAIL: the skipped file is not counted"; exit 1; }
echo "ok"
