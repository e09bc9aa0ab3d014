#!/usr/bin/env bash
# One training chunk on the GPU machine: runs trained side by side, each in its
# own process, for MINUTES; results copied to $OUT.
#   bash train/gpu_chunk.sh MINUTES [FLAG...] RUN:PRESET:TOTAL_STEPS[:SSIM_WEIGHT]...
# FLAGs go to every train.py (--resume, --compact, --init=runs/S ...). Each run
# lives in train/runs/RUN (ignored, kept while the machine is warm). $OUT gets
# RUN.log, history-RUN.json, sagalux-RUN.sglx, and with --compact the
# resumable RUN-last.pt.part* (13 MiB for preset S).
set -u
minutes=$1; shift
extra=()
compact=0
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do
  [ "$1" = --compact ] && compact=1
  extra+=("$1"); shift
done
[ $# -gt 0 ] || { echo "gpu_chunk: no RUN:PRESET:TOTAL_STEPS given" >&2; exit 2; }
cd "$(dirname "$0")"
mkdir -p runs
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
pids=()
for spec in "$@"; do
  IFS=: read -r run preset total ssim_w <<<"$spec"
  if [ -z "$run" ] || [ -z "$preset" ] || [ -z "$total" ]; then
    echo "gpu_chunk: '$spec' is not RUN:PRESET:TOTAL_STEPS[:SSIM_WEIGHT]" >&2; exit 2
  fi
  PYTHONUNBUFFERED=1 python3 train.py --preset "$preset" --out "runs/$run" --minutes "$minutes" \
      --total-steps "$total" --ssim-weight "${ssim_w:-0}" --workers 7 "${extra[@]}" >"runs/$run.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for spec in "$@"; do
  run=${spec%%:*}
  tail -n 4 "runs/$run.log"
  if [ -n "${OUT:-}" ]; then
    cp "runs/$run.log" "$OUT/" 2>/dev/null
    for f in runs/$run/sagalux-*.sglx; do cp "$f" "$OUT/sagalux-$run.sglx" 2>/dev/null; done
    cp "runs/$run/history.json" "$OUT/history-$run.json" 2>/dev/null
    if [ $compact = 1 ]; then
      for f in runs/$run/last.pt.part*; do cp "$f" "$OUT/$run-${f##*/}"; done
    fi
  fi
done
exit $rc
