#!/bin/sh
# No code reads a section's parameters by name outside that section's options table (issue 21): a
# section (a method, `patches:`, `train:`, `extractor:`) is parsed once into its typed options
# (core/param_table.h) and code reads their fields. This fails on any Params::get_string / get_int /
# get_double / get_bool call in the project's sources outside core/params.*, except the experiment
# file's own scalars below, and on any read of a recorded cell's dataset parameter by a literal name
# (`dataset_params.find("per_class")`, `.at(`, `.count(`) outside report/labels.cpp, the one place
# that turns them into typed values (class_count, samples_per_class).
set -u
repo="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$repo"
pattern='\.get_(string|int|double|bool)\(|dataset_params\.(find|at|count)\("'
# Files still allowed to read by name, each with its reason (none: every section has its table).
allowed_files=''
# The experiment file's own scalars (not a section): `threads`, and one axis value of `ratio` or `seed`.
allowed_lines='t.get_int("threads")
p.get_double("ratio")
p.get_int("seed")'

# Lines of `grep -rnE` output that break the rule.
offenders() {
  out=$(grep -rnE "$pattern" "$@" --include='*.cpp' --include='*.h' 2>/dev/null |
    grep -vE '^core/params\.(h|cpp):' | grep -vE '^report/labels\.cpp:.*dataset_params' | grep -vF "$allowed_lines")
  for f in $allowed_files; do out=$(printf '%s\n' "$out" | grep -vF "$f:"); done
  if [ -n "$out" ]; then printf '%s\n' "$out"; fi
}

# The check can fail: a planted read in a scratch copy of one source is found.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/models"
printf 'void f(const dq::Params& p) { (void)p.get_string("cam_network"); }\n' > "$scratch/models/planted.cpp"
if [ -z "$(cd "$scratch" && offenders models)" ]; then
  echo "FAIL: the check does not see a planted read by name"
  exit 1
fi
mkdir -p "$scratch/report"
printf 'double f(const dq::CellResult& c) { return std::atof(c.dataset_params.at("per_class").c_str()); }\n' \
  > "$scratch/report/planted.cpp"
if [ "$(cd "$scratch" && offenders report | wc -l)" -ne 1 ]; then
  echo "FAIL: the check does not see a planted read of a dataset parameter by name"
  exit 1
fi

found=$(offenders core datasets harness methods models report patching cli bench paper_tables examples tests/example_dataset.cpp \
  tests/example_method.cpp)
if [ -n "$found" ]; then
  echo "FAIL: parameters read by name outside their section's options (bind them in a ParamTable):"
  echo "$found"
  exit 1
fi
echo "ok: no section's parameters are read by name outside its options table"
