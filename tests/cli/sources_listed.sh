#!/bin/sh
# Every C++ source file of the tree is named in CMakeLists.txt (sources are listed explicitly, not
# globbed): a new method or loader whose line was forgotten would otherwise be silently left out
# of the build, and its registration with it.
set -u
repo="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$repo"
status=0
for f in $(find core datasets methods patching harness report models cli tests bench -name '*.cpp' | sort); do
  grep -q "^ *$f\$\|[ (]$f[ )]\|^ *$f " CMakeLists.txt || { echo "FAIL: $f is not listed in CMakeLists.txt"; status=1; }
done
for f in $(grep -o '^  [a-z_/]*\.cpp$' CMakeLists.txt); do
  [ -f "$f" ] || { echo "FAIL: CMakeLists.txt lists $f, which does not exist"; status=1; }
done
[ $status -eq 0 ] && echo "ok: every source file is listed"
exit $status
