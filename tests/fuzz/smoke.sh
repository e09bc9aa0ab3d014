#!/usr/bin/env bash
# Runs a libFuzzer target for a short while from seed files copied into a
# scratch corpus (libFuzzer only mutates when given a folder). A crash, a leak,
# a timeout or running out of memory fails the test, with the fuzzer's report.
# Usage: smoke.sh FUZZER SECONDS MAX_LEN SEED...
set -euo pipefail
fuzzer=$1 seconds=$2 max_len=$3; shift 3
corpus=$(mktemp -d)
trap 'rm -rf "$corpus" "$corpus.log"' EXIT
cp "$@" "$corpus/"
# The fuzzer's log goes to a file, not a pipe: its exit status is what counts.
# -error_exitcode=1: libFuzzer's default (77) would read as "skipped" to ctest.
status=0
"$fuzzer" "$corpus" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -error_exitcode=1 \
  -timeout_exitcode=1 -print_final_stats=1 >"$corpus.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz smoke: ${fuzzer##*/} FAILED (exit $status); the end of its report:"
  tail -n 40 "$corpus.log"
  exit 1
fi
tail -n 8 "$corpus.log"
