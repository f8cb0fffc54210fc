"""PyTorch's half of bench/pytorch_side_by_side.sh (Debian's python3-torch 1.13 and python3-torchvision).

The same networks as models/networks.cpp, the same batch, input size and thread count, timed the way
bench/side_by_side/side_by_side.cpp times dqbench. Each measurement prints "pytorch <row> <images/s>".
  pytorch_side.py step --arch resnet18 --size 32 --batch 64 --iters 5 --threads 2 [--device cuda]
                  [--precision bf16] [--memory-format channels_last]
  pytorch_side.py epoch --data DIR --arch small_cnn --batch 128 --threads 2 --workers 0
  pytorch_side.py recipe --batch 512 --iters 3 --threads 2 --memory-format channels_last --precision bf16
                  [--device cuda]
On a CUDA device the clock stops after torch.cuda.synchronize(), as side_by_side.cpp does.
The side's name is "pytorch" with Debian's 1.13 and "pytorch2" with a 2.x (the `recipe` rows).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:  # the `recipe` rows need torch only (a pip PyTorch 2.x venv may lack numpy and torchvision)
    import numpy as np
    import torchvision
    from torchvision import transforms
except ImportError:
    np = torchvision = transforms = None


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class CifarResNet18(nn.Module):
    """ResNet-18 with the CIFAR stem (3x3 conv, no max-pool), as in DQ's validate_cifar.py."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        layers, cin = [], 64
        for cout in (64, 128, 256, 512):
            layers += [BasicBlock(cin, cout, 1 if cout == 64 else 2), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def features(self, x):
        return F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


class SmallCnn(nn.Module):
    def __init__(self, channels=3, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU())
        self.head = nn.Linear(128, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


class TorchvisionFeatures(nn.Module):
    """torchvision's ResNet (ImageNet stem) with features() = everything before fc."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.trunk = nn.Sequential(*list(net.children())[:-1])

    def features(self, x):
        return self.trunk(x).flatten(1)

    def forward(self, x):
        return self.net(x)


class Airbench94(nn.Module):
    """The airbench94 network as models/airbench94.cpp builds it (Keller Jordan's published layout):
    2x2 whitening conv (24 filters, fixed) + GELU, three conv groups (3x3 conv, 2x2 max-pool, BatchNorm
    with fixed scale, GELU, 3x3 conv, BatchNorm, GELU) of widths 64/256/256, max-pool over the 3x3 map,
    linear head without bias, times 1/9."""

    def __init__(self, channels=3, num_classes=10, widths=(64, 256, 256)):
        super().__init__()
        self.whiten = nn.Conv2d(channels, 2 * channels * 4, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        groups, cin = [], 2 * channels * 4
        for w in widths:
            groups.append(nn.ModuleDict(dict(conv1=self._conv(cin, w), norm1=self._norm(w),
                                             conv2=self._conv(w, w), norm2=self._norm(w))))
            cin = w
        self.groups = nn.ModuleList(groups)
        self.head = nn.Linear(cin, num_classes, bias=False)

    @staticmethod
    def _conv(cin, cout):
        conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        with torch.no_grad():
            nn.init.dirac_(conv.weight[:cin])
        return conv

    @staticmethod
    def _norm(width):
        norm = nn.BatchNorm2d(width, eps=1e-12, momentum=0.4)
        norm.weight.requires_grad_(False)
        return norm

    def features(self, x):
        x = F.gelu(self.whiten(x))
        for g in self.groups:
            x = F.gelu(g["norm1"](F.max_pool2d(g["conv1"](x), 2)))
            x = F.gelu(g["norm2"](g["conv2"](x)))
        return torch.amax(x, dim=(2, 3))

    def forward(self, x):
        return self.head(self.features(x)) / 9


def airbench94_optimizer(model, batch, lr=11.5, momentum=0.85, weight_decay=0.0153, bn_bias_scale=64.0):
    """Nesterov SGD in the recipe's decoupled form, BatchNorm biases in their own group (64x lr)."""
    scale = 1024 * (1 + 1 / (1 - momentum))
    base, decay = lr / scale, weight_decay * batch / scale
    bn = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    bn_ids = {id(p) for p in bn}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in bn_ids]
    return torch.optim.SGD([dict(params=bn, lr=base * bn_bias_scale, weight_decay=decay / (base * bn_bias_scale)),
                            dict(params=rest, lr=base, weight_decay=decay / base)], momentum=momentum, nesterov=True)


def recipe(args):
    side = "pytorch" if torch.__version__.startswith("1.") else "pytorch2"
    torch.manual_seed(0)
    model = Airbench94()
    print(f"{side} params_airbench94 {sum(p.numel() for p in model.parameters() if p.requires_grad)}")
    memory_format = args.memory_format or "channels_last"
    fmt = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    dev = torch.device(args.device)
    model = model.to(dev, memory_format=fmt)
    x = torch.randn(args.batch, 3, 32, 32).to(dev, memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,)).to(dev)
    row = args.row or f"airbench94_{memory_format}_{args.precision}"
    autocast = autocast_for(dev, args.precision)

    with torch.no_grad():
        model.eval()

        def infer():
            with autocast():
                return model(x)

        print(f"{side} {row}_forward {images_per_second(infer, args.batch, args.iters, dev):.2f}")
    model.train()
    sgd = airbench94_optimizer(model, args.batch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")

    def one():
        sgd.zero_grad(set_to_none=True)
        with autocast():
            logits = model(x)
        loss_fn(logits.float(), y).backward()
        sgd.step()

    print(f"{side} {row}_train {images_per_second(one, args.batch, args.iters, dev):.2f}")


def autocast_for(dev, precision):
    """A factory of autocast contexts: bf16 autocast on `dev`'s kind, or a disabled one for fp32."""
    return lambda: torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def synchronize(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def images_per_second(fn, batch, iters, dev=torch.device("cpu")):
    """Images per second of `fn` (one batch per call) over `iters` calls after one warm-up call, the
    device's queue drained before the clock starts and before it stops."""
    fn()
    synchronize(dev)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    synchronize(dev)
    return batch * iters / (time.perf_counter() - t0)


def make(arch):
    if arch == "resnet18":
        return CifarResNet18()
    if arch == "small_cnn":
        return SmallCnn()
    if arch == "resnet18_imagenet":
        return TorchvisionFeatures(torchvision.models.resnet18(num_classes=10))
    if arch == "resnet50_imagenet":
        return TorchvisionFeatures(torchvision.models.resnet50(num_classes=10))
    raise SystemExit(f"unknown arch {arch}")


def step(args):
    torch.manual_seed(0)
    model = make(args.arch)
    print(f"pytorch params_{args.arch} {sum(p.numel() for p in model.parameters() if p.requires_grad)}")
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    dev = torch.device(args.device)
    model = model.to(dev, memory_format=fmt)
    x = torch.randn(args.batch, 3, args.size, args.size).to(dev, memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,)).to(dev)
    row = args.row or f"{args.arch}_{args.size}"
    autocast = autocast_for(dev, args.precision)

    def infer():
        with autocast():
            return model.features(x)

    with torch.no_grad():
        model.eval()
        print(f"pytorch {row}_forward {images_per_second(infer, args.batch, args.iters, dev):.2f}")
    model.train()
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def one():
        sgd.zero_grad()
        with autocast():
            logits = model(x)
        F.cross_entropy(logits.float(), y).backward()
        sgd.step()

    print(f"pytorch {row}_train {images_per_second(one, args.batch, args.iters, dev):.2f}")


class DecodedImages(torch.utils.data.Dataset):
    """The dump written by `dq_side_by_side dump`: uint8 N x C x H x W and int64 labels."""

    def __init__(self, folder, transform):
        n, c, h, w = (int(v) for v in open(f"{folder}/train_x.shape").read().split())
        self.x = np.fromfile(f"{folder}/train_x.u8", dtype=np.uint8).reshape(n, c, h, w)
        self.y = np.load(f"{folder}/train_y.npy")
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(torch.from_numpy(self.x[i])), int(self.y[i])


def epoch(args):
    # DQ's validate_cifar.py pipeline: RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize.
    tf = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ConvertImageDtype(torch.float32),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ])
    data = DecodedImages(args.data, tf)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=args.workers)
    torch.manual_seed(0)
    model = make(args.arch)
    sgd = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    model.train()
    t0 = time.perf_counter()
    for x, y in loader:
        if len(y) < 2:
            continue
        sgd.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        sgd.step()
    tag = f"epoch_{args.arch}" + (f"_workers{args.workers}" if args.workers else "")
    print(f"pytorch {tag} {len(data) / (time.perf_counter() - t0):.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["step", "epoch", "recipe"])
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--row", default="")
    ap.add_argument("--data", default="")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--memory-format", default=None, choices=["contiguous", "channels_last"],
                    help="default: contiguous for step, channels_last for recipe")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    {"step": step, "epoch": epoch, "recipe": recipe}[args.mode](args)


if __name__ == "__main__":
    main()
