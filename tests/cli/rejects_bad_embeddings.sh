#!/bin/sh
# Issue 11's example through the binary: float32 embeddings 30 x 4, all finite but row 7, dim 2
# (NaN), labels i % 3. Every method is refused before selecting, with the file, the dataset row, its
# class and the dim; exit 2; no output file.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# .npy format 1.0: magic, header length (2 bytes, little-endian), header padded to 64 bytes, data.
npy_header() {  # $1 = descr, $2 = shape
  h="{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
  while [ $(( (10 + ${#h} + 1) % 64 )) -ne 0 ]; do h="$h "; done
  len=$(( ${#h} + 1 ))
  printf '\223NUMPY\001\000'
  printf "\\$(printf '%03o' $((len % 256)))\\$(printf '%03o' $((len / 256)))"
  printf '%s\n' "$h"
}
{
  npy_header '<f4' '(30, 4)'
  i=0
  while [ $i -lt 120 ]; do
    if [ $i -eq 30 ]; then printf '\000\000\300\177'; else printf '\000\000\200\077'; fi  # NaN or 1.0
    i=$((i + 1))
  done
} > "$dir/z.npy"
{
  npy_header '<i8' '(30,)'
  i=0
  while [ $i -lt 30 ]; do
    printf "\\$(printf '%03o' $((i % 3)))\\000\\000\\000\\000\\000\\000\\000"
    i=$((i + 1))
  done
} > "$dir/y.npy"
want="dqbench select: $dir/z.npy: embedding row 7 (class 1), dim 2 is NaN (1 bad value in rows 0..29): embeddings must be finite"
for method in "bgfdq(k=3)" random; do
  "$dqbench" select --method "$method" --embeddings "$dir/z.npy" --labels "$dir/y.npy" --ratio 0.5 --out "$dir/sel.npy" > "$dir/out" 2>&1
  code=$?
  cat "$dir/out"
  [ "$code" -eq 2 ] || { echo "FAIL: $method: exit code was $code, expected 2"; exit 1; }
  grep -qF "$want" "$dir/out" || { echo "FAIL: $method: message lacks '$want'"; exit 1; }
  [ ! -e "$dir/sel.npy" ] || { echo "FAIL: $method: sel.npy was written"; exit 1; }
done
echo "ok"
