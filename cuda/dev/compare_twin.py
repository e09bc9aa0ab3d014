"""sagalux's CUDA path beside the PyTorch twin on the same GPU, same weights.

  python3 cuda/dev/compare_twin.py --bench build-gpu/app/sagalux-bench \
      [--sizes 512,1280] [--models shipped,llformer] [--compile-sizes 1280] [--runs 20]

For each model (the shipped assets/sagalux.sglx, and the LLFormer setting with
random weights, exported once to a temporary .sglx so both sides run the same
numbers) and size: sagalux-bench -d cuda (median ms host to host, median ms
of the network alone by CUDA events, device MiB), the twin in
fp16 autocast eager and, at --compile-sizes, under torch.compile with CUDA
graphs (mode reduce-overhead), each the median of --runs after warm-up, with
the FLOP count and the floor that FLOPs and the fewest bytes give (rates below,
H100 SXM leads: measure them on the machine before trusting the floor)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "train"))

DENSE_FLOPS = 750e12   # fp16 tensor-core matrix products (KINDS.md: 769-798 TFLOP/s bf16 measured here)
OTHER_FLOPS = 120e12   # fp16 elementwise / depthwise / reductions on the CUDA cores (datasheet-level lead)
BANDWIDTH = 3.0e12     # bytes/s, device memory (an H100 SXM copies at ~3 TB/s)


def flops(cfg, h, w):
    """(dense, other) FLOPs of one forward pass: dense = 1x1 and 3x3 convolutions."""
    dense = other = 0.0

    def block(c, heads, n):
        nonlocal dense, other
        hid, d = cfg.hidden(c), c // heads
        dense += n * 2 * (c * 5 * c + c * c + c * 2 * hid + hid * c)
        other += n * (2 * 5 * c * 9 + 2 * 2 * hid * 9 + 4 * c * d + 20 * c + 30 * hid)

    def fuse(c, n):
        nonlocal dense, other
        dense += n * 2 * (3 * c * 9 * c + 3 * c * 3 * c + 3 * c * c)
        other += n * (2 * 9 * c * 9 + 2 * 15 * c + 2 * 9 * c)

    n = [h * w >> (2 * l) for l in range(5)]
    d0 = cfg.dim
    dense += n[0] * 2 * 9 * 3 * d0 + n[0] * 2 * 9 * d0 * 3  # embed, out
    for _ in range(3 * cfg.blocks[0] + cfg.blocks[0] + 3 * cfg.refine):
        block(d0, cfg.heads[0], n[0])
    fuse(d0, n[0])
    fuse(d0, n[0])
    for l in range(4):
        c = d0 << l
        dense += n[l] * 2 * 9 * c * (c // 2)                    # Down(c)
        for _ in range(cfg.blocks[l]):
            block(2 * c, cfg.level_heads(l + 1), n[l + 1])
    for l in range(4):
        c = 2 * d0 << l                                          # Up(c) input width
        dense += n[l + 1] * 2 * 9 * c * 2 * c
    for l in range(3):
        c = d0 << (l + 1)
        dense += n[l + 1] * 2 * c * c                            # skip 1x1
        for _ in range(cfg.blocks[l]):
            block(c, cfg.level_heads(l + 1), n[l + 1])
    return dense, other


def floor_ms(cfg, h, w, weight_count):
    dense, other = flops(cfg, h, w)
    # Fewest bytes: the image in and out, the weights once, fp16.
    bytes_min = 2 * (3 * h * w * 2) + 2 * weight_count
    return dense, other, 1e3 * max(dense / DENSE_FLOPS + other / OTHER_FLOPS, bytes_min / BANDWIDTH)


def run_bench(bench, model, size, runs):
    out = subprocess.run([bench, "-m", model, "-s", f"{size}x{size}", "-d", "cuda", "-r", str(runs)],
                         capture_output=True, text=True, timeout=600).stdout
    m = re.search(r"median_ms ([\d.]+).*device_mib ([\d.]+)", out)
    net = re.search(r"network_ms ([\d.]+)", out)
    nan = float("nan")
    return (float(m.group(1)) if m else nan, float(m.group(2)) if m else nan, float(net.group(1)) if net else nan)


def time_twin(net, size, runs, torch):
    img = torch.rand(1, 3, size, size, device="cuda") * 0.3
    times = []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
        for i in range(runs + 3):
            torch.cuda.synchronize()
            if i == 2:
                torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            net(img)
            torch.cuda.synchronize()
            if i >= 3:
                times.append(time.perf_counter() - t)
    times.sort()
    return 1e3 * times[len(times) // 2], torch.cuda.max_memory_allocated() / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--sizes", default="512,1280")
    ap.add_argument("--models", default="shipped,llformer")
    ap.add_argument("--compile-sizes", default="1280")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    import torch
    from export import export, load_sglx
    from model import LLFORMER, SAGANet
    if not torch.cuda.is_available():
        sys.exit("compare_twin: no CUDA device")
    gpu = torch.cuda.get_device_name(0)
    tmp = tempfile.mkdtemp()
    rows = []
    for name in args.models.split(","):
        if name == "shipped":
            path = os.path.join(HERE, "..", "..", "assets", "sagalux.sglx")
        else:
            torch.manual_seed(0)
            path = os.path.join(tmp, "llformer.sglx")
            export(SAGANet(LLFORMER).eval(), path, fp16=True, description="random LLFormer setting", trained=False)
        net = load_sglx(path).cuda().eval()
        weights = sum(p.numel() for p in net.parameters())
        compiled = None
        for size in (int(s) for s in args.sizes.split(",")):
            ms, mib, net_ms = run_bench(args.bench, path, size, args.runs)
            eager_ms, eager_mib = time_twin(net, size, args.runs, torch)
            comp_ms = float("nan")
            if str(size) in args.compile_sizes.split(","):
                if compiled is None:
                    compiled = torch.compile(net, mode="reduce-overhead")
                comp_ms, _ = time_twin(compiled, size, args.runs, torch)
            dense, other, fl = floor_ms(net.cfg, size, size, weights)
            rows.append((name, size, ms, mib, eager_ms, eager_mib, comp_ms, (dense + other) / 1e12, fl, net_ms))
            print(f"{name} {size}: sagalux {ms:.1f} ms (network {net_ms:.1f}) {mib:.0f} MiB | eager {eager_ms:.1f} ms {eager_mib:.0f} MiB"
                  f" | compile {comp_ms:.1f} ms | {(dense + other) / 1e12:.3f} TFLOP, floor {fl:.2f} ms", flush=True)
        del net, compiled
        torch.cuda.empty_cache()
    print(f"\n{gpu}, torch {torch.__version__}; median of {args.runs}; twin in fp16 autocast")
    print("sagalux ms: host to host (padding, copies, network, blending); network ms: the network alone, CUDA "
          "events, as the twin is timed (model(x) on a device tensor)")
    print("| model | size | sagalux ms | sagalux network ms | sagalux MiB | twin eager ms | twin eager MiB "
          "| twin compile ms | eager / network | TFLOP | floor ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]}² | {r[2]:.1f} | {r[9]:.1f} | {r[3]:.0f} | {r[4]:.1f} | {r[5]:.0f} | {r[6]:.1f} | "
              f"{r[4] / r[9]:.2f} | {r[7]:.3f} | {r[8]:.2f} |")


if __name__ == "__main__":
    main()
