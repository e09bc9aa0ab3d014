#!/usr/bin/env bash
# A/B timing of the working tree against a base revision on the GPU machine:
# for a change that replaces a default kernel outright (no SAGALUX_CUDA_*
# switch to pick the old one), the only fair measure is both builds on the
# same GPU in the same call, their runs interleaved.
#
# Here (the device has no git history):
#   bash cuda/dev/gpu_ab.sh prepare [REV]     # REV's sources into .ab/base (default HEAD~1)
# On the GPU machine (device run with carry [".deps", ".ab"]):
#   bash cuda/dev/gpu_ab.sh run OUTDIR ["WORKBENCH ARGS" ...]
# e.g. "bench_block --c 16 --size 1280x1280 --variant igemm2/16". Prints the
# network time (CUDA events) of LLFormer 1280^2, the shipped model 1280^2
# and LLFormer 512^2 for each build, three rounds base/new interleaved, the
# median of each, and each workbench line for both builds; OUTDIR/ab.txt.
set -uo pipefail
cmd=${1:-}
case $cmd in
prepare)
  rev=${2:-HEAD~1}
  rm -rf .ab && mkdir -p .ab/base
  git archive "$rev" -- CMakeLists.txt core cuda app gui tests assets samples | tar -x -C .ab/base || exit 1
  git rev-parse --short "$rev" >.ab/base/REV
  echo "base $(cat .ab/base/REV) in .ab/base ($(du -sh .ab | cut -f1)); carry .ab and .deps"
  exit 0;;
run) ;;
*) echo "usage: $0 prepare [REV] | run OUTDIR [\"WORKBENCH ARGS\" ...]" >&2; exit 2;;
esac

dest=${2:?OUTDIR}; shift 2
[ -f .ab/base/REV ] || { echo "no .ab/base: run '$0 prepare REV' here and carry .ab" >&2; exit 2; }
mkdir -p "$dest"
log=$dest/ab.txt
exec > >(tee "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "base $(cat .ab/base/REV), new: the working tree"
build() { # SRC BUILD
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSAGALUX_CUDA=ON \
    -DSAGALUX_TESTS=ON -DSAGALUX_VIEWER=OFF -DCMAKE_PREFIX_PATH="$PWD/.deps/prefix" >"$2.configure.log" 2>&1 &&
    cmake --build "$2" -j8 --target sagalux-bench bench_block bench_fuse bench_conv bench_dw >"$2.build.log" 2>&1
}
build .ab/base .ab/build-base & pb=$!
build . build-ab & pn=$!
wait $pb || { echo "BASE DID NOT BUILD"; grep -m20 error .ab/build-base.build.log; exit 1; }
wait $pn || { echo "NEW DID NOT BUILD"; grep -m20 error build-ab.build.log; exit 1; }

# network_ms of one configuration from one build.
net_ms() { # BUILD ARGS...
  local b=$1; shift
  "$b/app/sagalux-bench" "$@" -d cuda -r 20 2>&1 | sed -n 's/^network_ms \([0-9.]*\).*/\1/p'
}
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
configs=("--random 16,2,4,8,16,2 -s 1280x1280" "-m assets/sagalux.sglx -s 1280x1280" "--random 16,2,4,8,16,2 -s 512x512")
names=("LLFormer 1280^2" "shipped 1280^2" "LLFormer 512^2")
printf '%-16s %10s %10s %8s   (network ms, median of 3 rounds of 20 runs)\n' config base new change
for i in "${!configs[@]}"; do
  base=() new=()
  for round in 1 2 3; do
    # shellcheck disable=SC2086
    base+=("$(net_ms .ab/build-base ${configs[$i]})")
    # shellcheck disable=SC2086
    new+=("$(net_ms build-ab ${configs[$i]})")
  done
  b=$(median3 "${base[@]}") n=$(median3 "${new[@]}")
  printf '%-16s %10s %10s %7s%%   rounds: base %s, new %s\n' "${names[$i]}" "$b" "$n" \
    "$(python3 -c 'import sys; b, n = map(float, sys.argv[1:]); print(f"{100 * (n - b) / b:+.1f}")' "$b" "$n" 2>/dev/null)" "${base[*]}" "${new[*]}"
done
for wb in "$@"; do
  echo "== $wb"
  # shellcheck disable=SC2086
  echo "base: $(.ab/build-base/cuda/$wb 2>&1 | tail -n +3 | grep -v '^\*' | tr -s ' ' | paste -sd'|')"
  # shellcheck disable=SC2086
  echo "new:  $(build-ab/cuda/$wb 2>&1 | tail -n +3 | grep -v '^\*' | tr -s ' ' | paste -sd'|')"
done
