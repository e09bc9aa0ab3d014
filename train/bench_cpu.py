"""C CPU path vs the PyTorch twin on the CPU, side by side: same weights (one
random .sglx file per configuration), same image size, same thread count.
Each measurement runs in its own process so peak RSS is its own.

  /usr/bin/python3 train/bench_cpu.py [--threads N] [--sizes 512,1280] [--runs 3]
      [--configs small,llformer] [--bench build/app/sagalux-bench]

Prints one line per (configuration, size, implementation): median ms and peak
RSS. A tool, not a test: numbers depend on the machine; name it when quoting.
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {
    # name: (dim, blocks, refine, heads)
    "small": (8, (1, 1, 1, 1), 1, (1, 2, 4, 8)),
    "llformer": (16, (2, 4, 8, 16), 2, (1, 2, 4, 8)),
}


def torch_child(model_path, size, threads, runs):
    """Runs in a fresh process: loads the .sglx into the twin, times it."""
    import torch
    sys.path.insert(0, HERE)
    from export import load_sglx
    torch.set_num_threads(threads)
    net = load_sglx(model_path)
    img = torch.rand(1, 3, size, size) * 0.3
    times = []
    with torch.inference_mode():
        for r in range(runs + 1):
            t0 = time.perf_counter()
            net(img)
            if r:
                times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median_ms {times[len(times) // 2]:.1f} min_ms {times[0]:.1f} peak_rss_mib {rss:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sizes", default="512,1280")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--configs", default="small,llformer")
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build", "app", "sagalux-bench"))
    ap.add_argument("--torch-child", nargs=4, metavar=("MODEL", "SIZE", "THREADS", "RUNS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        m, s, th, r = args.torch_child
        torch_child(m, int(s), int(th), int(r))
        return
    import torch
    print(f"machine: {os.uname().nodename}, {os.cpu_count()} cores; threads {args.threads}; "
          f"torch {torch.__version__}; median of {args.runs} runs after one warm-up")
    print(f"{'config':9s} {'size':>5s} {'impl':6s} {'median ms':>10s} {'peak RSS MiB':>13s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs.split(","):
            dim, blocks, refine, heads = CONFIGS[name]
            path = os.path.join(tmp, f"{name}.sglx")
            subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "--random", "--dim", str(dim),
                            "--blocks", ",".join(map(str, blocks)), "--refine", str(refine),
                            "--heads", ",".join(map(str, heads)), "-o", path], check=True, stdout=subprocess.DEVNULL)
            for size in map(int, args.sizes.split(",")):
                c = subprocess.run([args.bench, "-m", path, "-s", f"{size}x{size}", "-t", str(args.threads),
                                    "-r", str(args.runs)], check=True, capture_output=True, text=True).stdout
                cm = float(re.search(r"median_ms ([\d.]+)", c).group(1))
                cr = float(re.search(r"peak_rss_mib ([\d.]+)", c).group(1))
                act = float(re.search(r"activation_peak_mib ([\d.]+)", c).group(1))
                print(f"{name:9s} {size:5d} {'C':6s} {cm:10.1f} {cr:13.1f}   (activations {act:.1f} MiB)", flush=True)
                p = subprocess.run([sys.executable, __file__, "--torch-child", path, str(size), str(args.threads),
                                    str(args.runs)], check=True, capture_output=True, text=True).stdout
                pm = float(re.search(r"median_ms ([\d.]+)", p).group(1))
                pr = float(re.search(r"peak_rss_mib ([\d.]+)", p).group(1))
                print(f"{name:9s} {size:5d} {'torch':6s} {pm:10.1f} {pr:13.1f}   (C/torch time {cm / pm:.2f})",
                      flush=True)


if __name__ == "__main__":
    main()
