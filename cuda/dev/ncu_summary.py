#!/usr/bin/env python3
"""Sums an ncu --csv kernel profile of one sagalux-bench run by kernel and
grid: where a forward pass spends its GPU time.

  ncu --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,\\
dram__throughput.avg.pct_of_peak_sustained_elapsed --csv \\
      build-gpu/app/sagalux-bench -d cuda --random 16,2,4,8,16,2 -s 1280x1280 -r 1 > ncu.csv
  python3 cuda/dev/ncu_summary.py ncu.csv [--top 25]

sagalux-bench with -r 1 runs the network twice (a warm-up, then the timed
run): the second half of the kernels is one forward pass. ncu runs each
kernel alone with its caches flushed and clocks fixed, so the sum is
larger than the bench's time; the shares are what count.
"""
import argparse
import collections
import csv
import re


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    rows = list(csv.DictReader(line for line in open(a.csv) if line.startswith('"')))
    kernels = collections.defaultdict(dict)
    for r in rows:
        k = kernels[int(r["ID"])]
        k["name"], k["grid"] = r["Kernel Name"], r["Grid Size"]
        k[r["Metric Name"]] = float(r["Metric Value"].replace(",", "") or 0)
    ids = sorted(kernels)
    one_pass = ids[len(ids) // 2:]
    groups = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    total = 0.0
    for i in one_pass:
        k = kernels[i]
        m = re.search(r"(\w+_kernel|\w+gemm\w*|cutlass::\w+)", k["name"])
        key = f"{m.group(1) if m else k['name'][:50]} {k['grid']}"
        ms = k["gpu__time_duration.sum"] / 1e6
        g = groups[key]
        g[0] += 1
        g[1] += ms
        g[2] += k.get("sm__throughput.avg.pct_of_peak_sustained_elapsed", 0.0)
        g[3] += k.get("dram__throughput.avg.pct_of_peak_sustained_elapsed", 0.0)
        total += ms
    print(f"one forward pass: {len(one_pass)} kernels, {total:.2f} ms under ncu")
    print("   ms  share  calls   us/call  SM%  DRAM%  kernel grid")
    for key, (n, ms, sm, dram) in sorted(groups.items(), key=lambda kv: -kv[1][1])[: a.top]:
        print(f"{ms:6.2f} {100 * ms / total:5.1f}% {n:5d} {1000 * ms / n:9.1f} {sm / n:5.1f} {dram / n:5.1f}  {key}")


if __name__ == "__main__":
    main()
