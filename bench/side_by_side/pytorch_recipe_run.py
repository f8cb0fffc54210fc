"""One whole run of the airbench94 recipe in PyTorch on an ImageFolder copy of CIFAR-10 (the JPEG copy
here): the accuracy reference for dqbench's `train: {preset: airbench94}` on the same data, CPU, threads.

The recipe as models/README.md states it (Keller Jordan's published airbench94), written for this check
with the network and optimiser of pytorch_side.py: whitening init from the first 5,000 training images,
9.9 epochs of batch 1,024 (last partial batch dropped), label smoothing 0.2 on the summed loss, decoupled
Nesterov SGD with BatchNorm biases at 64x lr, piecewise-linear lr 0.2 -> 1 (23%) -> 0.07 per step, the
lookahead EMA from epoch 3, alternating flip and 2-px reflect translation, TTA level 2 at the end.
Prints one line: "pytorch[2] recipe_run top1 <plain> top1_tta <tta> seconds <wall> steps <n>".
  python3 bench/side_by_side/pytorch_recipe_run.py --data data/cifar10-jpg --threads 2 [--seed 0] [--precision bf16]
with Debian's python3 (PyTorch 1.13, side "pytorch") or the pip flavour's venv (scripts/install-torch-pip.sh:
.venv-torch/bin/python, PyTorch 2.x, side "pytorch2"); it needs torchvision (read_image). About an hour on
this project's 2 cores: run it in the background.
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.io import read_image

from pytorch_side import Airbench94, airbench94_optimizer

MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)


def read_split(root):
    """uint8 N x 3 x 32 x 32 and int64 labels, classes in sorted folder order, files in sorted order."""
    images, labels = [], []
    for label, name in enumerate(sorted(os.listdir(root))):
        for f in sorted(os.listdir(os.path.join(root, name))):
            images.append(read_image(os.path.join(root, name, f)))
            labels.append(label)
    return torch.stack(images), torch.tensor(labels)


def normalise(x_uint8):
    return (x_uint8.float() / 255 - MEAN) / STD


def whitening_weights(images, eps=5e-4):
    """2x2 patch second moments -> eigenvectors / sqrt(eigenvalue + eps), largest first, and negated."""
    c = images.size(1)
    patches = images.double().unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4)
    cov = patches.T @ patches / len(patches)
    values, vectors = torch.linalg.eigh(cov)
    values, vectors = values.flip(0), vectors.T.flip(0)
    scaled = (vectors / (values + eps).sqrt().unsqueeze(1)).reshape(-1, c, 2, 2)
    return torch.cat([scaled, -scaled]).float()


def piecewise(step, total, start=0.2, peak_at=0.23, end=0.07):
    peak = int(peak_at * total)
    if step < peak:
        return start + (1 - start) * step / peak
    return 1 + (end - 1) * (step - peak) / (total - peak)


class Lookahead:
    def __init__(self, model):
        self.live = [t for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()]
        self.average = [t.detach().clone() for t in self.live]

    @torch.no_grad()
    def update(self, decay):
        for a, t in zip(self.average, self.live):
            a.lerp_(t, 1 - decay)
            t.copy_(a)


@torch.no_grad()
def tta_logits(model, x, fmt, autocast):
    def f(v):
        with autocast():
            return model(v.contiguous(memory_format=fmt)).float()

    def mirror(v):
        return 0.5 * f(v) + 0.5 * f(v.flip(-1))

    plain = f(x)
    m = 0.5 * plain + 0.5 * f(x.flip(-1))
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = 0.5 * (mirror(padded[:, :, 0:32, 0:32]) + mirror(padded[:, :, 2:34, 2:34]))
    return plain, 0.5 * m + 0.5 * shifted


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--memory-format", default="channels_last", choices=["contiguous", "channels_last"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    side = "pytorch" if torch.__version__.startswith("1.") else "pytorch2"
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    bf16 = args.precision == "bf16"

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    train_x, train_y = read_split(os.path.join(args.data, "train"))
    test_x, test_y = read_split(os.path.join(args.data, "test"))
    t0 = time.perf_counter()
    batch, epochs = 1024, 9.9
    steps_per_epoch = len(train_x) // batch
    total = math.ceil(steps_per_epoch * epochs)
    model = Airbench94()
    with torch.no_grad():
        model.whiten.bias.zero_()
        model.whiten.weight.copy_(whitening_weights(normalise(train_x[:5000])))
    model = model.to(memory_format=fmt)
    sgd = airbench94_optimizer(model, batch)
    base = [g["lr"] for g in sgd.param_groups]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")
    flips = torch.rand(len(train_x)) < 0.5  # alternating flip: one coin per image
    padded_all = F.pad(normalise(train_x), (2, 2, 2, 2), mode="reflect")
    step, lookahead = 0, None
    for epoch in range(math.ceil(epochs)):
        model.whiten.bias.requires_grad_(epoch < 3)
        model.train()
        order = torch.randperm(len(train_x))
        shifts = torch.randint(0, 5, (len(train_x), 2))
        for i in range(steps_per_epoch):
            ids = order[i * batch:(i + 1) * batch]
            x = torch.stack([padded_all[j, :, shifts[j, 0]:shifts[j, 0] + 32, shifts[j, 1]:shifts[j, 1] + 32] for j in ids])
            flip = flips[ids] ^ (epoch % 2 == 1)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x).contiguous(memory_format=fmt)
            for g, lr in zip(sgd.param_groups, base):
                g["lr"] = lr * piecewise(step, total)
            with autocast():
                logits = model(x)
            loss = loss_fn(logits.float(), train_y[ids])
            sgd.zero_grad(set_to_none=True)
            loss.backward()
            sgd.step()
            step += 1
            if epoch >= 3 and step % 5 == 0:
                if lookahead is None:
                    lookahead = Lookahead(model)
                else:
                    lookahead.update(0.95 ** 5 * (step / total) ** 3)
            if step >= total:
                break
        if lookahead is not None:
            lookahead.update(1.0)
    model.eval()
    correct = correct_tta = 0
    for start in range(0, len(test_x), 500):
        x = normalise(test_x[start:start + 500])
        plain, tta = tta_logits(model, x, fmt, autocast)
        y = test_y[start:start + 500]
        correct += (plain.argmax(1) == y).sum().item()
        correct_tta += (tta.argmax(1) == y).sum().item()
    n = len(test_x)
    print(f"{side} recipe_run top1 {correct / n:.4f} top1_tta {correct_tta / n:.4f} "
          f"seconds {time.perf_counter() - t0:.1f} steps {step}")


if __name__ == "__main__":
    main()
