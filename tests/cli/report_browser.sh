#!/bin/sh
# `dqbench report` cannot be turned against its reader, checked in a real browser (issue 23). A results
# database whose experiment name, dataset name, method spec and error message hold script and markup is
# rendered by `dqbench report` and loaded by headless Chromium; its scripts must not run: the document
# title stays "dqbench results" and no element gains the attribute the payload sets. Two controls keep
# the check honest: the same payloads unescaped in a bare page do run in this browser, and do not when
# that page carries the report's Content-Security-Policy (the second line of defence on its own).
# Usage: report_browser.sh DQBENCH. Exits 77 (ctest: skipped) when Chromium is not installed.
set -u
dq="$1"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (sh scripts/install-deps.sh --test-tools installs it); the report's escaping"
  echo "      is still checked without a browser by dq_tests \"strings from someone else's database ...\""
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
dom() {  # file -> the DOM after the page's scripts ran
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$dir/profile" \
    --virtual-time-budget=2000 --dump-dom "file://$1" 2> "$dir/browser.log" || { cat "$dir/browser.log"; fail "chromium failed on $1"; }
}
ran() { grep -q '<title>pwned</title>\|data-pwned="1"'; }

cat > "$dir/e.yaml" <<YAML
name: hostile
database: $dir/h.db
cache_dir: $dir/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 10, dim: 2, clusters_per_class: 1}
extractor: {kind: none}
train: none
grid:
  method: [random, "bgfdq(k=2)"]
  ratio: [0.3]
  seed: [0, 1]
YAML
"$dq" run "$dir/e.yaml" > "$dir/run.log" 2>&1 || { cat "$dir/run.log"; fail "dqbench run"; }
title_payload="<script>document.title='pwned'</script>"
dom_payload="<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
sqlite3 "$dir/h.db" <<'SQL' || fail "sqlite3"
UPDATE experiments SET name = '<script>document.title=''pwned''</script>' || name;
UPDATE cells SET experiment = '<script>document.title=''pwned''</script>' || experiment,
  dataset = '<img src=x onerror="document.body.setAttribute(''data-pwned'',''1'')">' || dataset,
  method = method || '<svg onload="document.title=''pwned''"></svg><script>document.title=''pwned''</script>';
UPDATE cells SET status = 'FAILED', error = '</code><script>document.title=''pwned''</script>'
  WHERE method_name = 'random' AND seed = 1;
SQL
"$dq" report --db "$dir/h.db" --out "$dir/report.html" > /dev/null || fail "dqbench report"
grep -q '&lt;script&gt;' "$dir/report.html" || fail "the payload does not reach the page: the check would prove nothing"

# Controls: the payloads run in this browser in a bare page, and not under the report's CSP.
printf '<!DOCTYPE html><html><head><title>dqbench results</title></head><body><p>%s</p><p>%s</p></body></html>\n' \
  "$title_payload" "$dom_payload" > "$dir/control.html"
dom "$dir/control.html" | ran || fail "control: the payloads did not run in a bare page (is JavaScript off?)"
csp=$(grep -o '<meta http-equiv="Content-Security-Policy"[^>]*>' "$dir/report.html") || fail "the report has no CSP meta"
printf '<!DOCTYPE html><html><head>%s<title>dqbench results</title></head><body><p>%s</p><p>%s</p></body></html>\n' \
  "$csp" "$title_payload" "$dom_payload" > "$dir/csp.html"
if dom "$dir/csp.html" | ran; then fail "the report's CSP did not stop inline script"; fi

# The report itself.
dom "$dir/report.html" > "$dir/report.dom"
if ran < "$dir/report.dom"; then fail "a script from the database ran in the report"; fi
grep -q '<title>dqbench results</title>' "$dir/report.dom" || fail "the report's title changed"
grep -q '<h1>dqbench results</h1>' "$dir/report.dom" || fail "the report did not render"
echo "ok: payloads run in a bare page, not under the CSP, not in the report ($("$browser" --version 2>/dev/null))"
