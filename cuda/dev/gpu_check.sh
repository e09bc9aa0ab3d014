#!/usr/bin/env bash
# One device call: build everything on the GPU machine, run the whole test
# suite (GPU tests included), prove the parity test fails on a planted kernel
# bug, compute-sanitizer on the GPU tests, per-step profiles and the benchmark
# table. Needs .deps/prefix (cmocka and cJSON: .ci/gpu-machine-deps, run here first) carried:
# device run with carry [".deps"].
#   bash cuda/dev/gpu_check.sh [OUTDIR] [full|checks|profiles|planted|perf|quick|optin]
# checks: build, tests, sanitizer; profiles: build, per-step profiles, the
# workbench (checks with these took over 600 s from a cold machine on the
# H200, session 14, and the device call lost everything); planted: the planted
# bugs (one copy of the sources per bug, built in parallel); perf: build, the
# benchmark table, each precision, the PyTorch twin; quick: checks and
# profiles with the table at 1280^2 only. full is all of them: longer than one 10-minute
# device call, so run checks, profiles, planted and perf as four. optin: the short
# call that decides the opt-in kernels (parity and golden with them, their
# workbench rows, the optin.txt table), about four minutes. Logs go to
# OUTDIR/gpu_check.tar.gz (the device tool brings back at most 8 files).
set -uo pipefail
dest=${1:-${OUT:-/tmp/gpu_check}}
mode=${2:-full}
out=/tmp/gpu_check_logs
rm -rf "$out" && mkdir -p "$out" "$dest"
# Everything printed goes into the tarball too (console.txt): the device
# call's output keeps only its tail, which once cut the parity lines off.
# At exit the tee is let finish before the tarball is written.
exec 3>&1 > >(tee "$out/console.txt") 2>&1
tee_pid=$!
# (Polled, not waited: bash cannot wait for a process substitution's tee.)
trap 'exec 1>&3 2>&3; while kill -0 $tee_pid 2>/dev/null; do sleep 0.1; done; tar -C /tmp -czf "$dest/gpu_check.tar.gz" gpu_check_logs' EXIT
checks=1; profiles=1; planted=1; perf=1; optin_mode=0
case $mode in
  optin) checks=0 profiles=0 planted=0 perf=0 optin_mode=1;;
  checks) profiles=0 planted=0 perf=0;;
  profiles) checks=0 planted=0 perf=0;;
  planted) checks=0 profiles=0 perf=0;;
  perf) checks=0 profiles=0 planted=0;;
  quick) planted=0;;
esac
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
configure() { # SRC BUILD
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSAGALUX_CUDA=ON \
    -DSAGALUX_TESTS=ON -DCMAKE_PREFIX_PATH="$PWD/.deps/prefix" >"$out/configure.log" 2>&1 &&
    cmake --build "$2" -j16 >"$out/build.log" 2>&1
}
configure . build-gpu || { tail -30 "$out/configure.log"; grep -E "error" "$out/build.log" | head -30; exit 1; }
if [ $checks = 1 ]; then
ctest --test-dir build-gpu --output-on-failure >"$out/ctest.log" 2>&1; echo "ctest exit $?"
grep -E "tests passed|\*\*\*Failed|SKIP" "$out/ctest.log" | head -20
build-gpu/tests/test_golden 2>&1 | grep -A11 "CUDA device" | head -12
build-gpu/tests/test_backend_parity 2>&1 | grep -E "^dim|worst|FAIL|OK|SKIP" | head -20
# The kernels the environment picks instead of the defaults (the ones they
# replaced, and the opt-in apply), all at once: each must pass the same tests.
optin="SAGALUX_CUDA_DEEP=scalar SAGALUX_CUDA_BLOCK=igemm SAGALUX_CUDA_FUSE=igemm SAGALUX_CUDA_APPLY=mma"
echo "== with $optin"
env $optin build-gpu/tests/test_backend_parity 2>&1 | grep -E "^dim|worst|FAIL|OK|SKIP" | head -20
env $optin build-gpu/tests/test_golden 2>&1 | grep -A11 "CUDA device" | head -12
build-gpu/tests/test_gpu_fallback 2>&1 | grep -E "warnings|OK|FAIL|SKIP" | head -5
build-gpu/tests/test_image_io 2>&1 | grep -E "ERROR|FAIL" | head -5

# TOOL TARGET: where compute-sanitizer's log of that run goes.
sanitizer_log() { echo "$out/sanitizer-$1-$(echo "$2" | tr -c 'a-z0-9_\n' '-').log"; }
# TOOL TARGET: compute-sanitizer on one test or workbench run; its log and
# a one-line verdict (LOG.line) in $out.
sanitize() {
  local log
  log=$(sanitizer_log "$1" "$2")
  # shellcheck disable=SC2086
  timeout 420 compute-sanitizer --tool "$1" --error-exitcode 9 build-gpu/$2 >"$log" 2>&1
  echo "compute-sanitizer $1 $2: exit $? | $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1)" >"$log.line"
}
if command -v compute-sanitizer >/dev/null; then
  sanitized=()
  for tool in memcheck racecheck; do
    # racecheck runs the fused kernels through the workbench at a small size
    # (the parity test under racecheck takes over six minutes).
    for t in tests/test_golden tests/test_gpu_fallback "cuda/bench_block --c 16 --size 96x80 --runs 1" \
             "cuda/bench_block --c 32 --heads 2 --size 96x80 --runs 1" "cuda/bench_fuse --c 16 --size 96x80 --runs 1" \
             "cuda/bench_block --c 64 --heads 4 --size 96x80 --runs 1 --variant half" \
             "cuda/bench_block --c 16 --size 96x80 --runs 1 --variant fused-tc/16" \
             "cuda/bench_block --c 16 --size 96x80 --runs 1 --variant igemm/16" \
             "cuda/bench_block --c 32 --heads 2 --size 96x80 --runs 1 --variant igemm/16" \
             "cuda/bench_block --c 16 --size 96x80 --runs 1 --variant igemm2/16" \
             "cuda/bench_block --c 32 --heads 2 --size 96x80 --runs 1 --variant igemm2/16" \
             "cuda/bench_block --c 16 --size 96x80 --runs 1 --variant igemm2o/16" \
             "cuda/bench_block --c 64 --heads 4 --size 96x80 --runs 1 --variant half/16" \
             "cuda/bench_block --c 256 --heads 8 --size 48x40 --runs 1 --variant half/16" \
             "cuda/bench_block --c 128 --heads 8 --size 48x40 --runs 1 --variant half-fused/16" \
             "cuda/bench_block --c 128 --heads 8 --size 48x40 --runs 1 --variant half-pairs/16" \
             "cuda/bench_block --c 256 --heads 8 --size 48x40 --runs 1 --variant half-apply/16" \
             "cuda/bench_dw --size 96x80 --runs 1" \
             "cuda/bench_fuse --c 16 --size 96x80 --runs 1 --variant fused-tc" \
             "cuda/bench_fuse --c 16 --size 96x80 --runs 1 --variant igemm" \
             "cuda/bench_fuse --c 16 --size 96x80 --runs 1 --variant igemm2" \
             "cuda/bench_conv --size 96x80 --runs 1" \
             $([ $tool = memcheck ] && echo tests/test_backend_parity); do
      # Six at a time (the instrumented runs are mostly CPU time: one after
      # another they took most of a device call's ten minutes).
      while [ "$(jobs -rp | wc -l)" -ge 6 ]; do wait -n; done
      sanitize $tool "$t" &
      sanitized+=("$(sanitizer_log $tool "$t")")
    done
  done
  wait
  for log in "${sanitized[@]}"; do cat "$log.line"; done
fi
fi # checks

if [ $profiles = 1 ]; then
# Libjpeg there (a test_image_io case differs from Debian's).
ldd build-gpu/tests/test_image_io | grep -i jpeg
for f in $(ldd build-gpu/tests/test_image_io | awk '/jpeg/ {print $3}'); do strings "$f" | grep -i -m2 "turbo\|version"; done

# Per-step device times of the second (warm) run.
export SAGALUX_CUDA_PROFILE=1
build-gpu/app/sagalux-bench -m assets/sagalux.sglx -s 1280x1280 -d cuda -r 1 >"$out/profile-shipped-1280.txt" 2>&1
build-gpu/app/sagalux-bench --random 16,2,4,8,16,2 -s 1280x1280 -d cuda -r 1 >"$out/profile-llformer-1280.txt" 2>&1
SAGALUX_CUDA_UNFUSED=1 build-gpu/app/sagalux-bench --random 16,2,4,8,16,2 -s 1280x1280 -d cuda -r 1 >"$out/profile-llformer-unfused-1280.txt" 2>&1
unset SAGALUX_CUDA_PROFILE
for p in shipped llformer llformer-unfused; do
  echo "== $p: slowest steps at 1280^2 (warm run)"
  grep -E "cuda step|steps total" "$out/profile-$p-1280.txt" | tail -n $(( $(grep -c "cuda step " "$out/profile-$p-1280.txt") / 2 + 1 )) >"$out/warm-$p.txt"
  grep "cuda step " "$out/warm-$p.txt" | sort -t: -k2 -g -r | head -6; grep "steps total" "$out/warm-$p.txt"
done
# The workbench: each block variant checked against the CPU and timed, at
# the two widths the fused kernels take and the deep levels' fp16 widths.
build-gpu/cuda/bench_block --c 16 --heads 1 --size 1280x1280 | tee "$out/workbench.txt"
build-gpu/cuda/bench_block --c 32 --heads 2 --size 640x640 | tail -n +3 | tee -a "$out/workbench.txt"
build-gpu/cuda/bench_block --c 64 --heads 4 --size 320x320 | tail -n +3 | tee -a "$out/workbench.txt"
build-gpu/cuda/bench_block --c 256 --heads 8 --size 80x80 | tail -n +3 | tee -a "$out/workbench.txt"
build-gpu/cuda/bench_fuse --c 16 --size 1280x1280 | tee -a "$out/workbench.txt"
build-gpu/cuda/bench_conv --size 1280x1280 | tee -a "$out/workbench.txt"
build-gpu/cuda/bench_dw --size 1280x1280 | tee -a "$out/workbench.txt"
# A check above 16,384 pixels: the LayerNorm's many-blocks path.
build-gpu/cuda/bench_block --c 128 --heads 8 --check 160x110 --size 160x160 --variant half/16 | tail -n +3 | tee -a "$out/workbench.txt"
for c in "64 --heads 4 --size 320x320" "128 --heads 8 --size 160x160" "256 --heads 8 --size 80x80"; do
  for v in half/16 half-pairs/16 half-apply/16; do build-gpu/cuda/bench_block --c $c --variant $v | tail -n +3 | grep -v "^\*"; done
done | tee -a "$out/workbench.txt"

fi # profiles

if [ $optin_mode = 1 ]; then
optin="SAGALUX_CUDA_DEEP=scalar SAGALUX_CUDA_BLOCK=igemm SAGALUX_CUDA_FUSE=igemm SAGALUX_CUDA_APPLY=mma"
for e in - $optin "$optin" SAGALUX_CUDA_BLOCK=igemm2; do
  echo "== parity and golden with ${e/-/the defaults}"
  env ${e/-/} build-gpu/tests/test_backend_parity 2>&1 | grep -E "worst|FAIL|OK|SKIP" | head -8
  env ${e/-/} build-gpu/tests/test_golden 2>&1 | grep -E "FAILED|PASSED" | head -3
done
{ build-gpu/cuda/bench_dw --size 1280x1280
  build-gpu/cuda/bench_block --c 16 --heads 1 --size 1280x1280 | grep -E "igemm|CHECK"
  build-gpu/cuda/bench_fuse --c 16 --size 1280x1280 | grep -E "igemm|CHECK"
  for c in "64 --heads 4 --size 320x320" "128 --heads 8 --size 160x160" "256 --heads 8 --size 80x80"; do
    for v in half/16 half-pairs/16 half-apply/16; do build-gpu/cuda/bench_block --c $c --variant $v | tail -n +3 | grep -v "^\*"; done
  done; } 2>&1 | tee "$out/workbench-optin.txt"
fi # optin

if [ $planted = 1 ]; then
# Planted bugs must fail the tests that guard them. Each build is a copy of
# the sources with one or more bugs put in; a copy that fails to configure or
# build says so (it is not a pass).
planted_tree() { rm -rf "$1" && mkdir -p "$1" && cp -r core cuda app gui tests assets samples CMakeLists.txt "$1"/; }
planted_build() { # DIR TARGET...
  local d=$1; shift
  cmake -S "$d" -B "$d/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSAGALUX_CUDA=ON \
    -DSAGALUX_TESTS=ON -DSAGALUX_VIEWER=OFF -DCMAKE_PREFIX_PATH="$PWD/.deps/prefix" >/dev/null 2>&1 &&
    cmake --build "$d/build" -j16 --target "$@" >/dev/null 2>&1 ||
    { echo "PLANTED-BUG CHECK DID NOT RUN: $d failed to configure or build"; return 1; }
}
# DIR LOG WHAT WORKBENCH ARGS...: build the parity test and a workbench in
# DIR; both must report the bug (the workbench's check says CHECK FAILED).
planted_parity() {
  local d=$1 log=$2 what=$3; shift 3
  planted_build "$d" test_backend_parity "$1" || return
  "$d/build/tests/test_backend_parity" >"$out/$log" 2>&1
  echo "parity test with $what: exit $? (must be non-zero); first failures:"
  grep -m3 -B1 FAIL "$out/$log"
  local wb=$1; shift
  "$d/build/cuda/$wb" "$@" | grep -E "fused|half|igemm|CHECK"
}
# N ENV FILE OLD NEW WHAT WORKBENCH...: copy /tmp/plantedN of the sources
# with OLD replaced by NEW in FILE; its parity test (run with ENV, a
# VAR=value or - for none) and the workbench must both report the bug, in
# report-N.txt. Runs in the background.
planted_case() {
  local n=$1 env=$2 file=$3 old=$4 new=$5 what=$6 d=/tmp/planted$1
  shift 6
  wanted "$n" || return 0
  planted_tree "$d"
  # A plant that no longer finds its code is reported in the case's own
  # report (it once printed only to the console, where a tail cut it off).
  plant "$d/$file" "$old" "$new" >"$out/report-$n.txt" 2>&1 || { echo "PLANTED-BUG CHECK DID NOT RUN: $what" >>"$out/report-$n.txt"; return; }
  ( [ "$env" = - ] || export "${env?}"; planted_parity "$d" "planted-$n.log" "$what" "$@" ) >>"$out/report-$n.txt" 2>&1 &
}
# PLANTS="10 21" (environment): only those cases, for a short call that runs
# new plants first; 0, 1 and 5 are the shared copies below.
wanted() { [ -z "${PLANTS:-}" ] || [[ " $PLANTS " == *" $1 "* ]]; }
plant() { # FILE OLD NEW: OLD must be in FILE
  python3 -c 'import sys; p, o, n = sys.argv[1:]; s = open(p).read(); assert o in s, (p, o); open(p, "w").write(s.replace(o, n))' \
    "$@" 2>/dev/null || { echo "PLANT FAILED in $1: the code it targets changed"; return 1; }
}

# The depthwise kernel drops its centre tap and the fp32 fused FFN its last
# hidden channel: the parity test must fail. With the CPU fallback cut out,
# the out-of-memory test must fail.
# Each copy builds and runs in the background (the builds in parallel: one
# after another they outlast a device call); the reports print in order.
if wanted 1; then
planted_tree /tmp/planted
plant /tmp/planted/cuda/src/block_fused.cu "for (int c = 0; c < C; c++) acc[c] += wo[c] * u;" \
  "for (int c = 0; c < C; c++) acc[c] += i0 + j == hid - 1 ? 0.0f : wo[c] * u;" >>"$out/report-0.txt"
plant /tmp/planted/cuda/src/kernels.cu "if (xx >= 0 && xx < w) acc += wc[(dy + 1) * 3 + dx + 1]" \
  "if (xx >= 0 && xx < w && !(dy == 1 && dx == 1)) acc += wc[(dy + 1) * 3 + dx + 1]" >>"$out/report-0.txt"
plant /tmp/planted/core/src/enhance.c \
  "if (st == SAGALUX_OK || st == SAGALUX_ERR_CANCELLED || ctx->backend.device == SAGALUX_DEVICE_CPU ||" "if (1 ||" >>"$out/report-0.txt"
{ if planted_build /tmp/planted test_backend_parity test_gpu_fallback; then
  /tmp/planted/build/tests/test_backend_parity >"$out/planted.log" 2>&1
  echo "parity test with planted bugs: exit $? (must be non-zero); $(grep -c FAIL "$out/planted.log") failing steps"
  /tmp/planted/build/tests/test_gpu_fallback >"$out/planted-fallback.log" 2>&1
  echo "fallback test with the CPU fallback cut out: exit $? (must be non-zero)"
fi; } >"$out/report-1.txt" 2>&1 &
fi
# Alone (errors carry downstream, so each bug needs its own build): the fused
# Fuse drops its last v row; the tensor-core FFN its last hidden channel (only
# the fp16 runs can see that one).
planted_case 2 - cuda/src/fuse_fused.cu "for (int o = 0; o < C; o++) acc[o] += MT[row * C + o] * v;" \
  "for (int o = 0; o < C; o++) acc[o] += row == 3 * C - 1 ? 0.0f : MT[row * C + o] * v;" \
  "the fused Fuse's last v row dropped" bench_fuse --c 16 --size 256x256 --variant fused
planted_case 3 - cuda/src/block_tc.cu "__float2half(gelu_(t2) * t1 + gelu_(t1) * t2)" \
  "__float2half(i == hid - 1 ? 0.0f : gelu_(t2) * t1 + gelu_(t1) * t2)" \
  "the WMMA FFN's last hidden channel dropped" bench_block --c 16 --heads 2 --size 256x256 --variant fused-tc
# The implicit-GEMM block (the fp16 default at heads of 16): its FFN's
# column order putting pairs 2t + 8 and 2t + 9 the other way round; its
# summary's S operand with two 8x8 blocks swapped; its apply's denominator
# from the wrong lane of the quad.
planted_case 9 - cuda/src/block_igemm.cu "(cc / 2) * 2 + (j & 1) + (j >> 1) * 8;" \
  "(cc / 2) * 2 + (j & 1) + (j >> 1) * 8 + (j == 2) - (j == 3);" \
  "the implicit-GEMM FFN's pairs 2t+8, 2t+9 swapped" bench_block --c 16 --size 64x64 --variant igemm
planted_case 10 - cuda/src/block_igemm.cu "{trans(pack(ph[0][0], ph[0][1])), trans(pack(ph[1][0], ph[1][1])),"  \
  "{trans(pack(ph[1][0], ph[1][1])), trans(pack(ph[0][0], ph[0][1]))," \
  "the implicit-GEMM summary's operand blocks swapped" bench_block --c 32 --heads 2 --size 64x64 --variant igemm
planted_case 11 - cuda/src/block_igemm.cu "__shfl_sync(0xffffffffu, num[2][2], lane & ~3)" \
  "__shfl_sync(0xffffffffu, num[2][2], lane | 1)" \
  "the implicit-GEMM apply's denominator from the wrong lane" bench_block --c 16 --size 64x64 --variant igemm
# The implicit-GEMM Fuse (the fp16 default): its bias step's constant
# column zero, so the depthwise's bias is lost. The implicit-GEMM 3x3s: the
# weights' last tap of input channel 0 dropped (every embedding, Down, Up
# and output they run).
planted_case 12 - cuda/src/fuse_igemm.cu "if (k >= 9) return k == 9 ? 1.0f : 0.0f;" \
  "if (k >= 9) return 0.0f;" \
  "the implicit-GEMM Fuse's depthwise bias lost" bench_fuse --c 16 --size 64x64 --variant igemm
planted_case 13 - cuda/src/conv_igemm.cu "o < cout && c < cin ? wt" \
  "o < cout && c < cin && !(c == 0 && tap == 8) ? wt" \
  "the implicit-GEMM 3x3s' last tap of channel 0 dropped" bench_conv --size 64x64
# The deep levels' fp16 path: its FFN's last hidden channel dropped; the
# im2col of Up's GEMM losing the centre tap of channel 0.
planted_case 4 - cuda/src/kernels.cu "store(&u[(size_t)ch * n + (size_t)py * w + px], dual_gate_of<T>(a[r], b[r]));" \
  "store(&u[(size_t)ch * n + (size_t)py * w + px], ch == hid - 1 ? 0.0f : dual_gate_of<T>(a[r], b[r]));" \
  "the fp16 deep block's last hidden channel dropped" bench_block --c 64 --heads 4 --size 128x128 --variant half
# The deep levels' summary on tensor cores: z's rows g + 8 given row g's sum.
planted_case 14 - cuda/src/summary_mma.cu "mine[D * D + 16 * m + g + 8] = zacc[m][2];" \
  "mine[D * D + 16 * m + g + 8] = zacc[m][0];" \
  "the tensor-core summary's z rows 8..15 wrong" bench_block --c 64 --heads 4 --size 128x128 --variant half
# The fused deep branch front (opt-in: SAGALUX_CUDA_DEEP=fused): the FFN's
# last hidden channel dropped.
planted_case 15 SAGALUX_CUDA_DEEP=fused cuda/src/deep_front.cu "u[(size_t)i * n + at] = __float2half(sx_dual_gate_fast(a, bb));" \
  "u[(size_t)i * n + at] = __float2half(i == units - 1 ? 0.0f : sx_dual_gate_fast(a, bb));" \
  "the fused deep front's last hidden channel dropped" bench_block --c 64 --heads 4 --size 128x128 --variant half-fused
# The two-pixel deep depthwise kernels (the default since 2026-12-01):
# the halo's right edge one pair too far, so the last column reads the next
# row's first pixels instead of the zero padding.
planted_case 16 - cuda/src/dw_pairs.cu "const bool in_x = (unsigned)gx < (unsigned)w;" \
  "const bool in_x = (unsigned)gx < (unsigned)w + 2u;" \
  "the pair depthwise's halo one pair past the right edge" bench_dw --size 256x256
# The implicit-GEMM block with two rows a warp (the default since 2026-12-01):
# the second row's A operand from row r + 7 instead of r + 8, in the
# summary and the FFN.
planted_case 17 - cuda/src/block_igemm.cu "load_a<C>(a[q], A, r + 8 * q, ks);" \
  "load_a<C>(a[q], A, r + 7 * q, ks);" \
  "the two-row implicit GEMM's second row shifted" bench_block --c 16 --size 64x64 --variant igemm2
# The implicit-GEMM Fuse with two rows a warp (the default since 2026-12-01):
# the apply's second row takes the first row's X for its W_out X term.
planted_case 18 - cuda/src/fuse_igemm.cu "mma16816(o[q][0], xa[q][kq], bx[0], bx[1]);" \
  "mma16816(o[q][0], xa[0][kq], bx[0], bx[1]);" \
  "the two-row Fuse's second row taking the first's X" bench_fuse --c 16 --size 64x64 --variant igemm2
# The split-N summary's reduction (every block's S and z) drops its first
# slice of parts (parts 0, 16, 32, ...).
planted_case 19 - cuda/src/kernels.cu "for (int j = 0; j < RED_Y; j++) sum += slice[j][threadIdx.x];" \
  "for (int j = 1; j < RED_Y; j++) sum += slice[j][threadIdx.x];" \
  "the summary reduction's first slice dropped" bench_block --c 64 --heads 4 --size 128x128 --variant half
# The deep apply on tensor cores (opt-in: SAGALUX_CUDA_APPLY=mma): the
# denominator of the even pixels read from a lane that holds a zero row.
planted_case 20 SAGALUX_CUDA_APPLY=mma cuda/src/apply_mma.cu "const float r0 = 1.0f / (__shfl_sync(0xffffffffu, den[0], t) + eps);" \
  "const float r0 = 1.0f / (__shfl_sync(0xffffffffu, den[0], t + 4) + eps);" \
  "the tensor-core apply's denominator from the wrong lane" bench_block --c 64 --heads 4 --size 128x128 --variant half-apply
# The deep FFN's output 1x1 with K = hid padded to a multiple of 8: the
# GEMM given the unpadded K, so it reads the padded weights at the wrong stride.
planted_case 21 - cuda/src/layers_half.cu "return gemm16(s, u, n, hidp, n, b.pw_out16, c, x, data_type<M>(), n, true);" \
  "return gemm16(s, u, n, b.hid, n, b.pw_out16, c, x, data_type<M>(), n, true);" \
  "the deep FFN output 1x1 at the unpadded stride" bench_block --c 64 --heads 4 --size 128x128 --variant half
# The C=16 FFN built for three blocks an SM (the default since session 14):
# its launch one row short.
planted_case 25 - cuda/src/block_igemm.cu "return ffn_run<16, 2, M, 3>(s, b, x, h, w, y);" \
  "return ffn_run<16, 2, M, 3>(s, b, x, h - 1, w, y);" \
  "the three-blocks FFN's launch one row short" bench_block --c 16 --size 64x64 --variant igemm2o/16
# The WMMA Fuse (SAGALUX_CUDA_FUSE=wmma, no longer the default) its last v row dropped.
planted_case 6 SAGALUX_CUDA_FUSE=wmma cuda/src/fuse_tc.cu "U[(size_t)row * LDP + threadIdx.x] = __float2half(inside ? v : 0.0f);" \
  "U[(size_t)row * LDP + threadIdx.x] = __float2half(inside && row != X3 - 1 ? v : 0.0f);" \
  "the tensor-core Fuse's last v row dropped" bench_fuse --c 16 --size 128x128 --variant fused-tc
if wanted 5; then
planted_tree /tmp/planted5
plant /tmp/planted5/cuda/src/kernels.cu "store(&col[((size_t)c * 9 + k) * len + j], yy >= 0" \
  "store(&col[((size_t)c * 9 + k) * len + j], c == 0 && k == 4 ? 0.0f : yy >= 0" >>"$out/report-0.txt"
# In the same copy (another test guards it): the CUDA network time never
# recorded, so the backend reports 0 ms.
plant /tmp/planted5/cuda/src/cuda_backend.cu "== cudaSuccess) s->network_ms = ms;" "== cudaSuccess) s->network_ms = 0 * ms;" >>"$out/report-0.txt"
{ if planted_build /tmp/planted5 test_backend_parity test_golden; then
  /tmp/planted5/build/tests/test_backend_parity >"$out/planted-im2col.log" 2>&1
  echo "parity test with Up's im2col losing a tap: exit $? (must be non-zero); first failures:"
  grep -m3 -B1 FAIL "$out/planted-im2col.log"
  /tmp/planted5/build/tests/test_golden >"$out/planted-network-ms.log" 2>&1
  echo "golden test with the CUDA network time never recorded: exit $? (must be non-zero): $(grep -E 'FAILED' "$out/planted-network-ms.log" | head -2 | tr '\n' ' ')"
fi; } >"$out/report-5.txt" 2>&1 &
fi
# fp16 maps: Up's chunked pixel shuffle swapping the two columns of each
# 2x2 block; the fp32 layers on fp16 maps (odd widths) widening half their input.
planted_case 7 - cuda/src/kernels.cu "i = (ch / 2) & 1, jj = ch & 1," \
  "i = (ch / 2) & 1, jj = 1 - (ch & 1)," \
  "Up's chunked pixel shuffle swapping columns" bench_block --c 16 --size 64x64 --variant fused
planted_case 8 - cuda/src/cuda_backend.cu "k_to_float(q, in0, cn, x32);" \
  "k_to_float(q, in0, cn / 2, x32);" \
  "the fp32 blocks on fp16 maps widening half their input" bench_block --c 16 --size 64x64 --variant fused
wait
cat "$out"/report-[0-9].txt "$out"/report-[12][0-9].txt 2>/dev/null
fi # planted

if [ $perf = 1 ] || [ "$mode" = quick ] || [ $optin_mode = 1 ]; then
sizes="256x256 512x512 1280x1280 2048x2048 4096x4096 6000x4000"
[ "$mode" = quick ] && sizes=1280x1280
[ $optin_mode = 1 ] || for size in $sizes; do
  runs=20; case $size in 4096x4096|6000x4000) runs=5;; esac
  echo "shipped $size $(build-gpu/app/sagalux-bench -m assets/sagalux.sglx -s $size -d cuda -r $runs 2>&1 | tail -2 | tr '\n' ' ')"
  echo "llformer $size $(build-gpu/app/sagalux-bench --random 16,2,4,8,16,2 -s $size -d cuda -r $runs 2>&1 | tail -2 | tr '\n' ' ')"
done | tee "$out/bench.txt"

# The kernels the environment picks, each alone and all together, against
# the defaults (a default is the one that wins here and passes the checks);
# optin only (perf's call has no time for it beside the twin).
[ $optin_mode = 1 ] && for v in default SAGALUX_CUDA_DEEP=scalar SAGALUX_CUDA_BLOCK=igemm SAGALUX_CUDA_FUSE=igemm SAGALUX_CUDA_APPLY=mma \
         SAGALUX_CUDA_BLOCK=igemm2 \
         "SAGALUX_CUDA_DEEP=scalar SAGALUX_CUDA_BLOCK=igemm SAGALUX_CUDA_FUSE=igemm SAGALUX_CUDA_APPLY=mma"; do
  e=; [ "$v" = default ] || e=$v
  for m in "--random 16,2,4,8,16,2" "-m assets/sagalux.sglx"; do
    echo "$v | $m 1280: $(env $e build-gpu/app/sagalux-bench $m -s 1280x1280 -d cuda -r 20 2>&1 | tail -2 | tr '\n' ' ')"
  done
  echo "$v | --random 16,2,4,8,16,2 512: $(env $e build-gpu/app/sagalux-bench --random 16,2,4,8,16,2 -s 512x512 -d cuda -r 20 2>&1 | tail -2 | tr '\n' ' ')"
done | tee "$out/optin.txt"

# Side by side with the PyTorch twin (same GPU, same weights): eager fp16 and torch.compile.
[ $optin_mode = 1 ] && exit 0
if [ "$mode" != quick ]; then
  timeout 300 python3 cuda/dev/compare_twin.py --bench build-gpu/app/sagalux-bench --sizes 512,1280 --compile-sizes 1280 \
    --runs 20 2>&1 | grep -v Warning | tee "$out/compare_twin.txt" | tail -8
fi

# Each precision (and, in fp16, each cuBLAS arithmetic): the time, and the
# PSNR against the CPU's fp32 on the sample photos.
for p in fp32 fp16 fp16/fp16-gemm fp16/fp32-gemm; do
  prec=${p%%/*}; math=; case $p in */fp16-gemm) math=fp16;; */fp32-gemm) math=fp32;; esac
  echo "== -p $prec${math:+ SAGALUX_CUDA_MATH=$math}"
  SAGALUX_CUDA_MATH=$math build-gpu/app/sagalux-bench -m assets/sagalux.sglx -d cuda -p $prec --psnr samples/*.jpg 2>/dev/null | tail -1
  echo "shipped 1280 $(SAGALUX_CUDA_MATH=$math build-gpu/app/sagalux-bench -m assets/sagalux.sglx -s 1280x1280 -d cuda -p $prec -r 20 2>&1 | tail -2 | tr '\n' ' ')"
  echo "llformer 1280 $(SAGALUX_CUDA_MATH=$math build-gpu/app/sagalux-bench --random 16,2,4,8,16,2 -s 1280x1280 -d cuda -p $prec -r 20 2>&1 | tail -2 | tr '\n' ' ')"
  echo "llformer 512 $(SAGALUX_CUDA_MATH=$math build-gpu/app/sagalux-bench --random 16,2,4,8,16,2 -s 512x512 -d cuda -p $prec -r 20 2>&1 | tail -2 | tr '\n' ' ')"
done | tee "$out/math.txt"
fi # perf
