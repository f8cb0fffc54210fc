#!/bin/sh
# Every source file is named in its folder's README (as sources_listed.sh checks CMakeLists.txt): a
# file a newcomer cannot find in the README of the folder it sits in is a room missing from the map.
# "Named" means the file's stem followed by a dot or a backtick ("knn.h", "patches.*", "`npy`"); the
# files of an `internal/` folder belong to the README of the folder above it.
set -u
repo="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$repo"
status=0
for dir in core datasets methods methods/graphcut methods/knn patching harness report cli models bench tests tests/fuzz; do
  [ -f "$dir/README.md" ] || { echo "FAIL: $dir has no README.md"; status=1; continue; }
  for f in $(find "$dir" "$dir/internal" -maxdepth 1 -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \) 2>/dev/null | sort); do
    name=$(basename "$f")
    stem=${name%.*}
    grep -qE "(^|[^A-Za-z0-9_])$stem(\\.|\`)" "$dir/README.md" || { echo "FAIL: $f is not named in $dir/README.md"; status=1; }
  done
done
[ $status -eq 0 ] && echo "ok: every source file is named in its folder's README"
exit $status
