#!/usr/bin/env bash
# One device call: build everything on the GPU machine, run the whole test
# suite (GPU tests included), compute-sanitizer on the golden test, and time
# the CUDA path. Needs .deps/cmocka (.ci/gpu-machine-deps, run here first)
# carried: device run with carry [".deps"].
#   bash cuda/dev/gpu_check.sh [OUTDIR]
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSAGALUX_CUDA=ON \
  -DSAGALUX_TESTS=ON -DCMAKE_PREFIX_PATH="$PWD/.deps/cmocka" >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build build-gpu -j16 >"$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -30; exit 1; }
ctest --test-dir build-gpu --output-on-failure >"$out/ctest.log" 2>&1; echo "ctest exit $?"
grep -E "tests passed|Failed|SKIP|CUDA device" "$out/ctest.log" | head -20
build-gpu/tests/test_golden 2>&1 | grep -A12 "CUDA device" | head -14
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    compute-sanitizer --tool $tool --error-exitcode 9 build-gpu/tests/test_golden >"$out/sanitizer-$tool.log" 2>&1
    echo "compute-sanitizer $tool: exit $? ($(grep -c 'ERROR SUMMARY: 0 errors' "$out/sanitizer-$tool.log") clean summaries)"
  done
fi
for size in 256x256 512x512 1280x1280 2048x2048; do
  build-gpu/app/sagalux-bench -m assets/sagalux.sglx -s $size -d cuda -r 20 2>&1 | tail -1 | sed "s/^/cuda $size: /"
done | tee "$out/bench.txt"
