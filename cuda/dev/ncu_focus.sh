#!/usr/bin/env bash
# ncu on the kernels that decide what to write next, one device call:
# the C=16 block's three implicit-GEMM passes (40% of LLFormer 1280^2), the
# Fuse's two, one deep block at C=128 on each apply (its cuBLAS GEMMs, the
# depthwise kernels, the summary and both applies), and the whole network
# by kernel (cuda/dev/ncu_summary.py). Needs .deps/prefix carried (device
# run with carry [".deps"]); builds build-gpu if it is not there.
#   bash cuda/dev/ncu_focus.sh OUTDIR
# Prints one line a kernel (cuda/dev/ncu_stalls.py: time, SM / DRAM /
# tensor-pipe / issue-slot use, occupancy, the top warp stalls); the raw
# CSVs and ncu's own text go to OUTDIR/ncu_focus.tar.gz.
set -uo pipefail
dest=${1:?OUTDIR}
out=/tmp/ncu_focus
rm -rf "$out" && mkdir -p "$out" "$dest"
# The tarball at exit, and after each profile below: a device call cut
# short by its time limit kills the shell before its EXIT trap runs.
trap 'tar -C /tmp -czf "$dest/ncu_focus.tar.gz" ncu_focus' EXIT
if [ ! -x build-gpu/cuda/bench_block ]; then
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSAGALUX_CUDA=ON \
    -DSAGALUX_TESTS=ON -DSAGALUX_VIEWER=OFF -DCMAKE_PREFIX_PATH="$PWD/.deps/prefix" >"$out/configure.log" 2>&1 &&
    cmake --build build-gpu -j16 >"$out/build.log" 2>&1 || { echo "BUILD FAILED"; grep -m20 error "$out/build.log"; exit 1; }
fi
sections="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy
          --section LaunchStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis"
# NAME KERNEL_REGEX LAUNCHES CMD...: profile up to LAUNCHES launches of the
# kernels matching the regex (the workbench's small check runs included:
# ncu_stalls.py keeps each kernel's largest grid), then the summary line.
# ONLY="block16 network" (environment): just those, for a short call.
profile() {
  local name=$1 regex=$2 count=$3; shift 3
  [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $name "* ]] || return 0
  # shellcheck disable=SC2086
  ncu -k "regex:$regex" --launch-count "$count" $sections --export "$out/$name" --force-overwrite "$@" \
    >"$out/$name.log" 2>&1 || echo "ncu $name: exit $? (see $name.log)"
  ncu -i "$out/$name.ncu-rep" --page raw --csv >"$out/$name.csv" 2>>"$out/$name.log"
  ncu -i "$out/$name.ncu-rep" --page details >"$out/$name.txt" 2>>"$out/$name.log"
  rm -f "$out/$name.ncu-rep"
  echo "== $name: $*"
  python3 cuda/dev/ncu_stalls.py "$out/$name.csv" | tee "$out/$name.stalls.txt"
  tar -C /tmp -czf "$dest/ncu_focus.tar.gz" ncu_focus
}
profile block16 "ig_kernel|saga_reduce" 20 build-gpu/cuda/bench_block --c 16 --size 1280x1280 --runs 1 --variant igemm2/16
profile fuse16 "ig_kernel|fuse_reduce" 20 build-gpu/cuda/bench_fuse --c 16 --size 1280x1280 --runs 1 --variant igemm2
profile deep128 "." 80 build-gpu/cuda/bench_block --c 128 --heads 8 --size 160x160 --runs 1 --variant half-pairs/16
profile apply128 "apply" 8 build-gpu/cuda/bench_block --c 128 --heads 8 --size 160x160 --runs 1 --variant half-apply/16
[ -z "${ONLY:-}" ] || [[ " $ONLY " == *" network "* ]] || exit 0
# The whole network by kernel (ncu flushes caches and fixes clocks per
# kernel: the shares count, not the sum).
ncu --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed \
  --csv build-gpu/app/sagalux-bench -d cuda --random 16,2,4,8,16,2 -s 1280x1280 -r 1 >"$out/network.csv" 2>"$out/network.log"
echo "== the network by kernel (LLFormer 1280^2)"
python3 cuda/dev/ncu_summary.py "$out/network.csv" --top 25 | tee "$out/network.txt"
