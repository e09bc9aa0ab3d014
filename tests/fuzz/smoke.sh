#!/usr/bin/env bash
# Runs a libFuzzer target for a short while from seed files copied into a
# scratch corpus (libFuzzer only mutates when given a folder).
# Usage: smoke.sh FUZZER SECONDS MAX_LEN SEED...
set -eu
fuzzer=$1 seconds=$2 max_len=$3; shift 3
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$@" "$corpus/"
"$fuzzer" "$corpus" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 8
