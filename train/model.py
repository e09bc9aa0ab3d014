"""The PyTorch twin of the SAGA U-Net: exactly docs/network.md.

Runs on Debian's python3-torch 1.13 (CPU) and on PyTorch 2.x (CUDA). Parameter
names are the tensor names of the .sglx model file; the C loader
(core/src/model.c) binds them one by one and checks every shape.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    dim: int = 16
    blocks: Tuple[int, int, int, int] = (2, 4, 8, 16)
    refine: int = 2
    heads: Tuple[int, int, int, int] = (1, 2, 4, 8)
    ffn: float = 2.66

    def __post_init__(self):
        self.blocks = tuple(int(b) for b in self.blocks)
        self.heads = tuple(int(h) for h in self.heads)
        # The model file stores ffn as float32; round here so that the twin and
        # the C code compute the same hidden widths.
        self.ffn = float(np.float32(self.ffn))
        if self.dim < 2 or self.dim % 2:
            raise ValueError(f"dim {self.dim} must be even and >= 2")
        for level in range(5):
            c = self.dim << level
            if c % self.level_heads(level):
                raise ValueError(f"{self.level_heads(level)} heads do not divide {c} channels")

    def hidden(self, c: int) -> int:
        return int(math.floor(c * self.ffn))

    def level_heads(self, level: int) -> int:
        """Heads at channel level 0..4 (d0 .. 16 d0): heads[min(level, 3)]."""
        return self.heads[min(level, 3)]

    def as_dict(self):
        return {"dim": self.dim, "blocks": list(self.blocks), "refine": self.refine,
                "heads": list(self.heads), "ffn": self.ffn}


LLFORMER = Config()


def _no_autocast(x: torch.Tensor):
    """Long sums must run in fp32 even under mixed precision (NETWORK.md)."""
    return torch.autocast(device_type=x.device.type, enabled=False)


class LayerNorm2d(nn.Module):
    """Per-pixel LayerNorm over channels, eps 1e-5, biased variance."""

    def __init__(self, c: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):  # (B, C, H, W)
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight[:, None, None] + self.bias[:, None, None]


def conv1x1(cin, cout, bias=False):
    return nn.Conv2d(cin, cout, 1, bias=bias)


def conv3x3(cin, cout, bias=False):
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


def dwconv3x3(c, bias=False):
    return nn.Conv2d(c, c, 3, padding=1, groups=c, bias=bias)


class SAGAAttention(nn.Module):
    """Gated linear attention: S = mean_n phi(k_n) v~_n^T, o_n = phi(q_n)^T S / (phi(q_n)^T z + 1e-6)."""

    def __init__(self, c: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = conv1x1(c, 5 * c)
        self.qkv_dw = dwconv3x3(5 * c)
        self.proj = conv1x1(c, c)

    def forward(self, x):  # (B, C, H, W)
        b, c, h, w = x.shape
        n, heads = h * w, self.heads
        d = c // heads
        q, k, v, gk, gv = self.qkv_dw(self.qkv(x)).chunk(5, dim=1)
        with _no_autocast(x):
            q = F.relu(q.float()).reshape(b, heads, d, n)
            k = (F.relu(k.float()) * torch.sigmoid(gk.float())).reshape(b, heads, d, n)
            v = (v.float() * torch.sigmoid(gv.float())).reshape(b, heads, d, n)
            s = torch.einsum("bhin,bhjn->bhij", k, v) / n          # (B, h, d, d)
            z = k.sum(-1) / n                                      # (B, h, d)
            num = torch.einsum("bhin,bhij->bhjn", q, s)            # (B, h, d, N)
            den = torch.einsum("bhin,bhi->bhn", q, z).unsqueeze(2) + 1e-6
            o = (num / den).reshape(b, c, h, w)
        return self.proj(o.to(x.dtype))


class DualGatedFFN(nn.Module):
    def __init__(self, c: int, hid: int):
        super().__init__()
        self.pw_in = conv1x1(c, 2 * hid)
        self.dw = dwconv3x3(2 * hid)
        self.pw_out = conv1x1(hid, c)

    def forward(self, x):
        t1, t2 = self.dw(self.pw_in(x)).chunk(2, dim=1)
        return self.pw_out(F.gelu(t2) * t1 + F.gelu(t1) * t2)


class Block(nn.Module):
    def __init__(self, c: int, heads: int, hid: int):
        super().__init__()
        self.norm1 = LayerNorm2d(c)
        self.attn = SAGAAttention(c, heads)
        self.norm2 = LayerNorm2d(c)
        self.ffn = DualGatedFFN(c, hid)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def blocks(cfg: Config, level: int, count: int) -> nn.Sequential:
    c = cfg.dim << level
    return nn.Sequential(*[Block(c, cfg.level_heads(level), cfg.hidden(c)) for _ in range(count)])


class Fuse(nn.Module):
    """Layer fusion over three maps: 3x3 softmax attention between whole maps."""

    def __init__(self, c: int):
        super().__init__()
        self.qkv = conv1x1(3 * c, 9 * c, bias=True)
        self.qkv_dw = dwconv3x3(9 * c, bias=True)
        self.tau = nn.Parameter(torch.ones(1))
        self.proj = conv1x1(3 * c, 3 * c, bias=True)
        self.out = conv1x1(3 * c, c)

    def forward(self, a1, a2, a3):
        x = torch.cat([a1, a2, a3], dim=1)
        b = x.shape[0]
        q, k, v = self.qkv_dw(self.qkv(x)).chunk(3, dim=1)
        with _no_autocast(x):
            q = F.normalize(q.float().reshape(b, 3, -1), dim=-1)
            k = F.normalize(k.float().reshape(b, 3, -1), dim=-1)
            a = torch.softmax(q @ k.transpose(-2, -1) * self.tau.float(), dim=-1)   # (B, 3, 3)
            o = (a @ v.float().reshape(b, 3, -1)).reshape(x.shape)
        return self.out(self.proj(o.to(x.dtype)) + x)


class Down(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = conv3x3(c, c // 2)

    def forward(self, x):
        return F.pixel_unshuffle(self.conv(x), 2)


class Up(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = conv3x3(c, 2 * c)

    def forward(self, x):
        return F.pixel_shuffle(self.conv(x), 2)


class Skip(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(c))
        self.beta = nn.Parameter(torch.ones(c))
        self.conv = conv1x1(c, c)

    def forward(self, a, b):
        return self.conv(self.alpha[:, None, None] * a + self.beta[:, None, None] * b)


def reflect_index(n_out: int, n: int) -> torch.Tensor:
    """Indices for reflect padding past the end, periodic when the pad exceeds
    the side (the C code's sx_reflect_index)."""
    if n == 1:
        return torch.zeros(n_out, dtype=torch.long)
    period = 2 * (n - 1)
    i = torch.arange(n_out) % period
    return torch.where(i < n, i, period - i)


class SAGANet(nn.Module):
    def __init__(self, cfg: Config = LLFORMER):
        super().__init__()
        self.cfg = cfg
        d0, b = cfg.dim, cfg.blocks
        self.embed = conv3x3(3, d0)
        self.feat1, self.feat2, self.feat3 = (blocks(cfg, 0, b[0]) for _ in range(3))
        self.fuse_in = Fuse(d0)
        for l in range(4):
            setattr(self, f"down{l}", Down(d0 << l))
            setattr(self, f"enc{l}", blocks(cfg, l + 1, b[l]))
        for l in range(4):
            setattr(self, f"up{l}", Up(2 * d0 << l))
        for l in range(3):
            setattr(self, f"skip{l}", Skip(d0 << (l + 1)))
            setattr(self, f"dec{l}", blocks(cfg, l + 1, b[l]))
        self.latent = blocks(cfg, 0, b[0])
        self.mix_alpha = nn.Parameter(torch.ones(d0))
        self.mix_beta = nn.Parameter(torch.ones(d0))
        self.ref1, self.ref2, self.ref3 = (blocks(cfg, 0, cfg.refine) for _ in range(3))
        self.fuse_out = Fuse(d0)
        self.out = conv3x3(d0, 3)

    def forward_padded(self, img, taps: Optional[Dict[str, torch.Tensor]] = None):
        """img (B, 3, H, W) with H, W multiples of 16."""
        def tap(name, t):
            if taps is not None:
                taps[name] = t
            return t

        f1 = self.feat1(self.embed(img))
        f2 = self.feat2(f1)
        f3 = self.feat3(f2)
        f = tap("F", self.fuse_in(f1, f2, f3))
        x0 = tap("X0", self.enc0(self.down0(f)))
        x1 = tap("X1", self.enc1(self.down1(x0)))
        x2 = tap("X2", self.enc2(self.down2(x1)))
        x3 = tap("X3", self.enc3(self.down3(x2)))
        y2 = tap("Y2", self.dec2(self.skip2(x2, self.up3(x3))))
        y1 = tap("Y1", self.dec1(self.skip1(x1, self.up2(y2))))
        y0 = tap("Y0", self.dec0(self.skip0(x0, self.up1(y1))))
        lat = self.latent(f)
        r0 = self.mix_alpha[:, None, None] * lat + self.mix_beta[:, None, None] * self.up0(y0)
        r1 = self.ref1(r0)
        r2 = self.ref2(r1)
        r3 = tap("R3", self.ref3(r2))
        return tap("O", self.out(self.fuse_out(r1, r2, r3)))

    def forward(self, img, taps: Optional[Dict[str, torch.Tensor]] = None):
        """img (B, 3, H, W) in [0, 1], any size: reflect-padded on the bottom and
        right to multiples of 16, cropped back after. Not clamped."""
        h, w = img.shape[-2:]
        hp, wp = (h + 15) // 16 * 16, (w + 15) // 16 * 16
        x = img
        if (hp, wp) != (h, w):
            x = x.index_select(2, reflect_index(hp, h).to(img.device))
            x = x.index_select(3, reflect_index(wp, w).to(img.device))
        return self.forward_padded(x, taps)[..., :h, :w]


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    net = SAGANet(LLFORMER)
    print(f"LLFormer setting: {parameter_count(net):,} parameters")
