#!/usr/bin/env python3
"""Exports the MAE reconstruction model (He et al., CVPR 2022) as a TorchScript file in dqbench's MAE
interface (README "GPU"; `patches: {reconstruct: mae, mae_path: mae.pt}`).

The paper's MAE (methods-spec 2.3) is the official `mae_vit_large_patch16` (ViT-L/16 encoder: 24
blocks, width 1024, 16 heads; decoder: 8 blocks, width 512, 16 heads; fixed 2-D sin-cos position
embeddings) with the checkpoint `mae_visualize_vit_large_ganloss.pth` (pixel targets, no norm-pix).
The network below is the official layout, built from timm's Block and PatchEmbed as the official
code is, so the official checkpoint loads into it with every key matched.

dqbench's interface: forward(images N x C x H x W float in [0, 1], mask N x P float, 1 = kept patch
of dqbench's rows x cols grid, row-major) -> N x C x H x W in [0, 1]. Inside: ImageNet normalisation,
bilinear resize to 224 (as DQ's code), the grid mask mapped to MAE's 14 x 14 tokens (a token is
visible to the encoder only when every pixel it covers is kept), the encoder on the visible tokens
(images grouped by their number of visible tokens), the decoder on all tokens, then back to H x W
and [0, 1], and the kept pixels copied from the input, so they come back bit-identical (dqbench
refuses a file that changes them). Grey images are repeated to 3 channels and averaged back.

Downloads the official checkpoint (needs internet), or with --random-init uses random weights (CI and
machines without internet: the same code path, meaningless reconstructions). --arch
mae_vit_tiny_patch16 (width 192, depth 2; decoder 128 wide, depth 1) is for tests only: the same
wrapper at a size a 2-core CI exports and runs in seconds.
"""
import argparse
import functools
import math
from typing import Dict, List

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block, PatchEmbed

CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/mae/visualize/mae_visualize_vit_large_ganloss.pth"

# name -> (embed_dim, depth, heads, decoder_dim, decoder_depth, decoder_heads)
ARCHS: Dict[str, tuple] = {
    "mae_vit_large_patch16": (1024, 24, 16, 512, 8, 16),
    "mae_vit_tiny_patch16": (192, 2, 3, 128, 1, 4),
}


def sincos_2d(dim: int, grid: int) -> torch.Tensor:
    """MAE's fixed 2-D sin-cos position embedding with a zero CLS row: (grid*grid + 1) x dim."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    # The official code embeds the grid's first axis as "w" (xs here) in the first half.
    parts = []
    for pos in (xs.reshape(-1), ys.reshape(-1)):
        out = torch.outer(pos, omega)
        parts += [torch.sin(out), torch.cos(out)]
    emb = torch.cat(parts, dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), emb], dim=0).float()


class MaskedAutoencoderViT(torch.nn.Module):
    """The official models_mae.MaskedAutoencoderViT's parameters and forward, with the random
    masking replaced by a given mask."""

    def __init__(self, embed_dim: int, depth: int, heads: int, dec_dim: int, dec_depth: int, dec_heads: int,
                 img_size: int = 224, patch: int = 16, chans: int = 3):
        super().__init__()
        norm = functools.partial(torch.nn.LayerNorm, eps=1e-6)  # as the official code
        self.patch = patch
        self.grid = img_size // patch
        self.patch_embed = PatchEmbed(img_size, patch, chans, embed_dim)
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = torch.nn.Parameter(sincos_2d(embed_dim, self.grid).unsqueeze(0), requires_grad=False)
        self.blocks = torch.nn.ModuleList([Block(embed_dim, heads, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(depth)])
        self.norm = norm(embed_dim)
        self.decoder_embed = torch.nn.Linear(embed_dim, dec_dim, bias=True)
        self.mask_token = torch.nn.Parameter(torch.zeros(1, 1, dec_dim))
        self.decoder_pos_embed = torch.nn.Parameter(sincos_2d(dec_dim, self.grid).unsqueeze(0), requires_grad=False)
        self.decoder_blocks = torch.nn.ModuleList(
            [Block(dec_dim, dec_heads, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(dec_depth)])
        self.decoder_norm = norm(dec_dim)
        self.decoder_pred = torch.nn.Linear(dec_dim, patch * patch * chans, bias=True)
        torch.nn.init.normal_(self.cls_token, std=0.02)
        torch.nn.init.normal_(self.mask_token, std=0.02)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        n, p, g = x.shape[0], self.patch, self.grid
        x = x.reshape(n, g, g, p, p, 3).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(n, 3, g * p, g * p)

    def predict(self, x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """x: N x 3 x 224 x 224 normalised; visible: N x L bool, the same count in every row.
        Returns the decoder's N x L x (p*p*3) predictions (forward_encoder + forward_decoder)."""
        n, keep = x.shape[0], int(visible[0].sum().item())
        tokens = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        ids_shuffle = torch.argsort((~visible).to(torch.int64), dim=1, stable=True)  # visible first
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :keep]
        tokens = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, tokens.shape[2]))
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(n, -1, -1)
        h = torch.cat([cls, tokens], dim=1)
        for blk in self.blocks:
            h = blk(h)
        h = self.decoder_embed(self.norm(h))
        masks = self.mask_token.expand(n, ids_restore.shape[1] + 1 - h.shape[1], -1)
        body = torch.cat([h[:, 1:, :], masks], dim=1)
        body = torch.gather(body, 1, ids_restore.unsqueeze(-1).expand(-1, -1, h.shape[2]))
        h = torch.cat([h[:, :1, :], body], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            h = blk(h)
        return self.decoder_pred(self.decoder_norm(h))[:, 1:, :]


class DqMae(torch.nn.Module):
    """dqbench's MAE interface around MaskedAutoencoderViT (see the module docstring)."""

    def __init__(self, mae: MaskedAutoencoderViT, size: int = 224):
        super().__init__()
        self.mae = mae
        self.size = size
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        side = int(round(math.sqrt(float(h * w) / float(mask.shape[1]))))
        rows, cols = h // side, w // side
        assert rows * cols == mask.shape[1] and rows * side == h and cols * side == w, "mask does not match a square-patch grid"
        kept_px = mask.view(n, 1, rows, cols).repeat_interleave(side, dim=2).repeat_interleave(side, dim=3)
        x = images.float()
        if c == 1:
            x = x.expand(n, 3, h, w)
        x = (x - self.mean) / self.std
        kept = kept_px
        if h != self.size or w != self.size:
            x = F.interpolate(x, size=[self.size, self.size], mode="bilinear", align_corners=False)
            kept = F.interpolate(kept_px, size=[self.size, self.size], mode="nearest")
        # A token is visible when every pixel under it is kept.
        visible = (-F.max_pool2d(-kept, self.mae.patch)).flatten(1) > 0.5
        pred = torch.zeros(n, visible.shape[1], self.mae.decoder_pred.out_features, dtype=x.dtype, device=x.device)
        counts = visible.sum(1)
        groups: List[int] = torch.unique(counts).tolist()
        for count in groups:
            idx = torch.nonzero(counts == count).squeeze(1)
            pred.index_copy_(0, idx, self.mae.predict(x.index_select(0, idx), visible.index_select(0, idx)).to(x.dtype))
        y = self.mae.unpatchify(pred)
        if h != self.size or w != self.size:
            y = F.interpolate(y, size=[h, w], mode="bilinear", align_corners=False, antialias=True)
        y = (y * self.std + self.mean).clamp(0.0, 1.0)
        if c == 1:
            y = y.mean(dim=1, keepdim=True)
        return torch.where(kept_px > 0.5, images, y.to(images.dtype))


def build(arch: str, random_init: bool) -> torch.jit.ScriptModule:
    mae = MaskedAutoencoderViT(*ARCHS[arch])
    if not random_init:
        if arch != "mae_vit_large_patch16":
            raise SystemExit("the official checkpoint is ViT-L: use --random-init with " + arch)
        state = torch.hub.load_state_dict_from_url(CHECKPOINT_URL, map_location="cpu")["model"]
        missing, unexpected = mae.load_state_dict(state, strict=False)
        if missing:
            raise SystemExit(f"the checkpoint lacks {missing}")
        if unexpected:
            print(f"warning: checkpoint keys not used: {unexpected}")
    return torch.jit.script(DqMae(mae).eval())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the TorchScript file to write")
    ap.add_argument("--arch", default="mae_vit_large_patch16", choices=sorted(ARCHS))
    ap.add_argument("--random-init", action="store_true", help="random weights instead of the official checkpoint (no download)")
    args = ap.parse_args()
    torch.manual_seed(0)
    module = build(args.arch, args.random_init)
    with torch.no_grad():  # kept pixels must come back unchanged, for mixed keep counts
        images = torch.randint(0, 256, (3, 3, 32, 32)).float() / 255
        mask = (torch.rand(3, 64) > 0.3).float()
        mask[0] = 1.0
        out = module(images, mask)
        kept = mask.view(3, 1, 8, 8).repeat_interleave(4, 2).repeat_interleave(4, 3).expand_as(images) > 0.5
        assert out.shape == images.shape and torch.equal(out[kept], images[kept])
    module.save(args.out)
    print(f"wrote {args.out} ({args.arch}, {'random' if args.random_init else 'official'} weights)")


if __name__ == "__main__":
    main()
