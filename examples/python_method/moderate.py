#!/usr/bin/env python3
"""A selection method for dqbench written in Python (numpy only): the external-command protocol.

dqbench runs this once per cell, in the cell's own folder, which holds
  embeddings.npy  float32, N x d: row i is the embedding of training sample ids[i]
  labels.npy      int64, N: the class of each row
  ids.npy         int64, N: dataset ids (rows grouped by class, ids ascending within a class)
  cell.json       ratio, seed, per-class sizes and budgets, params, the decoded images' path
and reads back
  selection.npy   int64: the dataset ids to keep, each once, in pick order
  keep.npy        optional float32 in (0, 1]: the kept fraction of each pick (patch dropping)

The method: Moderate coreset (Xia et al., ICLR 2023) with the median made a parameter. Per class,
score each sample by how far its distance to the class mean lies from the alpha-quantile of those
distances, and keep the class's budget of lowest scores (ties: lower id first). alpha = 0.5 is the
paper's moderate selection; lower alpha favours easy (central) samples, higher alpha hard ones.

Run it by hand in a cell's folder (dqbench keeps it under <cache_dir>/cells/<cell id>/) to get the
same selection: python3 moderate.py --alpha 0.5
"""
import argparse
import json

import numpy as np


def select(embeddings, labels, ids, budgets, alpha):
    """Dataset ids to keep, class by class (classes in budgets' order)."""
    picks = []
    for label, budget in budgets:
        rows = np.flatnonzero(labels == label)
        z = embeddings[rows].astype(np.float64)
        dist = np.linalg.norm(z - z.mean(axis=0), axis=1)
        score = np.abs(dist - np.quantile(dist, alpha))
        order = np.lexsort((ids[rows], score))  # by score, then by id
        picks.append(ids[rows][order[:budget]])
    return np.concatenate(picks).astype(np.int64) if picks else np.zeros(0, dtype=np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.5, help="quantile of the distances to aim at, in [0, 1]")
    args = parser.parse_args()
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha {args.alpha} is outside [0, 1]")

    with open("cell.json") as f:
        cell = json.load(f)
    embeddings = np.load("embeddings.npy")
    labels = np.load("labels.npy")
    ids = np.load("ids.npy")
    # The per-class budgets dqbench's own methods use: round(ratio * size), halves away from zero.
    budgets = [(c["label"], c["budget"]) for c in cell["classes"]]
    selection = select(embeddings, labels, ids, budgets, args.alpha)
    np.save("selection.npy", selection)
    print(f"moderate(alpha={args.alpha}): {len(selection)} of {len(ids)} samples at ratio {cell['ratio']}")


if __name__ == "__main__":
    main()
