#!/usr/bin/env bash
# One training chunk on the GPU machine: presets trained side by side, each in
# its own process, for MINUTES; results copied to $OUT.
#   bash train/gpu_chunk.sh MINUTES [--resume] [--compact] PRESET:TOTAL_STEPS...
# Full checkpoints stay in train/runs/ (ignored, kept while the machine is
# warm); with --compact the last chunk also returns resumable compact ones.
set -u
minutes=$1; shift
extra=()
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do extra+=("$1"); shift; done
cd "$(dirname "$0")"
mkdir -p runs
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
pids=()
for spec in "$@"; do
  preset=${spec%%:*} total=${spec##*:}
  PYTHONUNBUFFERED=1 python3 train.py --preset "$preset" --out "runs/$preset" --minutes "$minutes" \
      --total-steps "$total" --workers 7 "${extra[@]}" >"runs/$preset.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for spec in "$@"; do
  preset=${spec%%:*}
  tail -n 4 "runs/$preset.log"
  if [ -n "${OUT:-}" ]; then
    cp "runs/$preset.log" "runs/$preset/sagalux-$preset.sglx" "$OUT/" 2>/dev/null
    cp "runs/$preset/history.json" "$OUT/history-$preset.json" 2>/dev/null
  fi
done
exit $rc
