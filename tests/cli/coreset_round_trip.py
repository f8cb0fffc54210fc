"""Coresets out and in, through the real binary (issue 22): `dqbench export` writes what DONE cells
stored (sorted ids, labels, keep fractions, the masks the cell applied, DQ's bins, images as trained
on), the `indices` method reads such a folder back as is, and the re-evaluated cell stores the same
ids, keep fractions and masks and trains to the same top-1 with the same seed. Malformed or
over-budget files end their cell FAILED (never DONE) with the file named; `budget: free` is marked
in the table; export refuses cells that are not DONE and never leaves a partial folder.

Usage: coreset_round_trip.py DQBENCH   (Debian's python3-numpy)
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np

DQBENCH = sys.argv[1]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def dq(*args, ok=True):
    r = subprocess.run([DQBENCH, *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        print(r.stdout, r.stderr)
        sys.exit(f"FAIL: dqbench {' '.join(args)} exited {r.returncode}")
    return r


def rows(db, sql, *params):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute(sql, params).fetchall()


def cells(db):
    """method -> (cell_id, status, error, top1)"""
    out = {}
    for cid, method, status, error in rows(db, "SELECT cell_id, method, status, coalesce(error,'') FROM cells"):
        top1 = rows(db, "SELECT value FROM metrics WHERE cell_id=? AND name='top1'", cid)
        out[method] = (cid, status, error, top1[0][0] if top1 else None)
    return out


def stored(db, cid):
    """The cell's selection and masks as recorded, rows sorted by id."""
    count, ids, keep = rows(db, "SELECT count, ids, keep FROM selections WHERE cell_id=?", cid)[0]
    ids, keep = np.frombuffer(ids, np.int64), np.frombuffer(keep, np.float32)
    order = np.argsort(ids)
    m = rows(db, "SELECT grid_rows, grid_cols, count, masks FROM patch_masks WHERE cell_id=?", cid)
    masks = None
    if m:
        r, c, n, blob = m[0]
        masks = np.unpackbits(np.frombuffer(blob, np.uint8).reshape(n, -1), axis=1)[:, : r * c].astype(bool)[order]
    return ids[order], keep[order], masks


tmp = tempfile.mkdtemp(prefix="dq-coresets-")
head = f"""cache_dir: {tmp}/cache
threads: 2
memory_budget: 4GiB
datasets:
  syn: {{kind: synthetic_images, classes: 3, train_per_class: 40, test_per_class: 50, image_size: 16, noise: 1.2, seed: 1}}
train: {{arch: small_cnn, epochs: 2, batch_size: 16, lr: 0.05, augment: flip_crop, crop_padding: 2}}
patches: {{patch_size: 4, drop: gradcampp, reconstruct: mean}}
"""
source = f"{tmp}/source.yaml"
with open(source, "w") as f:
    f.write(f"name: source\ndatabase: {tmp}/source.db\n{head}"
            "extractor: {kind: proxy, arch: small_cnn, epochs: 1, batch_size: 32}\n"
            "grid:\n  method: [random, \"bgfdq(theta=0.25)\", \"dq(bins=3,theta=0.5)\"]\n  ratio: [0.3]\n  seed: [0]\n")
dq("run", source)
src = cells(f"{tmp}/source.db")
check(all(s == "DONE" for _, s, _, _ in src.values()), f"source cells DONE: {src}")
by_name = {m.split("(")[0]: v for m, v in src.items()}

# 1. Export: one folder per cell, everything the cell stored, rows sorted by id.
for name in ("bgfdq", "dq", "random"):
    cid = by_name[name][0]
    dq("export", source, "--cell", cid[:10], "--out", f"{tmp}/{name}", "--images", "--test-split")
    folder = f"{tmp}/{name}"
    man = json.load(open(f"{folder}/manifest.json"))
    ids, keep, masks = stored(f"{tmp}/source.db", cid)
    got = np.load(f"{folder}/indices.npy")
    check(got.dtype == np.int64 and np.all(np.diff(got) > 0), f"{name}: indices.npy sorted int64")
    check(np.array_equal(got, ids), f"{name}: exported ids == stored ids")
    check(np.array_equal(np.load(f"{folder}/keep.npy"), keep), f"{name}: exported keep == stored keep")
    exported_masks = np.load(f"{folder}/masks.npy")
    check(exported_masks.dtype == bool and exported_masks.shape == (len(ids), 16), f"{name}: masks.npy bool N x 16")
    if masks is not None:
        check(np.array_equal(exported_masks, masks), f"{name}: exported masks == the masks the cell applied")
    else:
        check(name == "random" and exported_masks.all(), f"{name}: no recorded masks only when nothing was dropped")
    check(np.allclose(exported_masks.mean(axis=1), np.load(f"{folder}/keep.npy")), f"{name}: keep == kept share of masks")
    images = np.load(f"{folder}/images.npy")
    check(images.dtype == np.uint8 and images.shape == (len(ids), 16, 16, 3), f"{name}: images.npy N x H x W x C")
    dropped = ~exported_masks
    if dropped.any():  # a dropped patch holds the manifest's mean fill
        i, k = np.argwhere(dropped)[0]
        y, x = (k // 4) * 4, (k % 4) * 4
        check(np.all(images[i, y:y + 4, x:x + 4] == np.asarray(man["patches"]["mean_fill"], np.uint8)),
              f"{name}: dropped patch filled with the mean")
    check(np.load(f"{folder}/test_images.npy").shape == (150, 16, 16, 3), f"{name}: test split exported")
    check(man["cell_id"] == cid and man["ratio"] == 0.3 and man["seed"] == 0, f"{name}: manifest identity")
    check(man["hashes"]["selection_sha256"] == rows(f"{tmp}/source.db", "SELECT sha256 FROM selections WHERE cell_id=?", cid)[0][0],
          f"{name}: manifest selection hash")
    check(abs(man["realised"]["storage_ratio"] - keep.sum() / 120) < 1e-9, f"{name}: realised storage ratio")
    check(man["patches"]["grid"] == {"rows": 4, "cols": 4, "patch_px": 4, "patches": 16}, f"{name}: grid in manifest")
    check((name == "dq") == os.path.exists(f"{folder}/bins.npy"), f"{name}: bins exported for the DQ family only")
# The ImageFolder form: one folder per class, named so that sorting them gives label order, one PNG per id.
dq("export", source, "--cell", by_name["bgfdq"][0][:10], "--out", f"{tmp}/bgfdq_png", "--format", "folder")
labels = np.load(f"{tmp}/bgfdq/labels.npy")
classes = sorted(os.listdir(f"{tmp}/bgfdq_png/images"))
check([c[:3] for c in classes] == ["000", "001", "002"], f"class folders in label order: {classes}")
for label, c in enumerate(classes):
    pngs = os.listdir(f"{tmp}/bgfdq_png/images/{c}")
    want = sorted(f"{i}.png" for i in np.load(f"{tmp}/bgfdq/indices.npy")[labels == label])
    check(sorted(pngs) == want, f"class {label}: one PNG per id")
    check(open(f"{tmp}/bgfdq_png/images/{c}/{pngs[0]}", "rb").read(8) == b"\x89PNG\r\n\x1a\n", "PNG files")
bins = np.load(f"{tmp}/dq/bins.npy")
check(bins.shape == (120,) and set(np.unique(bins)) == {0, 1, 2}, f"dq: every training sample in one of 3 bins: {np.unique(bins)}")

# 2. Import: the folders as they are, under the same recipe, seed and ratio, with no extractor at all.
target = f"{tmp}/target.yaml"
with open(target, "w") as f:
    f.write(f"name: target\ndatabase: {tmp}/target.db\n{head}grid:\n  method:\n"
            f"    - {{name: indices, file: {tmp}/bgfdq, label: theirs_bgfdq}}\n"
            f"    - {{name: indices, file: {tmp}/dq, label: theirs_dq}}\n"
            f"    - {{name: indices, file: {tmp}/random/indices.npy, label: theirs_random}}\n"
            "  ratio: [0.3]\n  seed: [0]\n")
dq("run", target)
dst = cells(f"{tmp}/target.db")
for name in ("bgfdq", "dq", "random"):
    cid, status, error, top1 = dst[f"theirs_{name}"]
    check(status == "DONE", f"import of {name}: {status} {error}")
    a, b = stored(f"{tmp}/source.db", by_name[name][0]), stored(f"{tmp}/target.db", cid)
    check(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), f"{name}: re-evaluated ids and keep == the source's")
    check((a[2] is None and b[2] is None) or np.array_equal(a[2], b[2]), f"{name}: re-evaluated masks == the source's")
    check(top1 is not None and top1 == by_name[name][3], f"{name}: same top-1 with the same seed: {top1} vs {by_name[name][3]}")
    print(f"{name}: top-1 {by_name[name][3]} recorded, {top1} re-evaluated from the export; {len(b[0])} images, storage {b[1].sum():.2f}")
sha = rows(f"{tmp}/target.db", "SELECT config FROM cells")[0][0]
check('"sha256":"' in sha, "the import's cell id covers its files' content")

# 3. Malformed and over-budget files end FAILED with the file named; budget: free is evaluated and marked.
np.save(f"{tmp}/twice.npy", np.array([0, 3, 3], np.int64))
np.save(f"{tmp}/float.npy", np.array([0, 3], np.float64))
np.save(f"{tmp}/all.npy", np.arange(60, dtype=np.int64))  # half the training set at ratio 0.3
bad = f"{tmp}/bad.yaml"
with open(bad, "w") as f:
    f.write(f"name: bad\ndatabase: {tmp}/bad.db\n{head}grid:\n  method:\n"
            f"    - {{name: indices, file: {tmp}/twice.npy}}\n"
            f"    - {{name: indices, file: {tmp}/float.npy}}\n"
            f"    - {{name: indices, file: {tmp}/all.npy}}\n"
            f"    - {{name: indices, file: {tmp}/all.npy, budget: free, label: everything}}\n"
            "  ratio: [0.3]\n  seed: [0]\n")
r = dq("run", bad, ok=False)
check(r.returncode == 1, f"a run with FAILED cells exits 1 (got {r.returncode})")
got = cells(f"{tmp}/bad.db")
for method, needle in (("twice", "rows 1 and 2: id 3 appears twice"), ("float", "dtype 'f8'"), ("all", "storage budget")):
    _, status, error, _ = got[method]
    check(status == "FAILED" and f"{tmp}/{method}.npy" in error and needle in error, f"{method}: FAILED naming the file: {status} {error}")
check(got["everything [budget: free]"][1] == "DONE", f"budget: free is evaluated: {got}")
table = dq("table", bad).stdout
check("everything [budget: free]" in table, f"the table marks the row:\n{table}")

# 4. Export refuses what is not DONE, and an existing folder; nothing partial is left behind.
r = dq("export", bad, "--out", f"{tmp}/bad_export", ok=False)
check(r.returncode == 2 and "is FAILED, not DONE" in r.stderr and "appears twice" in r.stderr, f"export refuses FAILED cells: {r.stderr}")
check(not os.path.exists(f"{tmp}/bad_export"), "no folder after a refused export")
r = dq("export", bad, "--out", f"{tmp}/bad_export", "--skip-unfinished")
check(os.path.exists(f"{tmp}/bad_export/cells.json") and len(json.load(open(f"{tmp}/bad_export/cells.json"))) == 1,
      "--skip-unfinished exports the DONE cell only")
r = dq("export", source, "--cell", by_name["dq"][0][:10], "--out", f"{tmp}/dq", ok=False)
check(r.returncode == 2 and "exists" in r.stderr, f"export refuses an existing folder: {r.stderr}")
leftovers = [n for n in os.listdir(tmp) if ".tmp-" in n]
check(not leftovers, f"no temporary folders left: {leftovers}")

if failures:
    sys.exit(f"{len(failures)} checks failed (files kept in {tmp})")
shutil.rmtree(tmp)
print("ok")
