#!/usr/bin/env bash
# Unpacks the CIFAR-10 JPEG copy into data/cifar10-jpg (git-ignored) unless it is already there.
# Archive: $1, else $DQ_CIFAR10_ARCHIVE, else ../shared/data/cifar10-jpg.tar.gz relative to the repo root.
# The archive is checked against its known SHA-256 and unpacked into a temporary folder that is
# renamed into place only when complete, so an interrupted run never leaves a half tree behind.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
archive="${1:-${DQ_CIFAR10_ARCHIVE:-$repo/../shared/data/cifar10-jpg.tar.gz}}"
dest="$repo/data/cifar10-jpg"
expected_sha256=a362ce103fa3a659a66dacc778117b9173dad0c2493c291872dffa699b7f2901

if [ -d "$dest" ]; then
  echo "prepare-cifar10: $dest already exists; nothing to do"
  exit 0
fi
if [ ! -f "$archive" ]; then
  echo "prepare-cifar10: archive not found: $archive (pass its path as the first argument)" >&2
  exit 1
fi
actual_sha256="$(sha256sum "$archive" | cut -d' ' -f1)"
if [ "$actual_sha256" != "$expected_sha256" ]; then
  echo "prepare-cifar10: $archive has SHA-256 $actual_sha256, expected $expected_sha256" >&2
  exit 1
fi

mkdir -p "$repo/data"
tmp="$(mktemp -d "$repo/data/.cifar10-jpg.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$archive" -C "$tmp"
for split in train test; do
  if [ ! -d "$tmp/cifar10-jpg/$split" ]; then
    echo "prepare-cifar10: $archive has no cifar10-jpg/$split folder" >&2
    exit 1
  fi
done
train_count="$(find "$tmp/cifar10-jpg/train" -type f -name '*.jpg' | wc -l)"
test_count="$(find "$tmp/cifar10-jpg/test" -type f -name '*.jpg' | wc -l)"
if [ "$train_count" -ne 50000 ] || [ "$test_count" -ne 10000 ]; then
  echo "prepare-cifar10: found $train_count train and $test_count test JPEGs, expected 50000 and 10000" >&2
  exit 1
fi
mv "$tmp/cifar10-jpg" "$dest"
echo "prepare-cifar10: unpacked $train_count train + $test_count test JPEGs into $dest"
