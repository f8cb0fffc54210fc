#!/bin/sh
# Packs the Debian 12 libraries dqbench builds against (all but LibTorch) into one archive for a GPU
# machine that has PyTorch, CMake, ninja and g++ but not these libraries, and maybe no network:
# scripts/gpu-check.sh --bundle FILE unpacks it into a prefix and builds against it. Run here (Debian
# 12, network); the archive stays under 64 MiB. The machine that uses it needs glibc >= 2.36 and a
# libstdc++ of GCC >= 12 (Debian 12, Ubuntu 23.04 or newer): these are Debian 12's binaries.
#   sh scripts/gpu-bundle.sh [OUT]   (default build-gpu-bundle/dq-gpu-bundle.tar.gz)
set -eu
cd "$(dirname "$0")/.."
out="${1:-build-gpu-bundle/dq-gpu-bundle.tar.gz}"
packages="libfaiss-dev libopenblas0-pthread libopenblas-pthread-dev libbenchmark-dev libbenchmark1debian
  libsqlite3-dev libsqlite3-0 libfmt-dev libfmt9 libyaml-cpp-dev libyaml-cpp0.7 catch2 libcli11-dev
  nlohmann-json3-dev zlib1g-dev zlib1g libjpeg62-turbo-dev libjpeg62-turbo libturbojpeg0-dev libturbojpeg0
  libpng-dev libpng16-16 libssl-dev libssl3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/prefix"
# shellcheck disable=SC2086
(cd "$work/debs" && apt-get download -q $packages >/dev/null 2>&1)
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/prefix"; done
lib="$work/prefix/usr/lib/x86_64-linux-gnu"
rm -rf "$work/prefix/usr/share/doc" "$work/prefix/usr/share/man" "$work/prefix/usr/share/lintian" "$lib"/*.a.keep
# What update-alternatives would link on Debian: BLAS and LAPACK are OpenBLAS (pthread build), whose
# one library exports both (its separate LAPACK copy, 7 MB, is left out).
rm "$lib/openblas-pthread/liblapack.so.3"
ln -sf "$(readlink "$lib/openblas-pthread/libopenblas.so.0")" "$lib/openblas-pthread/liblapack.so.3"
for name in libblas.so libblas.so.3 liblapack.so liblapack.so.3 libopenblas.so libopenblas.so.0; do
  ln -sf "openblas-pthread/$name" "$lib/$name"
done
# FAISS's CMake package names Debian's BLAS by absolute path: point it into the prefix.
sed -i 's|/usr/lib/x86_64-linux-gnu/lib\(blas\|lapack\)\.so|${_IMPORT_PREFIX}/lib/x86_64-linux-gnu/lib\1.so|g' \
  "$lib/cmake/faiss/faiss-targets.cmake"
# Static libraries other than FAISS's and Google Benchmark's (its CMake package names them) are not linked.
find "$lib" -name '*.a' ! -name 'libfaiss.a' ! -name 'libbenchmark*.a' -delete
dpkg-query -W -f='${Package} ${Version}\n' $packages 2>/dev/null > "$work/prefix/dq-bundle-packages.txt" || true
mkdir -p "$(dirname "$out")"
tar -C "$work/prefix" -czf "$out" .
size=$(stat -c %s "$out")
unpacked=$(du -sb "$work/prefix" | cut -f1)
echo "$out: $((size / 1048576)) MiB, $((unpacked / 1048576)) MiB unpacked ($(echo $packages | wc -w) Debian packages)"
[ "$unpacked" -lt $((64 * 1048576)) ] || { echo "the bundle is over 64 MiB" >&2; exit 1; }
