#!/usr/bin/env bash
# The sagalux CLI in a shared, hostile output folder: a planted link never
# redirects a write; nothing at an output path is replaced without
# --overwrite, even when it appears during the run; only provably abandoned
# temporaries of ours are ever removed; runs beside each other (other PID
# namespaces, or --skip-existing twice) lose nothing and do no work twice;
# the output tree is never an input; names and templates that cannot be
# written, and inputs that are not regular files, are refused up front.
# Usage: cli_write_safety.sh SAGALUX_BINARY TESTS_DATA_DIR
set -u
bin=$(realpath "$1")
data=$2
model=$data/golden_tiny.sglx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run_stdout=outlog
. "$(dirname "$0")/cli_lib.sh"
is_png() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]; }
py=/usr/bin/python3

mkdir -p "$work/in"
cp "$data/tiny_dark.png" "$work/in/y.png"

# 1. A link planted at the old temporary's name (OUTPUT.tmp-PID: bash's PID
# is the one exec keeps) must not redirect the write.
echo "precious" >"$work/victim"
mkdir -p "$work/o1"
bash -c 'ln -s "$1" "$2/y.png.tmp-$$"; exec "$3" -m "$4" -t 2 "$5" -o "$2"' _ \
  "$work/victim" "$work/o1" "$bin" "$model" "$work/in/y.png" >/dev/null 2>"$work/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -qx precious "$work/victim" && is_png "$work/o1/y.png"; then
  ok "a link planted at a temporary's name: its target untouched, the output a new file"
else echo "  exit $rc, victim: $(head -c 20 "$work/victim" | od -c | head -1)"; bad "planted temporary link"; fi

# 2. A dangling link at the output path is something there: refused without
# --overwrite (no file made where it points); with --overwrite the link
# itself is replaced, never followed.
mkdir -p "$work/o2"
ln -s "$work/pointed-at.png" "$work/o2/y.png"
run "$work/in/y.png" -o "$work/o2"
if [ "$rc" -eq 1 ] && grep -q "exists" "$work/err" && [ -L "$work/o2/y.png" ] && [ ! -e "$work/pointed-at.png" ]; then
  ok "a dangling link at the output: refused, left alone"
else bad "dangling link at the output (exit $rc)"; fi
run "$work/in/y.png" -o "$work/o2" --overwrite
if [ "$rc" -eq 0 ] && is_png "$work/o2/y.png" && [ ! -e "$work/pointed-at.png" ]; then
  ok "--overwrite replaces the link itself, not what it points to"
else bad "--overwrite over a dangling link (exit $rc)"; fi
echo "precious" >"$work/victim2"
ln -s "$work/victim2" "$work/o2/z.png"
mkdir -p "$work/in2" && cp "$data/tiny_dark.png" "$work/in2/z.png"
run "$work/in2/z.png" -o "$work/o2" --overwrite
if [ "$rc" -eq 0 ] && grep -qx precious "$work/victim2" && is_png "$work/o2/z.png"; then
  ok "--overwrite over a link to a file: the file it points to untouched"
else bad "--overwrite over a link to a file (exit $rc)"; fi

# 3. Start-up cleanup removes only provably abandoned temporaries of ours.
mkdir -p "$work/o3"
: >"$work/o3/old.jpg.tmp-999999"           # a name an older version used: may be the user's
: >"$work/o3/notes.txt.tmp-1"
: >"$work/o3/.sagalux-Abandoned123.tmp"   # ours, its writer gone
: >"$work/o3/.sagalux-ABCDEFGHIJK.tmp"     # one letter short: not ours
ln -s "$work/victim" "$work/o3/.sagalux-LinkLinkLink.tmp"
: >"$work/o3/.sagalux-LockedByLive.tmp"
if [ -x "$py" ]; then
  # A live writer (on any host, for NFS) holds a lock on its temporary.
  "$py" -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print("locked", flush=True); time.sleep(60)' \
    "$work/o3/.sagalux-LockedByLive.tmp" >"$work/lockd" &
  locker=$!
  for _ in $(seq 100); do grep -q locked "$work/lockd" && break; sleep 0.05; done
fi
run -v "$work/in/y.png" -o "$work/o3"
[ -x "$py" ] && kill "$locker" 2>/dev/null
left=$(cd "$work/o3" && ls -A | sort | tr '\n' ' ')
want=".sagalux-ABCDEFGHIJK.tmp .sagalux-LinkLinkLink.tmp .sagalux-LockedByLive.tmp notes.txt.tmp-1 old.jpg.tmp-999999 y.png "
[ -x "$py" ] || want=${want/.sagalux-LockedByLive.tmp /}
[ -x "$py" ] || rm -f "$work/o3/.sagalux-LockedByLive.tmp"
if [ "$rc" -eq 0 ] && [ "$left" = "$want" ] && grep -qx precious "$work/victim"; then
  ok "cleanup: only the unlocked temporary of ours removed (a user's *.tmp-PID, a link, a locked one kept)"
else echo "  left: $left"; echo "  want: $want"; bad "start-up cleanup"; fi

# Test photos big enough that two runs overlap.
if "$py" -c "import PIL" 2>/dev/null; then
  mkdir -p "$work/big"
  "$py" - "$work/big" <<'PY'
import sys
from PIL import Image
for i in range(8):
    Image.effect_noise((192, 192), 40 + i).convert("RGB").save(f"{sys.argv[1]}/p{i:02d}.png")
PY
  "$bin" -m "$model" -t 1 -q "$work/big" -o "$work/ref" 2>/dev/null
  same_as_ref() { [ "$(cd "$work/ref" && md5sum -- * | sort)" = "$(cd "$1" && md5sum -- * | sort)" ]; }

  # 3 (continued). Two runs in two PID namespaces (each sagalux is PID 1 there: the old
  # temporary names collided), started together on one folder, many times:
  # both finish, every output is whole, nothing stray is left.
  if unshare -pf --mount-proc true 2>/dev/null; then
    bad_rounds=0
    for round in 1 2 3 4 5 6; do
      out="$work/ns$round"
      unshare -pf --mount-proc "$bin" -m "$model" -t 1 -q --overwrite "$work/big" -o "$out" 2>"$work/ns-a.err" &
      a=$!
      unshare -pf --mount-proc "$bin" -m "$model" -t 1 -q --overwrite "$work/big" -o "$out" 2>"$work/ns-b.err" &
      b=$!
      wait $a; ra=$?
      wait $b; rb=$?
      if [ $ra -ne 0 ] || [ $rb -ne 0 ] || ! same_as_ref "$out" || [ "$(ls -A "$out" | wc -l)" -ne 8 ]; then
        bad_rounds=$((bad_rounds + 1))
        echo "  round $round: exits $ra $rb; $(ls -A "$out" | tr '\n' ' ')"; cat "$work/ns-a.err" "$work/ns-b.err" | head -4
      fi
    done
    [ $bad_rounds -eq 0 ] && ok "two runs in two PID namespaces on one folder, 6 rounds: both finish, whole outputs, nothing stray" \
      || bad "two PID namespaces ($bad_rounds of 6 rounds failed)"
  else
    echo "skip two PID namespaces (unshare -pf is not permitted here)"
  fi

  # 22. Two --skip-existing runs on one folder, started together: every photo
  # is decoded and enhanced once in all (each run claims a photo before it
  # starts, looks for its output again, and the final move never replaces),
  # and the files are whole. A skipped record with a width was decoded.
  bad_rounds=0
  for round in 1 2 3; do
    out="$work/skip$round"
    "$bin" -m "$model" -t 1 --json --skip-existing "$work/big" -o "$out" >"$work/s-a.log" 2>/dev/null &
    a=$!
    "$bin" -m "$model" -t 1 --json --skip-existing "$work/big" -o "$out" >"$work/s-b.log" 2>/dev/null &
    b=$!
    wait $a; ra=$?
    wait $b; rb=$?
    worked=$(cat "$work/s-a.log" "$work/s-b.log" | grep -c '"width":[1-9]')
    if [ $ra -ne 0 ] || [ $rb -ne 0 ] || [ "$worked" -ne 8 ] || ! same_as_ref "$out" ||
       ls -A "$out" | grep -q '^\.sagalux-'; then
      bad_rounds=$((bad_rounds + 1)); echo "  round $round: exits $ra $rb, $worked photos decoded in all (want 8)"
    fi
  done
  [ $bad_rounds -eq 0 ] && ok "two --skip-existing runs at once, 3 rounds: each photo worked on once, outputs whole, no claim left" \
    || bad "two --skip-existing runs ($bad_rounds of 3 rounds failed)"
else
  echo "skip the concurrent runs (no Pillow to make test images: .ci/install-deps --test installs it)"
fi

# 4. With -r, an output folder inside the input tree is never walked as input.
mkdir -p "$work/tree/sub"
cp "$data/tiny_dark.png" "$work/tree/a.png"
cp "$data/tiny_dark.jpg" "$work/tree/sub/b.jpg"
run -r "$work/tree" -o "$work/tree/out"
[ "$rc" -eq 0 ] && ok "-r into a folder inside the tree: first run" || bad "-r into the tree, first run (exit $rc)"
run -r --skip-existing "$work/tree" -o "$work/tree/out"
if [ "$rc" -eq 0 ] && [ "$(grep -c -- '->' "$work/outlog")" -eq 0 ] && [ ! -e "$work/tree/out/out" ]; then
  ok "-r --skip-existing resumes: the output tree is not an input"
else bad "-r --skip-existing over the output tree (exit $rc)"; fi
run -r --suffix _2 "$work/tree" -o "$work/tree/out"
if [ "$rc" -eq 0 ] && [ ! -e "$work/tree/out/out" ] && [ "$(find "$work/tree/out" -type f | wc -l)" -eq 4 ]; then
  ok "-r --suffix: earlier outputs are not enhanced again"
else echo "  $(find "$work/tree/out" -type f | tr '\n' ' ')"; bad "-r --suffix over the output tree (exit $rc)"; fi

# A link planted in the output folder where -r will make a subfolder is not
# followed (nothing is made where it points); a folder at an output path
# fails at planning, --overwrite or not.
mkdir -p "$work/tree6/a/b" "$work/o6l" "$work/elsewhere"
cp "$data/tiny_dark.png" "$work/tree6/a/b/p.png"
ln -s "$work/elsewhere" "$work/o6l/a"
run -r "$work/tree6" -o "$work/o6l"
if [ "$rc" -eq 1 ] && grep -q "is a link, not a folder" "$work/err" && [ -z "$(ls -A "$work/elsewhere")" ]; then
  ok "-r: a link planted for a subfolder is not followed"
else bad "-r through a planted subfolder link (exit $rc; elsewhere: $(ls -A "$work/elsewhere"))"; fi
mkdir -p "$work/o6d/y.png"
run --overwrite "$work/in/y.png" -o "$work/o6d"
expect "a folder at the output path: refused at planning, --overwrite or not" 1 "is a folder"
grep -q -- '->' "$work/outlog" && bad "worked on a photo whose output is a folder" || ok "no work for it"

# 5. A legal 250-byte name is written (the temporary's name is short); an
# output name over the file system's limit is refused at planning.
long=$(printf 'n%.0s' $(seq 246))
cp "$data/tiny_dark.png" "$work/in/$long.png"
run "$work/in/$long.png" -o "$work/o5"
[ "$rc" -eq 0 ] && is_png "$work/o5/$long.png" && ok "a 250-byte file name is written" || bad "250-byte name (exit $rc)"
run -v "$work/in/$long.png" -o "$work/o5b" --suffix _enhanced
if [ "$rc" -eq 1 ] && grep -q "longer than the file system allows" "$work/err" && ! grep -q -- '->' "$work/outlog" &&
   ! grep -q "per photo:" "$work/err"; then
  ok "an output name over 255 bytes is refused at planning, before any work"
else bad "an output name over the limit (exit $rc)"; fi

# 6. A --name template without a usable extension is a usage error (exit 2) at once.
for t in '%f' '%f.' '%f.xyz' 'sub/%f'; do
  run "$work/in/y.png" -o "$work/o6" --name "$t"
  expect "--name '$t' refused before any work" 2 "must end in .%e"
done
[ ! -e "$work/o6" ] && ok "no output folder made for a refused template" || bad "a refused template left $work/o6"
run "$work/in/y.png" -o "$work/o6" --name '%f_x.png'
[ "$rc" -eq 0 ] && is_png "$work/o6/y_x.png" && ok "--name '%f_x.png' is fine" || bad "--name '%f_x.png' (exit $rc)"

# 19. A FIFO named as a photo (no writer) is refused at once, not waited on
# for ever; so is a device behind a photo's name.
mkfifo "$work/in/fifo.jpg"
ln -s /dev/zero "$work/in/zero.jpg"
timeout -s KILL 20 "$bin" -m "$model" -t 2 "$work/in/fifo.jpg" "$work/in/zero.jpg" -o "$work/o19" >/dev/null 2>"$work/err"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(grep -c "not a regular file" "$work/err")" -eq 2 ]; then
  ok "a FIFO and a device named as photos: refused at once"
else bad "FIFO / device inputs (exit $rc; 137 = hung)"; fi
mkdir -p "$work/fifodir" && mkfifo "$work/fifodir/f.jpg" && cp "$data/tiny_dark.png" "$work/fifodir/ok.png"
timeout -s KILL 20 "$bin" -m "$model" -t 2 -v "$work/fifodir" -o "$work/o19b" >/dev/null 2>"$work/err"
rc=$?
[ "$rc" -eq 1 ] && is_png "$work/o19b/ok.png" && grep -q "f.jpg: not a regular file" "$work/err" \
  && ok "a FIFO with a photo's name in a folder: a failure saying why, the photo beside it done" \
  || bad "FIFO in a folder (exit $rc)"
ln -s "$work/nowhere.jpg" "$work/fifodir/gone.jpg"
timeout -s KILL 20 "$bin" -m "$model" -t 2 --json "$work/fifodir" -o "$work/o19c" >"$work/outlog" 2>"$work/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q '"input":"[^"]*gone.jpg","output":null,"status":"failed"' "$work/outlog" \
  && ok "a dangling link with a photo's name: a failure with its record, not a silent skip" \
  || bad "dangling link in a folder (exit $rc)"

# 12. A run refused before any work (exit 2) leaves no folder it made; a
# folder that was there stays.
cp "$data/tiny_dark.png" "$work/in2/y.png"
run "$work/in/y.png" "$work/in2/y.png" -o "$work/new/deeper"
if [ "$rc" -eq 2 ] && [ ! -e "$work/new" ]; then ok "exit 2: no empty output folders left"
else bad "exit 2 left $(find "$work/new" 2>/dev/null | tr '\n' ' ')"; fi
mkdir -p "$work/kept"
run "$work/in/y.png" "$work/in2/y.png" -o "$work/kept"
[ "$rc" -eq 2 ] && [ -d "$work/kept" ] && ok "exit 2: a folder that was there stays" || bad "exit 2 removed a folder it did not make"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
