"""Checks external-command methods through the real binary (run by tests/cli/external_method.sh)."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np

dqbench, src, py = sys.argv[1], sys.argv[2], sys.argv[3]
example = os.path.join(src, "examples", "python_method", "moderate.py")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(args):
    r = subprocess.run([dqbench] + args, capture_output=True, text=True)
    print(r.stdout[-3000:], r.stderr[-3000:])
    return r


def cells(db):
    with sqlite3.connect(db) as c:
        return {m: (cid, st, err) for cid, m, st, err in c.execute("SELECT cell_id, method, status, error FROM cells")}


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] == "Z"


with tempfile.TemporaryDirectory() as d:
    def script(name, body):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write("import os, sys, time\nimport numpy as np\n" + body + "\n")
        return f"{py} {path}"

    dup = script("dup.py", "np.save('selection.npy', np.array([1, 2, 1], dtype=np.int64))")
    oom = script("oom.py", "a = np.empty(4 << 30, dtype=np.uint8)")
    sleeper = script("sleeper.py", "import subprocess\nc = subprocess.Popen(['sleep', '100'])\n"
                     "open('pids.txt', 'w').write(f'{os.getpid()} {c.pid}')\ntime.sleep(100)")
    moderate = f"{py} {example} --alpha {{alpha}}"

    def experiment(name, timeout, methods):
        """Writes <name>.yaml: tiny synthetic features, no training, the given method entries."""
        entries = "".join(f"    - {m}\n" for m in methods)
        with open(f"{d}/{name}.yaml", "w") as f:
            f.write(f"""name: {name}
timeout: {timeout}
database: {d}/ext.db
cache_dir: {d}/cache
memory_budget: 1GiB
datasets:
  blobs: {{kind: synthetic_embeddings, classes: 4, per_class: 50, dim: 8, clusters_per_class: 4}}
extractor: {{kind: none}}
train: none
grid:
  ratio: [0.2]
  method:
{entries}""")

    experiment("ext", "2m", [
        "random",
        f'{{name: external, command: "{moderate}", label: moderate, params: {{alpha: 0.5}}}}',
        f'{{name: external, command: "{moderate}", label: moderate, params: {{alpha: 0.25}}}}',
        f'{{name: external, command: "{dup}", label: dup}}',
        f'{{name: external, command: "{oom}", label: oom}}',
    ])
    experiment("slow", "4s", [f'{{name: external, command: "{sleeper}", label: sleeper}}'])
    r = run(["run", f"{d}/ext.yaml"])
    check(r.returncode != 0, "dqbench run exits non-zero when a cell FAILED")
    got = cells(f"{d}/ext.db")
    print(got)
    check(got["random"][1] == "DONE", "random DONE")
    check(got["moderate(alpha=0.5)"][1] == "DONE", "moderate(alpha=0.5) DONE")
    check(got["moderate(alpha=0.25)"][1] == "DONE", "moderate(alpha=0.25) DONE: the sweep is two cells")
    check(got["dup"][1] == "FAILED" and "selection.npy holds id 1 twice (positions 0 and 2)" in got["dup"][2],
          "duplicate ids: FAILED with the position of the repeat")
    check(got["oom"][1] == "OOM" and "ran out of memory under its limit of 1.0 GiB" in got["oom"][2],
          "an allocation past the 1 GiB limit: OOM")

    # The stored selection is what the script computes on its own from the same folder.
    cell_id = got["moderate(alpha=0.5)"][0]
    folder = f"{d}/cache/cells/{cell_id}"
    with sqlite3.connect(f"{d}/ext.db") as c:
        blob, = c.execute("SELECT ids FROM selections WHERE cell_id = ?", (cell_id,)).fetchone()
        notes = dict(c.execute("SELECT name, value FROM method_notes WHERE cell_id = ?", (cell_id,)))
        log_artefact = c.execute("SELECT path FROM artefacts WHERE kind = 'external_log' AND key LIKE ?",
                                 (cell_id + "%",)).fetchone()
    stored = np.frombuffer(blob, dtype="<i8")
    alone = f"{d}/alone"
    os.makedirs(alone)
    for name in ["embeddings.npy", "labels.npy", "ids.npy", "cell.json"]:
        shutil.copy(f"{folder}/{name}", alone)
    subprocess.run([py, example, "--alpha", "0.5"], cwd=alone, check=True)
    computed = np.load(f"{alone}/selection.npy")
    check(len(stored) == 40 and np.array_equal(stored, computed),
          f"stored selection ({len(stored)} ids) equals the script's own run ({len(computed)} ids)")
    with open(example, "rb") as f:
        check(notes.get("external_script_sha256") == hashlib.sha256(f.read()).hexdigest(), "script sha256 recorded")
    check(notes.get("external_command", "").endswith("moderate.py --alpha 0.5"), "expanded command recorded")
    check(log_artefact is not None and os.path.exists(log_artefact[0]) and "moderate(alpha=0.5): 40 of 200"
          in open(log_artefact[0]).read(), "the command's output is in the recorded log")

    table = run(["table", f"{d}/ext.db"]).stdout
    check(all(m in table for m in ["random", "moderate(alpha=0.5)", "moderate(alpha=0.25)"]),
          "dqbench table shows the labelled methods beside random")

    # The runner's watchdog stops the cell; the command and what it started die with it.
    start = time.time()
    r = run(["run", f"{d}/slow.yaml"])
    check(cells(f"{d}/ext.db").get("sleeper", ("", ""))[1] == "TIMEOUT",
          "a command sleeping past the timeout: TIMEOUT")
    check(time.time() - start < 30, "the timeout is not waited out")
    pids_file = [os.path.join(root, "pids.txt") for root, _, files in os.walk(f"{d}/cache/cells") if "pids.txt" in files]
    check(len(pids_file) == 1, "the sleeper started")
    if pids_file:
        pids = [int(p) for p in open(pids_file[0]).read().split()]
        for _ in range(100):
            if all(gone(p) for p in pids):
                break
            time.sleep(0.05)
        check(all(gone(p) for p in pids), "the command and its child are gone after the timeout")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
