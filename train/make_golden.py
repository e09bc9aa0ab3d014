"""Writes tests/data/golden_tiny.sglx: a tiny random SAGA U-Net, a random
3x50x70 input (not a multiple of 16, so padding is exercised) and the maps
F, X0..X3, Y2..Y0, R3 and O (padded, unclamped) as computed by the twin.

Every parameter is random, including LayerNorm, alpha, beta and tau, so a
swapped or mis-wired weight changes the result. Weights are stored as fp16 and
the twin runs on exactly those fp16 values, in float64, so the file holds the
true answer and the C test measures only its own fp32 error.

  /usr/bin/python3 train/make_golden.py [-o tests/data/golden_tiny.sglx]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import export  # noqa: E402
from model import Config, SAGANet  # noqa: E402

TINY = Config(dim=4, blocks=(1, 1, 1, 1), refine=1, heads=(1, 2, 4, 4))
TAPS = ["F", "X0", "X1", "X2", "X3", "Y2", "Y1", "Y0", "R3", "O"]


def randomise(net: SAGANet, gen: torch.Generator):
    with torch.no_grad():
        for name, p in net.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("alpha", "beta", "tau") or name.startswith("mix_") or (".norm" in name and leaf == "weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif ".norm" in name and leaf == "bias":
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif leaf == "bias":
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            # conv weights keep PyTorch's default (seeded) initialisation
            if name.endswith("attn.qkv.weight"):
                # Conditioning. o = phi_q S / (phi_q . z + 1e-6) does not change
                # when the q rows or the k rows are scaled (S and z scale
                # together), except for pixels where phi_q . z is near the 1e-6
                # epsilon: there o is hypersensitive to rounding, and PyTorch's
                # own fp32 result differs from float64 by ~3e-3. Scaling q and k
                # by 16 (exact in fp16) pushes almost every pixel out of that
                # band, so the test measures the code, not the fixture.
                c = p.shape[1]
                p[: 2 * c].mul_(16.0)
            p.copy_(p.half().float())  # the stored fp16 values are the truth


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default=os.path.join(here, "..", "tests", "data", "golden_tiny.sglx"))
    args = ap.parse_args()
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(1234)
    net = SAGANet(TINY)
    randomise(net, gen)
    img = torch.rand(1, 3, 50, 70, generator=gen)

    net64 = SAGANet(TINY).double()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    taps = {}
    with torch.no_grad():
        out = net64(img.double(), taps)
    extra = {"golden.input": img[0].numpy().astype(np.float32),
             "golden.output": out[0].float().numpy()}
    for name in TAPS:
        extra[f"golden.{name}"] = taps[name][0].float().numpy()
    export(net, args.output, fp16=True, description="golden test: tiny random network", trained=False,
           extra=extra)
    for name in TAPS:
        t = taps[name][0]
        print(f"{name:3s} {tuple(t.shape)} max|x| {t.abs().max().item():.3f}")
    print(f"{args.output}: {os.path.getsize(args.output):,} bytes")


if __name__ == "__main__":
    main()
