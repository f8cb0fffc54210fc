#!/bin/sh
# The rooms of the tree import downwards only (README "Layout"): a file of a lower folder that includes
# one of a folder above it is an arrow running back up the house. Each rule below names a folder, an
# include prefix its files must not use, and why; a file that breaks one is listed with its line.
set -u
repo="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$repo"
status=0
check() {  # folder, forbidden include prefix, reason
  hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"$2" "$1" --include='*.cpp' --include='*.h' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "FAIL: $1 includes $2 ($3):"
    echo "$hits" | sed 's/^/  /'
    status=1
  fi
}
check methods datasets/ "selection methods read images through core/image_set.h, never a loader's header"
check methods models/ "a method reaches LibTorch only through hooks that models/ fills (methods/knn/device_search.h)"
check methods patching/ "the patch stage comes after selection: it reads ClassSelection, not the other way"
for above in datasets/ models/ harness/ report/; do
  check patching "$above" "the patch stage sits between methods/ and models/; its networks come through PatchBackend"
done
check report harness/sql.h "the report reads databases through harness/store.h, the one reader of the results database"
for below in core datasets methods patching models harness report; do
  check "$below" cli/ "the command line is the top of the house: nothing includes it"
done
check harness report/ "the report reads what the harness stored; the harness never reads the report"
[ $status -eq 0 ] && echo "ok: no include runs back up"
exit $status
