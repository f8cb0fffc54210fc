#!/bin/sh
# The plugin workflow as a user follows it: install dqbench's headers and CMake package, build
# examples/cpp_plugin against them out of tree, run it beside random through `dqbench run`.
# Arguments: dqbench binary, source dir, build dir, C++ compiler.
set -u
dqbench="$1" src="$2" build="$3" cxx="$4"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $1"; [ -f "$dir/log" ] && tail -30 "$dir/log"; exit 1; }
cmake --install "$build" --prefix "$dir/prefix" --component dev > "$dir/log" 2>&1 || fail "cmake --install"
[ -f "$dir/prefix/include/dqbench/methods/method.h" ] || fail "method.h not installed"
[ -f "$dir/prefix/lib/cmake/dqbench/dqbenchConfig.cmake" ] || fail "package config not installed"
cmake -S "$src/examples/cpp_plugin" -B "$dir/b" -DCMAKE_PREFIX_PATH="$dir/prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release > "$dir/log" 2>&1 || fail "configuring the example plugin"
cmake --build "$dir/b" > "$dir/log" 2>&1 || fail "building the example plugin"
lib="$dir/b/libplugin_random.so"
[ -f "$lib" ] || fail "no $lib"
cat > "$dir/p.yaml" <<YAML
name: p
database: $dir/p.db
cache_dir: $dir/cache
datasets:
  blobs: {kind: synthetic_embeddings, classes: 3, per_class: 20, dim: 4, clusters_per_class: 2}
train: none
grid:
  ratio: [0.25]
  method: [random, {name: plugin, library: $lib}]
YAML
"$dqbench" run "$dir/p.yaml" > "$dir/log" 2>&1 || fail "dqbench run"
done=$(sqlite3 "$dir/p.db" "SELECT group_concat(method || ':' || status, ' ') FROM (SELECT * FROM cells ORDER BY method)")
[ "$done" = "plugin_random:DONE random:DONE" ] || fail "cells: $done"
counts=$(sqlite3 "$dir/p.db" "SELECT group_concat(count, ' ') FROM selections")
[ "$counts" = "15 15" ] || fail "selection sizes: $counts"
recorded=$(sqlite3 "$dir/p.db" "SELECT value FROM method_notes WHERE name = 'plugin_library_sha256'")
[ "$recorded" = "$(sha256sum "$lib" | cut -d' ' -f1)" ] || fail "library sha256 not in provenance: '$recorded'"
echo "ok"
