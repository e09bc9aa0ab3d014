#!/usr/bin/env bash
# The sagalux CLI against bad input: each case must give a one-line error that
# names the file and the reason, the documented exit status, no crash, and no
# output file. Usage: cli_bad_input.sh SAGALUX_BINARY TESTS_DATA_DIR
set -u
bin=$1
data=$2
model=$data/golden_tiny.sglx   # a valid (untrained) model: the CLI's plumbing is what is tested
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

check() { # name, expected exit, stderr must contain, files that must not exist...
  local name=$1 want=$2 needle=$3; shift 3
  local ok=1
  if [ "$rc" -ne "$want" ]; then echo "  exit $rc, expected $want"; ok=0; fi
  if [ -n "$needle" ] && ! grep -qF -- "$needle" "$work/err"; then echo "  stderr lacks '$needle':"; sed 's/^/    /' "$work/err"; ok=0; fi
  if grep -qiE 'sanitizer|segmentation|core dumped' "$work/err"; then echo "  crashed"; ok=0; fi
  for f in "$@"; do
    if [ -e "$f" ]; then echo "  $f exists but must not"; ok=0; fi
  done
  if ls "$work/out" 2>/dev/null | grep -q '\.tmp-'; then echo "  a temporary file was left behind"; ok=0; fi
  if [ $ok = 1 ]; then passed=$((passed+1)); echo "ok   $name"; else failed=$((failed+1)); echo "FAIL $name"; fi
}

run() { "$bin" -m "$model" -t 2 "$@" >"$work/outlog" 2>"$work/err"; rc=$?; }

mkdir -p "$work/in"
: >"$work/in/zero.png"
run "$work/in/zero.png" -o "$work/out"
check "zero-byte file" 1 "zero.png: empty file" "$work/out/zero.png"

printf 'just text, not a picture\n' >"$work/in/notes.jpg"
run "$work/in/notes.jpg" -o "$work/out"
check "not an image" 1 "notes.jpg: not a PNG or JPEG image" "$work/out/notes.jpg"

head -c 400 "$data/tiny_dark.jpg" >"$work/in/cut.jpg"
run "$work/in/cut.jpg" -o "$work/out"
check "truncated JPEG" 1 "cut.jpg: corrupt or truncated JPEG" "$work/out/cut.jpg"

head -c 300 "$data/tiny_dark.png" >"$work/in/cut.png"
run "$work/in/cut.png" -o "$work/out"
check "truncated PNG" 1 "cut.png: corrupt or truncated PNG" "$work/out/cut.png"

# IHDR claiming 40000 x 40000 pixels
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x9c\x40\x00\x00\x9c\x40\x08\x02\x00\x00\x00\x00\x00\x00\x00' >"$work/in/huge.png"
run "$work/in/huge.png" -o "$work/out"
check "absurd dimensions" 1 "huge.png: image is 40000x40000, larger than" "$work/out/huge.png"

run "$work/in/missing.png" -o "$work/out"
check "missing input" 1 "missing.png: No such file or directory"

head -c 5000 "$model" >"$work/bad.sglx"
"$bin" -m "$work/bad.sglx" "$data/tiny_dark.png" -o "$work/out2" >/dev/null 2>"$work/err"; rc=$?
check "truncated model" 2 "bad.sglx: truncated or inconsistent" "$work/out2/tiny_dark.png"

printf 'SGLX' >"$work/short.sglx"
"$bin" -m "$work/short.sglx" "$data/tiny_dark.png" -o "$work/out2" >/dev/null 2>"$work/err"; rc=$?
check "model too short" 2 "short.sglx: too short" "$work/out2/tiny_dark.png"

# A batch with good and bad files: the good ones are written, exit is 1.
cp "$data/tiny_dark.png" "$data/tiny_dark.jpg" "$work/in/"
run "$work/in" -o "$work/out"
check "mixed folder" 1 "2 enhanced, 0 skipped (output exists), 5 failed" "$work/out/zero.png" "$work/out/notes.jpg" "$work/out/cut.png"
for f in tiny_dark.png tiny_dark.jpg; do
  if [ -s "$work/out/$f" ]; then passed=$((passed+1)); echo "ok   mixed folder wrote $f"
  else failed=$((failed+1)); echo "FAIL mixed folder did not write $f"; fi
done

# Existing outputs are not replaced without --overwrite.
before=$(md5sum <"$work/out/tiny_dark.png")
run "$work/in/tiny_dark.png" -o "$work/out"
check "no silent overwrite" 1 "exists (--skip-existing skips it, --overwrite replaces it)"
[ "$before" = "$(md5sum <"$work/out/tiny_dark.png")" ] && passed=$((passed+1)) || { failed=$((failed+1)); echo "FAIL output changed"; }

"$bin" --strength 3 x -o y >/dev/null 2>"$work/err"; rc=$?
check "bad option value" 2 "strength must be in 0..1"

"$bin" --help >/dev/null 2>"$work/err"; rc=$?
check "--help exits 0" 0 ""

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
