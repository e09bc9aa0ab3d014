#!/usr/bin/env bash
# The sagalux CLI never loses a photo: outputs that would replace an input or
# collide are refused before any work (--overwrite or not), re-runs resume
# with --skip-existing, flags do what they say, each failure is reported
# once, and the output folder is checked before the first photo.
# Usage: cli_data_safety.sh SAGALUX_BINARY TESTS_DATA_DIR
set -u
bin=$1
data=$2
model=$data/golden_tiny.sglx
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
run_stdout=outlog
. "$(dirname "$0")/cli_lib.sh"
sums() { find "$@" -type f -exec md5sum {} + 2>/dev/null | sort; }

mkdir -p "$work/a" "$work/b"
cp "$data/tiny_dark.jpg" "$work/a/x.jpg"
cp "$data/tiny_dark.jpg" "$work/b/x.jpg"
cp "$data/tiny_dark.png" "$work/a/y.png"
before=$(sums "$work/a" "$work/b")

# An output folder that is an input folder: refused even with --overwrite; inputs untouched.
run "$work/a" -o "$work/a" --overwrite
expect "output folder = input folder, --overwrite" 2 "would replace the input"
[ "$before" = "$(sums "$work/a" "$work/b")" ] && ok "inputs unchanged" || bad "inputs changed"
grep -q -- '->' "$work/outlog" && bad "work was done before the refusal" || ok "nothing processed before the refusal"

# The same name from two folders: a collision, refused before any work.
run "$work/a/x.jpg" "$work/b/x.jpg" -o "$work/out1"
expect "two inputs, one output name" 2 "would both be written to"
[ -e "$work/out1/x.jpg" ] && bad "a colliding output was written" || ok "no colliding output written"

# x.jpg and y.png with -f png: x.png and y.png, no collision; but x.jpg + x.png -> x.png collide.
cp "$data/tiny_dark.png" "$work/b/x.png"
run "$work/b/x.jpg" "$work/b/x.png" -f png -o "$work/out2"
expect "x.jpg and x.png with -f png" 2 "would both be written to"

# A re-run: without flags each existing output is a failure (exit 1), with --skip-existing a skip (exit 0).
run "$work/a" -o "$work/out3"
expect "first run" 0 "2 enhanced, 0 skipped (output exists), 0 failed"
sum3=$(sums "$work/out3")
run "$work/a" -o "$work/out3"
expect "re-run without flags" 1 "0 enhanced, 0 skipped (output exists), 2 failed"
run "$work/a" -o "$work/out3" --skip-existing
expect "re-run with --skip-existing" 0 "0 enhanced, 2 skipped (output exists), 0 failed"
[ "$sum3" = "$(sums "$work/out3")" ] && ok "skipped outputs untouched" || bad "skipped outputs changed"

# Flags take no values; contradictions are refused.
run "$work/a" -o "$work/out4" --overwrite=no
expect "--overwrite=no is an error" 2 "--overwrite takes no value"
[ -e "$work/out4" ] && bad "--overwrite=no did work" || ok "--overwrite=no did nothing"
run "$work/a" -o "$work/out4" --overwrite --skip-existing
expect "--overwrite with --skip-existing" 2 "contradict"

# -o naming a file: refused before any photo is enhanced.
: >"$work/plainfile"
run "$work/a" -o "$work/plainfile"
expect "-o names a file" 2 "not a folder"
grep -q -- '->' "$work/outlog" && bad "work was done" || ok "no work with -o naming a file"

# A read-only output folder (root ignores permissions: skipped then).
if [ "$(id -u)" -ne 0 ]; then
  mkdir "$work/ro" && chmod a-w "$work/ro"
  run "$work/a" -o "$work/ro"
  expect "read-only output folder" 2 "cannot write in the output folder"
else
  echo "skip read-only output folder (running as root, which writes anywhere)"
fi

# -o with missing parents is created.
run "$work/a/y.png" -o "$work/deep/er/out"
expect "output folder parents created" 0 "1 enhanced"

# A file without an extension gets the one its content says, before any work.
cp "$data/tiny_dark.jpg" "$work/noext"
printf 'not an image' >"$work/notes"
run "$work/noext" "$work/notes" -o "$work/out5"
expect "no extension: refused by content" 1 "notes: not a PNG or JPEG image"
[ -s "$work/out5/noext.jpg" ] && ok "no extension: written as noext.jpg" || bad "noext.jpg missing"

# .jfif and .jpe are JPEG extensions; folders pick them up.
mkdir "$work/c" && cp "$data/tiny_dark.jpg" "$work/c/p.jfif" && cp "$data/tiny_dark.jpg" "$work/c/q.jpe"
run "$work/c" -o "$work/out6"
expect ".jfif and .jpe found in a folder" 0 "2 enhanced"
[ -s "$work/out6/p.jfif" ] && [ -s "$work/out6/q.jpe" ] && ok ".jfif/.jpe outputs keep their names" || bad ".jfif/.jpe outputs"

# Each failure once: a corrupt file's name appears on exactly one stderr line.
head -c 300 "$data/tiny_dark.jpg" >"$work/cut.jpg"
run "$work/cut.jpg" -o "$work/out7"
n=$(grep -c "cut.jpg" "$work/err")
[ "$rc" -eq 1 ] && [ "$n" -eq 1 ] && ok "a failure is reported once" || { echo "  exit $rc, $n lines"; bad "a failure is reported once"; }

# Subfolders: skipped and counted without -r; with -r the tree is kept under -o.
mkdir -p "$work/tree/s1/s2"
cp "$data/tiny_dark.jpg" "$work/tree/top.jpg"; cp "$data/tiny_dark.jpg" "$work/tree/s1/top.jpg"
cp "$data/tiny_dark.png" "$work/tree/s1/s2/deep.png"; printf 'x' >"$work/tree/s1/readme.txt"
run "$work/tree" -o "$work/flat"
expect "no -r: subfolders skipped and counted" 0 "skipped 0 file(s) that are not PNG or JPEG by name and 1 subfolder(s) (-r enters them)"
run "$work/tree" -o "$work/deep" -r -v
expect "-r: three photos in a tree" 0 "3 enhanced"
grep -qF "readme.txt: skipped, not a PNG or JPEG name" "$work/err" && ok "-v names a skipped file" || bad "-v names a skipped file"
[ -s "$work/deep/top.jpg" ] && [ -s "$work/deep/s1/top.jpg" ] && [ -s "$work/deep/s1/s2/deep.png" ] \
  && ok "-r keeps the tree (same names in two folders do not collide)" || { ls -R "$work/deep"; bad "-r tree"; }

# Progress: one steady line on a terminal, none when stderr is a file.
run "$work/a" -o "$work/out10"
grep -q "ETA" "$work/err" && bad "a progress line went to a file" || ok "no progress line when stderr is not a terminal"
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "'$bin' -m '$model' -t 2 '$work/a' -o '$work/out11'" /dev/null >"$work/tty" 2>&1
  if grep -q "\[1/2\] x.jpg .*elapsed, ETA" "$work/tty" && grep -q "2 enhanced" "$work/tty"; then ok "a progress line on a terminal"
  else cat -v "$work/tty" | head -5; bad "a progress line on a terminal"; fi
else
  echo "skip progress on a terminal (no pseudo-terminal here: script(1) missing or /dev/pts not mounted)"
fi

# Shards cover every file exactly once, with no coordination.
mkdir -p "$work/many"
for i in 1 2 3 4 5 6 7; do cp "$data/tiny_dark.png" "$work/many/f$i.png"; done
for k in 1 2 3; do "$bin" -m "$model" -t 2 "$work/many" -o "$work/shards" --shard $k/3 2>/dev/null; done >"$work/shardlog"
listed=$(grep -c -- '->' "$work/shardlog")
[ "$listed" -eq 7 ] && [ "$(ls "$work/shards" | wc -l)" -eq 7 ] && ok "shards 1/3..3/3 cover 7 files exactly once" \
  || { echo "  $listed processed"; bad "shards"; }
run "$work/many" -o "$work/shard0" --shard 4/3
expect "shard K > N refused" 2 "shard must be K/N"

# Temporaries (which are removed, which never are): cli_write_safety.sh.

# SIGINT / SIGTERM at several points of a batch: exit 130 / 143, a summary,
# no temporary or partial file (every output equals the uninterrupted run's),
# and a --skip-existing rerun completes the set identically. A script's
# background job ignores SIGINT (and so does sagalux then), so SIGINT is sent
# to a process started with the default disposition, through Python.
if /usr/bin/python3 -c "import PIL" 2>/dev/null; then
  mkdir -p "$work/big"
  /usr/bin/python3 - "$work/big" <<'PY'
import sys
from PIL import Image
for i in range(6):
    Image.effect_noise((256, 256), 40 + i).convert("RGB").save(f"{sys.argv[1]}/p{i:02d}.png")
PY
  "$bin" -m "$model" -t 2 --quiet "$work/big" -o "$work/ref" 2>/dev/null
  # Three points, both signals (three, not six: under CI's ASan build each run
  # is slow); the last with three decoding and three encoding threads, so
  # photos are in every stage of the pipeline when the signal comes.
  for point in INT:15:1 TERM:45:1 INT:75:3; do
    sig=${point%%:*} frac=${point#*:} io=${point##*:}
    frac=${frac%:*}
    {
      out="$work/int-$sig-$frac" after=$(( 6 * frac / 100 ))
      /usr/bin/python3 - "$sig" "$after" "$out" "$bin" -m "$model" -t 2 --io-threads $io --quiet "$work/big" -o "$out" 2>"$work/err" <<'PY'
import os, signal, subprocess, sys, time
sig, after, out, cmd = getattr(signal, "SIG" + sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
p = subprocess.Popen(cmd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
# Signal once `after` outputs are complete (not after a guessed delay: a busy
# machine ran the whole batch before a timed signal came).
# after 0: once the first file is being written (its temporary, or the file).
def done():
    try: names = os.listdir(out)
    except FileNotFoundError: return -1
    return sum(1 for f in names if f.endswith(".png")) - (after == 0 and not any(".tmp-" in f for f in names))
while p.poll() is None and done() < after: time.sleep(0.002)
time.sleep(0.02)
p.send_signal(sig)
sys.exit(p.wait())
PY
      rc=$? want=$([ $sig = INT ] && echo 130 || echo 143)
      n=$(ls "$out" 2>/dev/null | wc -l)
      if [ "$rc" -eq "$want" ] && grep -q "interrupted by SIG$sig" "$work/err"; then ok "SIG$sig at $frac% of the batch: exit $rc, $n outputs"
      else echo "  exit $rc (want $want)"; bad "SIG$sig at $frac% of the batch"; fi
      if ls -A "$out" 2>/dev/null | grep -q '\.tmp'; then bad "SIG$sig at $frac%: a temporary file was left"; else ok "SIG$sig at $frac%: no temporary file"; fi
      partial=0
      for f in "$out"/*; do [ -e "$f" ] && ! cmp -s "$f" "$work/ref/${f##*/}" && partial=1; done
      [ $partial = 0 ] && ok "SIG$sig at $frac%: every output complete" || bad "SIG$sig at $frac%: an output differs from the uninterrupted run"
      run "$work/big" -o "$out" --skip-existing
      if [ "$rc" -eq 0 ] && [ "$(cd "$work/ref" && md5sum * | sort)" = "$(cd "$out" && md5sum * | sort)" ]; then
        ok "SIG$sig at $frac%: --skip-existing rerun gives the uninterrupted result"
      else bad "SIG$sig at $frac%: rerun (exit $rc) differs"; fi
    }
  done
  # The pipeline: with four decoding and four encoding threads the results
  # come in input order and the files are the same as with one of each.
  "$bin" -m "$model" -t 2 --io-threads 4 "$work/big" -o "$work/io4" >"$work/io4.log" 2>/dev/null
  rc=$?
  order=$(sed -n 's|^.*/big/\(p[0-9]*\.png\) -> .*|\1|p' "$work/io4.log" | tr '\n' ' ')
  if [ $rc -eq 0 ] && [ "$order" = "p00.png p01.png p02.png p03.png p04.png p05.png " ] &&
     [ "$(cd "$work/ref" && md5sum * | sort)" = "$(cd "$work/io4" && md5sum * | sort)" ]; then
    ok "--io-threads 4: results in input order, files identical to one thread of each"
  else echo "  exit $rc, order: $order"; bad "--io-threads 4"; fi
else
  echo "skip SIGINT runs (no Pillow to make test images: .ci/install-deps --test installs it)"
fi
run --io-threads 0 "$work/a" -o "$work/io0"
expect "--io-threads 0 is refused" 2 "io-threads must be 1..64"
run --precision fp8 "$work/a" -o "$work/p8"
expect "--precision fp8 is refused" 2 "precision must be fp16 or fp32"
run -d cpu --precision fp32 "$work/a" -o "$work/p32"
expect "--precision fp32 is taken (the CPU is fp32 anyway)" 0 ""

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
