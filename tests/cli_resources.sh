#!/usr/bin/env bash
# The sagalux CLI when memory or disk run short: a photo that needs more
# memory than the process may take is refused (from its header, before
# decoding) with its size and the need, and the run goes on; standard input
# is read no further than a photo can be; a full disk stops the run after
# the first save that finds it full. Usage: cli_resources.sh SAGALUX_BINARY TESTS_DATA_DIR
set -u
bin=$1
data=$2
model=$data/golden_tiny.sglx   # a valid (untrained) model: the CLI's plumbing is what is tested
work=$(mktemp -d)
full=$work/full
trap 'mountpoint -q "$full" 2>/dev/null && umount "$full"; rm -rf "$work"' EXIT
. "$(dirname "$0")/cli_lib.sh"

no_trace() { # name: no crash report, no output or temporary file of a refused photo (the rest of the args)
  local name=$1 clean=1; shift
  if grep -qiE 'sanitizer|segmentation|core dumped|killed' "$work/err"; then echo "  crashed"; clean=0; fi
  for f in "$@"; do if [ -e "$f" ]; then echo "  $f exists but must not"; clean=0; fi; done
  if ls "$work/out" 2>/dev/null | grep -q '\.tmp-'; then echo "  a temporary file was left behind"; clean=0; fi
  if [ $clean = 1 ]; then ok "$name"; else bad "$name"; fi
}

# A PNG of w x h black pixels (small: it compresses 1000 to 1), or of noise (seeded).
make_png() { # w h path [noise]
  python3 - "$@" <<'EOF'
import random, struct, sys, zlib
w, h, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
noise = len(sys.argv) > 4
rnd = random.Random(25)
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
c = zlib.compressobj(9)
rows = (b'\0' + (bytes(rnd.getrandbits(8) for _ in range(3 * w)) if noise else bytes(3 * w)) for _ in range(h))
idat = b''.join(c.compress(r) for r in rows) + c.flush()
open(out, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                      + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
EOF
}

mkdir -p "$work/in"
have_python=1
command -v python3 >/dev/null || have_python=0

# ---- memory (item: never killed for memory) --------------------------------
# RLIMIT_AS (ulimit -v) bounds what the process may take; AddressSanitizer's
# shadow memory cannot live under it, so these cases need the plain build.
asan=0
if grep -aq __asan_init "$bin" 2>/dev/null || { command -v ldd >/dev/null && ldd "$bin" 2>/dev/null | grep -q libasan; }; then
  asan=1
fi
if [ $asan = 1 ]; then
  echo "skip memory cases: $bin is an AddressSanitizer build, which cannot run under ulimit -v"
elif [ $have_python = 0 ]; then
  echo "skip memory cases: python3 (which makes the test photos) is not installed"
else
  make_png 3000 2000 "$work/in/big.png"
  cp "$data/tiny_dark.jpg" "$work/in/tiny.jpg"
  # The limits count from the address space the binary maps before any work
  # (a CUDA build's libraries map 0.9 GB, a CPU build's 0.2 GB): measured
  # while it waits for standard input.
  mkfifo "$work/wait"
  "$bin" -m "$model" -t 2 - -o "$work/waited" <"$work/wait" >/dev/null 2>&1 &
  waiter=$!
  exec 7>"$work/wait"
  base_kb=0
  for _ in $(seq 50); do
    base_kb=$(sed -n 's/^VmSize:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$waiter/status 2>/dev/null)
    [ -n "$base_kb" ] && [ "$base_kb" -gt 0 ] && sleep 0.2 && break
    sleep 0.05
  done
  base_kb=$(sed -n 's/^VmSize:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$waiter/status 2>/dev/null)
  exec 7>&-
  wait $waiter 2>/dev/null
  echo "  the binary maps ${base_kb:-?} kB before any work"
  base_kb=${base_kb:-200000}
  limit_kb=$((base_kb + 1000000))   # 1 GB more: the CLI, its threads and OpenBLAS's buffers fit; big.png's 1.6 GB do not
  (ulimit -v $limit_kb; "$bin" -m "$model" -t 2 "$work/in/big.png" "$work/in/tiny.jpg" -o "$work/out" >"$work/outlog" 2>"$work/err"); rc=$?
  expect "photo past the memory limit: refused, naming its size and need" 1 "big.png: 3000x2000: needs "
  check "the refusal says what is available" 'grep -q "big.png: 3000x2000: needs [0-9.]* [GM]B to decode and enhance, [0-9.]* [GM]B available" "$work/err"'
  check "the run went on with the next photo" '[ -s "$work/out/tiny.jpg" ] && grep -qF "1 enhanced, 0 skipped (output exists), 1 failed" "$work/err"'
  no_trace "photo past the memory limit: no crash, no output" "$work/out/big.png"

  # A small file that declares 18760x17490 pixels: refused from its header,
  # before the decoder allocates anything.
  (ulimit -v $limit_kb; "$bin" -m "$model" -t 2 "$data/bomb_18760x17490.jpg" -o "$work/out" >"$work/outlog" 2>"$work/err"); rc=$?
  expect "declared size past memory: refused before decoding" 1 "bomb_18760x17490.jpg: 18760x17490: needs "
  no_trace "declared size past memory: no crash, no output" "$work/out/bomb_18760x17490.jpg"

  # The same photo from standard input.
  (ulimit -v $limit_kb; "$bin" -m "$model" -t 2 - -o "$work/out" <"$work/in/big.png" >"$work/outlog" 2>"$work/err"); rc=$?
  expect "stdin photo past the memory limit: refused" 1 "<stdin>: 3000x2000: needs "
  no_trace "stdin photo past the memory limit: no crash, no output" "$work/out/stdin.png"

  # Tight limits, where a small photo fits but the matrix library's work
  # buffers (mapped on its first product) may not: the run ends by itself,
  # the photo enhanced or refused with its need, never hanging while
  # OpenBLAS retries a buffer it cannot map.
  hung=""
  for extra in 250000 300000 350000 400000 500000; do
    kb=$((base_kb + extra))
    rm -rf "$work/tight"
    (ulimit -v $kb; timeout -s KILL 60 "$bin" -m "$model" -t 2 "$work/in/tiny.jpg" -o "$work/tight" >"$work/outlog" 2>"$work/err"); rc=$?
    if [ $rc -eq 0 ] && [ -s "$work/tight/tiny.jpg" ]; then :
    elif [ $rc -eq 1 ] || [ $rc -eq 2 ] && grep -q "needs\|memory" "$work/err"; then :
    else hung="$hung +${extra}k:exit$rc"; fi
  done
  [ -z "$hung" ] && ok "tight memory limits: each run ends by itself, enhanced or refused with its need" \
    || { echo "  $hung"; bad "tight memory limits"; }
fi

# ---- standard input is bounded by what a photo can be ----------------------
# The writer counts what was taken before sagalux stopped reading.
taken() { sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' "$work/dd" | tail -1; }
( trap '' PIPE; dd if=/dev/zero bs=64k count=4800 2>"$work/dd" ) | "$bin" -m "$model" -t 2 - -o "$work/out" >"$work/outlog" 2>"$work/err"; rc=$?
expect "stdin of zeros: refused as not an image" 1 "<stdin>: not a PNG or JPEG image"
check "stdin of zeros: read stopped at the first bytes (took $(taken) of 314572800)" '[ "$(taken)" -lt 16000000 ]'

hdr='\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x40\x00\x00\x00\x40\x08\x02\x00\x00\x00\x25\x0b\xe6\x89'
( trap '' PIPE; { printf "$hdr"; dd if=/dev/zero bs=64k count=4800 2>"$work/dd"; } ) | "$bin" -m "$model" -t 2 - -o "$work/out" >"$work/outlog" 2>"$work/err"; rc=$?
expect "a 64x64 PNG header then 300 MB: refused" 1 "<stdin>: more than 64 MiB, more than a 64x64 photo can be"
check "a 64x64 PNG header then 300 MB: read stopped near 64 MiB (took $(taken))" '[ "$(taken)" -lt 100000000 ]'

"$bin" -m "$model" -t 2 - -o "$work/out" <"$data/tiny_dark.png" >"$work/outlog" 2>"$work/err"; rc=$?
check "a photo on stdin still enhances" '[ $rc -eq 0 ] && [ -s "$work/out/stdin.png" ]'

# ---- a full disk stops the run ---------------------------------------------
if [ $have_python = 0 ]; then
  echo "skip full-disk case: python3 (which makes the test photos) is not installed"
elif ! { mkdir -p "$full" && mount -t tmpfs -o size=200k tmpfs "$full" 2>"$work/mount.err"; }; then
  echo "skip full-disk case: cannot mount a small tmpfs ($(head -1 "$work/mount.err"); root is needed)"
else
  # Noise compresses badly: each output takes about 24 kB of the 200 kB.
  mkdir -p "$work/noise"
  make_png 128 128 "$work/noise/n01.png" noise
  for i in $(seq -w 2 20); do cp "$work/noise/n01.png" "$work/noise/n$i.png"; done
  "$bin" -m "$model" -t 2 "$work/noise" -o "$full/out" >"$work/outlog" 2>"$work/err"; rc=$?
  expect "full disk: the run stops, saying so" 1 "the disk holding $full/out is full: stopped; "
  not_processed=$(sed -n 's/.*is full: stopped; \([0-9]*\) photo(s) not processed.*/\1/p' "$work/err")
  full_failures=$(grep -c 'No space left on device' "$work/err")
  # Every photo went through the network before (each only to fail at its
  # save); now the photos after the first full-disk failure are not run
  # (the one in the network then is cancelled, one already enhanced may
  # still try its save).
  check "full disk: the later photos are not run (${not_processed:-?} of 20 not processed, $full_failures full-disk failures)" \
    '[ "${not_processed:-0}" -ge 5 ] && [ "$full_failures" -ge 1 ] && [ "$full_failures" -le 2 ]'
  check "full disk: no temporary file left" '! ls "$full/out" | grep -q "\.tmp-"'
  umount "$full"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
