"""The PyTorch twin on a CUDA GPU: a yardstick for the CUDA backend, and a
check that the fp32 long sums hold under fp16/bf16 autocast.

  python3 train/bench_twin_gpu.py [--size 1280] [--runs 3] [--presets LLFormer,S,M]

Prints autocast-vs-fp32 differences on a small random network, then each
preset's time (median of RUNS) and peak memory at SIZE x SIZE under fp16
autocast (random weights, batch 1, after a warm-up run). Measured 2026-11-22 on one
H100 with PyTorch 2.11, --presets S,M,LLFormer --runs 5 at 1280 x 1280: S 72.6 ms,
M 80.5 ms, LLFormer 191.6 ms, peaks 2.91 / 2.93 / 3.01 GiB (an earlier single run
of the LLFormer setting on another H100 lease printed 154 ms: lease-to-lease
spread); at 2560 x 2560 S 278.2 ms / 11.43 GiB, M 308.3 ms / 11.45 GiB."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, SAGANet  # noqa: E402
from train import PRESETS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1280)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--presets", default="LLFormer", help="comma-separated: " + ",".join(PRESETS))
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_twin_gpu: no CUDA device")
    print("torch", torch.__version__, torch.cuda.get_device_name(0))
    torch.manual_seed(0)
    small = SAGANet(Config(16, (1, 1, 1, 1), 1, (1, 2, 4, 8))).cuda().eval()
    x = torch.rand(1, 3, 250, 333, device="cuda") * 0.3
    with torch.no_grad():
        ref = small(x)
        for dt in (torch.float16, torch.bfloat16):
            with torch.autocast("cuda", dtype=dt):
                y = small(x)
            print(f"{dt} autocast vs fp32: max |diff| {(y.float() - ref).abs().max().item():.2e}, "
                  f"finite {torch.isfinite(y).all().item()}")
    img = torch.rand(1, 3, args.size, args.size, device="cuda")
    for name in args.presets.split(","):
        if name not in PRESETS:
            sys.exit(f"bench_twin_gpu: unknown preset {name!r} (have {', '.join(PRESETS)})")
        net = SAGANet(PRESETS[name]).cuda().eval()
        times = []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
            for i in range(args.runs + 1):
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                t = time.perf_counter()
                net(img)
                torch.cuda.synchronize()
                if i:
                    times.append(time.perf_counter() - t)
        times.sort()
        print(f"preset {name} {args.size}x{args.size} fp16 autocast: {1e3 * times[len(times) // 2]:.1f} ms "
              f"(median of {args.runs}), peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB", flush=True)
        del net
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
