"""Train a small CNN on a coreset folder written by `dqbench export`, with numpy and torch only.

    dqbench export EXPERIMENT.yaml --cell ID --images --test-split --out coreset/
    python3 examples/train_from_export/train.py coreset/ --epochs 30

The folder (methods/coreset_files.h): indices.npy (sorted dataset ids), labels.npy, keep.npy,
masks.npy (bool N x P, the patches the cell kept, on the grid in manifest.json), manifest.json and,
with --images, images.npy (uint8 N x H x W x C: the images as the cell trained on them, dropped
patches already filled). Without images.npy this script rebuilds them from your own copy of the
training split (--train-images, uint8 N_train x H x W x C in dataset-id order) and the masks, filling
dropped patches with the manifest's per-channel mean, as the cell did.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_coreset(folder, train_images=None):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    if manifest.get("format") != "dqbench-coreset":
        sys.exit(f"{folder}: not a dqbench export (manifest format {manifest.get('format')!r})")
    ids = np.load(os.path.join(folder, "indices.npy"))
    labels = np.load(os.path.join(folder, "labels.npy"))
    keep = np.load(os.path.join(folder, "keep.npy"))
    assert ids.dtype == np.int64 and np.all(np.diff(ids) > 0), "indices.npy: sorted unique int64 ids"
    images_path = os.path.join(folder, "images.npy")
    if os.path.exists(images_path):
        images = np.load(images_path)
    elif train_images is not None:
        images = rebuild_images(np.load(train_images)[ids], np.load(os.path.join(folder, "masks.npy")), manifest)
    elif os.path.isdir(os.path.join(folder, "images")):
        sys.exit(f"{folder}/images/ is an ImageFolder of PNGs (for torchvision.datasets.ImageFolder); this numpy-only "
                 "example reads images.npy: export with --images (--format npy), or give --train-images")
    else:
        sys.exit(f"{folder} has no images.npy: export with --images, or give --train-images")
    stored = float(keep.sum())
    print(f"{folder}: {len(ids)} images of {manifest['dataset']['train_samples']} "
          f"(storage {stored:.1f} images, ratio {manifest['ratio']}, method {manifest['method']['display']})")
    return images, labels, manifest


def rebuild_images(images, masks, manifest):
    """Fill each image's dropped patches with the per-channel mean (the cell's `mean` reconstruction)."""
    patches = manifest["patches"]
    if patches["reconstruct"] != "mean":
        sys.exit("this cell reconstructed dropped patches with an MAE; bring your own reconstruction")
    rows, cols, px = patches["grid"]["rows"], patches["grid"]["cols"], patches["grid"]["patch_px"]
    fill = np.asarray(patches["mean_fill"], dtype=np.uint8)
    out = images.copy()
    for k in range(rows * cols):
        y, x = (k // cols) * px, (k % cols) * px
        out[~masks[:, k], y:y + px, x:x + px, :] = fill
    return out


class SmallCnn(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm2d(32), nn.BatchNorm2d(64)
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        return self.head(x.mean(dim=(2, 3)))


def to_tensor(images, mean, std):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0)  # N x H x W x C -> N x C x H x W
    return (x - mean) / std


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-images", help="your training split, uint8 N x H x W x C .npy, when there is no images.npy")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    images, labels, manifest = load_coreset(args.folder, args.train_images)
    classes = len(manifest["dataset"]["class_names"])
    x = torch.from_numpy(images).float().div(255.0)
    mean, std = x.mean(dim=(0, 1, 2)).view(1, -1, 1, 1), x.std(dim=(0, 1, 2)).clamp_min(1e-3).view(1, -1, 1, 1)
    train_x, train_y = to_tensor(images, mean, std), torch.from_numpy(labels)
    model = SmallCnn(train_x.shape[1], classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, args.epochs))
    for epoch in range(args.epochs):
        model.train()
        order, total, correct = torch.randperm(len(train_y)), 0.0, 0
        for start in range(0, len(order), args.batch):
            batch = order[start:start + args.batch]
            if len(batch) < 2:
                continue  # BatchNorm needs two samples
            xb = train_x[batch]
            if torch.rand(()) < 0.5:
                xb = xb.flip(3)  # horizontal flip
            logits = model(xb)
            loss = F.cross_entropy(logits, train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            correct += (logits.argmax(1) == train_y[batch]).sum().item()
        schedule.step()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(train_y):.4f}, train top-1 {100.0 * correct / len(train_y):.2f}%")

    test_images = os.path.join(args.folder, "test_images.npy")
    if os.path.exists(test_images):
        model.eval()
        test_x, test_y = to_tensor(np.load(test_images), mean, std), torch.from_numpy(np.load(os.path.join(args.folder, "test_labels.npy")))
        with torch.no_grad():
            hits = sum((model(test_x[i:i + 512]).argmax(1) == test_y[i:i + 512]).sum().item() for i in range(0, len(test_y), 512))
        print(f"test top-1 {100.0 * hits / len(test_y):.2f}% on {len(test_y)} images")
    recorded = manifest["recorded"].get("top1")
    if recorded is not None:
        print(f"(dqbench's own recipe recorded test top-1 {100.0 * recorded:.2f}% for this cell)")


if __name__ == "__main__":
    main()
