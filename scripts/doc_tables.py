#!/usr/bin/env python3
"""The parameter tables in the docs, generated from what the binary's registries declare.

Each registered method, dataset kind and recipe section declares its parameters once (a method
through its ParamTable, core/param_table.h; a dataset kind as its loader's ParamTable; the
`train:` and `extractor:` keys and presets in models/recipe_specs.cpp, the `patches:` keys in
patching/patch_stage.cpp). `dqbench methods --format md`,
`dqbench datasets list --format md` and `dqbench models --format md` print them as Markdown, one
'### `name`' section each. A doc holds a generated block between markers:

    <!-- params-table: methods bgfdq -->      the table of one section (or: datasets <kind>,
    ...                                       models train, models extractor, models patches, models <preset>)
    <!-- end params -->

    <!-- params-all: datasets -->             the whole output of one command (methods, datasets
    ...                                       or models): every heading, description and table
    <!-- end params -->

The docs read are every *.md under methods/, datasets/, harness/, core/, models/, experiments/ and
examples/, and the top-level README.md. --write rewrites only the files whose blocks differ.

Usage (from anywhere; paths are relative to the repository):
    python3 scripts/doc_tables.py --check build/dqbench   # exit 1 and a diff when a block differs
    python3 scripts/doc_tables.py --write build/dqbench   # regenerate every block in place
The ctest `docs_param_tables` runs --check.
"""
import argparse
import difflib
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FOLDERS = ["methods", "datasets", "harness", "core", "models", "patching", "cli", "report", "experiments", "examples"]
OPEN = re.compile(r"^<!-- params-(table|all): (methods|datasets|models)(?: (\S+))? -->$")
CLOSE = "<!-- end params -->"
COMMANDS = {"methods": ["methods", "--format", "md"], "datasets": ["datasets", "list", "--format", "md"],
            "models": ["models", "--format", "md"]}


def generated(dqbench, source, cache={}):
    if source not in cache:
        cache[source] = subprocess.run([dqbench] + COMMANDS[source], check=True, capture_output=True, text=True).stdout
    return cache[source]


def sections(markdown):
    """name -> the lines of its section (heading excluded), from '### `name`' headings."""
    out, name = {}, None
    for line in markdown.splitlines():
        m = re.match(r"^### `([^`]+)`", line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def block_for(dqbench, kind, source, name, where):
    text = generated(dqbench, source)
    if kind == "all":
        return text.strip("\n").splitlines()
    found = sections(text)
    if name not in found:
        what = {"methods": "method", "datasets": "dataset kind", "models": "recipe section or preset"}[source]
        sys.exit(f"{where}: '{name}' is not a registered {what} "
                 f"(known: {', '.join(sorted(found))})")
    lines = [l for l in found[name] if l.startswith("|") or l == "No parameters."]
    return lines


def process(path, dqbench, write):
    lines = path.read_text().splitlines()
    out, i, problems = [], 0, []
    while i < len(lines):
        out.append(lines[i])
        m = OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        where = f"{path.relative_to(ROOT)}:{i + 1}"
        try:
            end = lines.index(CLOSE, i + 1)
        except ValueError:
            sys.exit(f"{where}: '{lines[i]}' has no '{CLOSE}'")
        want = block_for(dqbench, m.group(1), m.group(2), m.group(3), where)
        have = lines[i + 1:end]
        if have != want:
            problems.append((where, have, want))
        out.extend(want)
        out.append(CLOSE)
        i = end + 1
    if write and problems:
        path.write_text("\n".join(out) + "\n")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail when a generated block differs")
    mode.add_argument("--write", action="store_true", help="regenerate the blocks in place")
    parser.add_argument("dqbench", help="the dqbench executable (e.g. build/dqbench)")
    args = parser.parse_args()
    dqbench = str(pathlib.Path(args.dqbench).resolve())
    docs = sorted(p for f in FOLDERS for p in (ROOT / f).rglob("*.md")) + [ROOT / "README.md"]
    blocks, problems = 0, []
    for path in docs:
        if "<!-- params-" not in path.read_text():
            continue
        blocks += sum(1 for line in path.read_text().splitlines() if OPEN.match(line))
        problems += process(path, dqbench, args.write)
    if blocks == 0:
        sys.exit("no generated parameter block found (markers '<!-- params-table: ... -->')")
    for where, have, want in problems:
        print(f"{where}: the generated parameter block is out of date:")
        sys.stdout.writelines(difflib.unified_diff([l + "\n" for l in have], [l + "\n" for l in want], "in the doc", "generated"))
    if problems and not args.write:
        print(f"\n{len(problems)} block(s) out of date; regenerate them with:\n"
              f"  python3 scripts/doc_tables.py --write {args.dqbench}")
        return 1
    if args.write:
        print(f"{len(problems)} of {blocks} block(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
