#!/usr/bin/env bash
# Planted bugs for the CUDA emulator's tests (cuda/emu): one copy of the
# sources is built with SAGALUX_CUDA_EMU=ON, then each bug in turn is put
# into it, the workbench that guards that kernel rebuilt (only the planted
# file recompiles) and its emu test must fail; the file is restored before
# the next. One plant is in the emulator itself (a fragment layout), to show
# the tests depend on its layouts being right.
#   bash cuda/emu/planted.sh [WORKDIR]
# Exits non-zero when a plant does not apply, a planted copy does not
# build, or a test passes with its bug in.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
work=${1:-/tmp/sagalux-emu-planted}
rm -rf "$work" && mkdir -p "$work/src" && cp -r core cuda app CMakeLists.txt "$work/src"/ && mkdir -p "$work/src/gui" "$work/src/tests"
failures=0
targets="bench_block_emu bench_fuse_emu bench_conv_emu bench_dw_emu"
if ! { cmake -S "$work/src" -B "$work/build" -DSAGALUX_CUDA=OFF -DSAGALUX_CUDA_EMU=ON -DSAGALUX_TESTS=OFF \
         -DSAGALUX_VIEWER=OFF && cmake --build "$work/build" -j"$(nproc)" --target $targets; } >"$work/build.log" 2>&1; then
  echo "the unplanted copy did not build (see $work/build.log)"; exit 1
fi

plant() { # NAME TEST FILE OLD NEW
  local name=$1 test=$2 file=$3 old=$4 new=$5 target f="$work/src/$3"
  case $test in emu_block_*) target=bench_block_emu;; emu_fuse) target=bench_fuse_emu;; emu_conv) target=bench_conv_emu;;
                emu_dw) target=bench_dw_emu;; *) echo "$name: no workbench for $test"; failures=$((failures + 1)); return;; esac
  cp "$f" "$work/original"
  if ! python3 -c 'import sys; p, o, n = sys.argv[1:]; s = open(p).read(); assert o in s; open(p, "w").write(s.replace(o, n))' \
       "$f" "$old" "$new"; then
    echo "$name: PLANT FAILED (the code it targets changed in $file)"; failures=$((failures + 1)); return
  fi
  if ! cmake --build "$work/build" -j"$(nproc)" --target "$target" >"$work/$name.build.log" 2>&1; then
    echo "$name: DID NOT BUILD (see $work/$name.build.log)"; failures=$((failures + 1))
  elif ctest --test-dir "$work/build" -R "^$test\$" >"$work/$name.test.log" 2>&1; then
    echo "$name: $test PASSED WITH THE BUG IN"; failures=$((failures + 1))
  else
    echo "$name: $test fails, as it must: $(grep -m1 'CHECK FAILED' "$work/build/Testing/Temporary/LastTest.log" | sed 's/  */ /g')"
  fi
  # The original back, newer than the planted file's objects: the next build recompiles it.
  cp "$work/original" "$f" && touch "$f"
}

plant dw-halo-edge emu_dw cuda/src/dw_pairs.cu \
  "const bool in_x = (unsigned)gx < (unsigned)w;" "const bool in_x = (unsigned)gx < (unsigned)w + 2u;"
plant igemm2-second-row emu_block_c16 cuda/src/block_igemm.cu \
  "load_a<C>(a[q], A, r + 8 * q, ks);" "load_a<C>(a[q], A, r + 7 * q, ks);"
plant fuse-igemm2-second-row-x emu_fuse cuda/src/fuse_igemm.cu \
  "mma16816(o[q][0], xa[q][kq], bx[0], bx[1]);" "mma16816(o[q][0], xa[0][kq], bx[0], bx[1]);"
plant reduce-first-slice emu_block_c64 cuda/src/kernels.cu \
  "for (int j = 0; j < RED_Y; j++) sum += slice[j][threadIdx.x];" "for (int j = 1; j < RED_Y; j++) sum += slice[j][threadIdx.x];"
plant layernorm-held16 emu_block_c128_large cuda/src/kernels.cu \
  "else layernorm_kernel<8, 16><<<blocks, dim3(LN_PIX, 8), 0, s>>>(x, c, n, g, b, y);" \
  "else layernorm_kernel<8, 16><<<blocks, dim3(LN_PIX, 8), 0, s>>>(x, c, n, g, g, y);"
plant apply-mma-denominator emu_block_c64 cuda/src/apply_mma.cu \
  "const float r0 = 1.0f / (__shfl_sync(0xffffffffu, den[0], t) + eps);" \
  "const float r0 = 1.0f / (__shfl_sync(0xffffffffu, den[0], t + 4) + eps);"
plant conv-igemm-tap emu_conv cuda/src/conv_igemm.cu \
  "o < cout && c < cin ? wt" "o < cout && c < cin && !(c == 0 && tap == 8) ? wt"
plant ffn-out-padded-stride emu_block_c64 cuda/src/layers_half.cu \
  "return gemm16(s, u, n, hidp, n, b.pw_out16, c, x, data_type<M>(), n, true);" \
  "return gemm16(s, u, n, b.hid, n, b.pw_out16, c, x, data_type<M>(), n, true);"
plant igemm-summary-blocks emu_block_c32 cuda/src/block_igemm.cu \
  "{trans(pack(ph[0][0], ph[0][1])), trans(pack(ph[1][0], ph[1][1]))," \
  "{trans(pack(ph[1][0], ph[1][1])), trans(pack(ph[0][0], ph[0][1])),"
plant ffn-three-blocks-row emu_block_c16 cuda/src/block_igemm.cu \
  "return ffn_run<16, 2, M, 3>(s, b, x, h, w, y);" "return ffn_run<16, 2, M, 3>(s, b, x, h - 1, w, y);"
plant emulator-b-layout emu_block_c16 cuda/emu/emu_mma.h \
  "return emu_detail::half_of(k < 8 ? r.b0 : r.b1, k % 2);" "return emu_detail::half_of(k < 8 ? r.b1 : r.b0, k % 2);"

[ "$failures" -eq 0 ] && echo "every planted bug failed its test" || echo "$failures planted-bug check(s) went wrong"
exit $((failures > 0))
