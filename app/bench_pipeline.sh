#!/usr/bin/env bash
# The batch tool's rate against the network's own: sagalux-bench times the
# network alone (host to host, median of 20) at the photos' size, then
# `sagalux -v` runs the folder with each device list given and prints its
# rate (after the first photo, so the warm-up is left out) and where the
# time per photo goes. A tool that prints numbers, not a test.
# Usage: app/bench_pipeline.sh BUILD_DIR FOLDER WxH DEVICE... [-- SAGALUX_OPTIONS]
#   e.g. app/bench_pipeline.sh build-gpu .bench/p1280 1280x1280 cuda:0 cuda:0,1
set -euo pipefail
build=$1 folder=$2 size=$3
shift 3
devices=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do devices+=("$1"); shift; done
[ $# -gt 0 ] && shift
model=${SAGALUX_MODEL:-assets/sagalux.sglx}
n=$(ls "$folder" | wc -l)
echo "== network alone ($size, ${devices[0]%%,*}):"
"$build/app/sagalux-bench" -d "${devices[0]%%:*}" -m "$model" -s "$size" | tail -n 3
for d in "${devices[@]}"; do
  out=$(mktemp -d)
  echo "== sagalux -d $d $* on $n photos:"
  "$build/app/sagalux" -v -q -m "$model" -d "$d" "$@" "$folder" -o "$out" 2>&1 | grep -E "photo\(s\) in|per photo"
  rm -rf "$out"
done
