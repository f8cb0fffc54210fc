#!/usr/bin/env python3
"""Exports torchvision's ImageNet ResNet-18 as a TorchScript file for dqbench (README "GPU").

The paper's feature extractor and GradCAM++ network (methods-spec 0 and 2.3): torchvision's ResNet-18
with ImageNet weights, images bilinearly resized to 224 x 224 (align_corners=False, as DQ's code),
ImageNet normalisation. One file serves both roles:

  extractor: {kind: torchscript, path: resnet18.pt, layer: features, normalize: imagenet}
  patches:   {drop: gradcampp, cam_network: torchscript, cam_path: resnet18.pt, cam_target: predicted}

Input: N x 3 x H x W float, already ImageNet-normalised by dqbench (`normalize: imagenet`); the module
resizes to 224 inside (normalising then resizing equals resizing then normalising: both are linear
per channel and bilinear weights sum to 1).
  features(x) -> N x 512, the global-average-pooled layer4 (the embedding, before fc)
  forward(x)  -> (layer4 activation N x 512 x 7 x 7, ImageNet logits N x 1000): GradCAM++'s pair

Downloads torchvision's IMAGENET1K_V1 weights (needs internet), or with --random-init uses random
weights (CI, and machines without internet: the same code path, meaningless features).
"""
import argparse

import torch
import torch.nn.functional as F
import torchvision


class DqResNet18(torch.nn.Module):
    def __init__(self, net: torch.nn.Module, size: int):
        super().__init__()
        self.size = size
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.avgpool, self.fc = net.avgpool, net.fc

    def layer4_map(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] != self.size or x.shape[-1] != self.size:
            x = F.interpolate(x, size=[self.size, self.size], mode="bilinear", align_corners=False)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.layer4_map(x)), 1)

    def forward(self, x: torch.Tensor):
        a = self.layer4_map(x)
        return a, self.fc(torch.flatten(self.avgpool(a), 1))


def build(random_init: bool, size: int = 224) -> torch.jit.ScriptModule:
    weights = None if random_init else torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    net = torchvision.models.resnet18(weights=weights)
    module = torch.jit.script(DqResNet18(net, size).eval())
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the TorchScript file to write")
    ap.add_argument("--random-init", action="store_true", help="random weights instead of ImageNet's (no download)")
    ap.add_argument("--size", type=int, default=224, help="input resize (DQ's code: 224)")
    args = ap.parse_args()
    torch.manual_seed(0)
    module = build(args.random_init, args.size)
    with torch.no_grad():  # a smoke test of both entry points before writing
        a, scores = module(torch.zeros(2, 3, 32, 32))
        assert a.shape == (2, 512, args.size // 32, args.size // 32) and scores.shape == (2, 1000)
        assert module.features(torch.zeros(2, 3, 32, 32)).shape == (2, 512)
    module.save(args.out)
    print(f"wrote {args.out} ({'random' if args.random_init else 'ImageNet'} weights, resize to {args.size})")


if __name__ == "__main__":
    main()
