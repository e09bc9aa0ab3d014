"""Writes a .sglx model file from a checkpoint, or from random weights.

  python3 train/export.py --checkpoint runs/x/last.pt -o assets/sagalux.sglx [--fp16]
  python3 train/export.py --random --dim 16 --blocks 2,4,8,16 --refine 2 -o /tmp/llformer.sglx
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sglx  # noqa: E402
from model import Config, SAGANet  # noqa: E402


def config_kv(cfg: Config, description: str, trained: bool):
    kv = cfg.as_dict()
    kv["trained"] = int(trained)
    kv["description"] = description
    return kv


def state_tensors(net: SAGANet, fp16: bool):
    dtype = np.float16 if fp16 else np.float32
    return {name: t.detach().cpu().float().numpy().astype(dtype) for name, t in net.state_dict().items()}


def export(net: SAGANet, path: str, fp16: bool = False, description: str = "", trained: bool = True,
           extra=None):
    tensors = state_tensors(net, fp16)
    if extra:
        tensors.update(extra)
    sglx.write(path, config_kv(net.cfg, description, trained), tensors)


def load_sglx(path: str) -> SAGANet:
    """The twin with a .sglx file's configuration and weights (fp32, eval mode);
    tensors the network does not have (golden.*) are ignored."""
    kv, tensors = sglx.read(path)
    net = SAGANet(Config(kv["dim"], kv["blocks"], kv["refine"], kv["heads"], kv["ffn"])).eval()
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in tensors.items()
                         if k in net.state_dict()})
    return net


def parse_ints(s):
    return tuple(int(v) for v in s.split(","))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a train.py checkpoint (.pt)")
    src.add_argument("--random", action="store_true", help="random weights (benchmarks, smoke tests)")
    ap.add_argument("--fp16", action="store_true", help="store weights as float16")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--blocks", type=parse_ints, default=(2, 4, 8, 16))
    ap.add_argument("--refine", type=int, default=2)
    ap.add_argument("--heads", type=parse_ints, default=(1, 2, 4, 8))
    ap.add_argument("--ffn", type=float, default=2.66)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.checkpoint:
        ck = torch.load(args.checkpoint, map_location="cpu")
        net = SAGANet(Config(**ck["config"]))
        net.load_state_dict(ck["model"])
        desc, trained = ck.get("description", f"trained, step {ck.get('step', '?')}"), True
    else:
        torch.manual_seed(args.seed)
        net = SAGANet(Config(args.dim, args.blocks, args.refine, args.heads, args.ffn))
        desc, trained = f"UNTRAINED random weights (seed {args.seed})", False
    export(net, args.output, args.fp16, desc, trained)
    n = sum(p.numel() for p in net.parameters())
    print(f"{args.output}: {n:,} parameters, {os.path.getsize(args.output):,} bytes")


if __name__ == "__main__":
    main()
