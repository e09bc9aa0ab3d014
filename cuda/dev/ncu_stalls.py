#!/usr/bin/env python3
"""One line per kernel from ncu's raw page: its time, the throughputs that
say what bounds it, and where its warps wait.

    ncu ... --section SpeedOfLight --section WarpStateStats --section Occupancy \\
        --section SchedulerStats --page raw --csv CMD > k.csv
    python3 cuda/dev/ncu_stalls.py k.csv [--stalls 5]

A kernel launched more than once (a workbench checks at a small size, then
times at the real one) is reported at its largest grid, the timed launch.
Stall figures are ncu's warp cycles per issued instruction spent in each
state (smsp__average_warps_issue_stalled_*_per_issue_active): the largest
is where the time goes; "issue" is the share of cycles a scheduler issued.
"""
import argparse
import csv
import re

COLUMNS = [  # (label, metric, format)
    ("us", "gpu__time_duration.sum", lambda v: f"{v:8.1f}"),  # the row's t
    ("SM%", "sm__throughput.avg.pct_of_peak_sustained_elapsed", lambda v: f"{v:5.1f}"),
    ("DRAM%", ("dram__throughput.avg.pct_of_peak_sustained_elapsed",
               "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed"), lambda v: f"{v:5.1f}"),
    ("tensor%", "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active", lambda v: f"{v:5.1f}"),
    ("issue%", "smsp__issue_active.avg.pct_of_peak_sustained_active", lambda v: f"{v:5.1f}"),
    ("occ%", "sm__warps_active.avg.pct_of_peak_sustained_active", lambda v: f"{v:5.1f}"),
    ("regs", "launch__registers_per_thread", lambda v: f"{v:4.0f}"),
]
STALL = re.compile(r"smsp__average_warps_issue_stalled_(\w+?)_per_issue_active\.ratio$")


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--stalls", type=int, default=5)
    a = ap.parse_args()
    lines = [line for line in open(a.csv, errors="replace") if line.startswith('"')]
    rows = list(csv.reader(lines))
    if len(rows) < 2:
        print(f"{a.csv}: no ncu rows (see the .err file beside it)")
        return 1
    header, body = rows[0], [r for r in rows[1:] if r and r[0].isdigit()]
    units = rows[1] if len(rows) > 1 and not rows[1][0].isdigit() else []  # ncu's second row: units
    col = {name: i for i, name in enumerate(header)}
    tcol = col.get("gpu__time_duration.sum")
    to_us = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3, "s": 1e6, "second": 1e6}.get(
        units[tcol] if tcol is not None and tcol < len(units) else "nsecond", 1e-3)
    if "Kernel Name" not in col:
        print(f"{a.csv}: not ncu's raw page (no Kernel Name column)")
        return 1
    best = {}
    for r in body:
        name = r[col["Kernel Name"]]
        grid = r[col["Grid Size"]] if "Grid Size" in col else "?"
        raw = number(r[tcol]) if tcol is not None else None
        t = raw * to_us if raw is not None else 0.0
        size = eval_grid(grid)
        key = short(name)
        if key not in best or size > best[key][0] or (size == best[key][0] and t > best[key][1]):
            best[key] = (size, t, r, grid)
    print(f"{'kernel':48} {'grid':>14} " + " ".join(f"{c[0]:>8}" for c in COLUMNS) + "  top stalls (cycles per issue)")
    for key, (size, t, r, grid) in sorted(best.items(), key=lambda kv: -kv[1][1]):
        cells = []
        for label, metric, fmt in COLUMNS:
            names = (metric,) if isinstance(metric, str) else metric
            i = next((col[m] for m in names if m in col), None)
            v = number(r[i]) if i is not None else None
            if v is not None and label == "us":
                v = t  # in us, from the units row
            cells.append(f"{fmt(v):>8}" if v is not None else f"{'-':>8}")
        stalls = []
        for name, i in col.items():
            m = STALL.match(name)
            v = number(r[i]) if m else None
            if m and v and m.group(1) not in ("selected",):
                stalls.append((v, m.group(1)))
        stalls.sort(reverse=True)
        top = ", ".join(f"{s} {v:.1f}" for v, s in stalls[: a.stalls]) or "-"
        print(f"{key[:48]:48} {grid:>14} " + " ".join(cells) + "  " + top)
    return 0


def eval_grid(grid):
    nums = [int(x) for x in re.findall(r"\d+", grid)]
    p = 1
    for x in nums:
        p *= x
    return p


def short(name):
    """The kernel's name with its template arguments, without namespaces or
    the parameter list: 'void <unnamed>::ig_kernel<16, 2, (Pass)1>(...)'
    -> 'ig_kernel<16, 2, (Pass)1>' (the three C=16 passes stay apart)."""
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"\(anonymous namespace\)::|<unnamed>::", "", name)
    depth = 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0:
            return name[:i][:90]
    return name[:90]


if __name__ == "__main__":
    raise SystemExit(main())
