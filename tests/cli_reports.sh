#!/usr/bin/env bash
# What the sagalux CLI reports: --json gives every input one valid record
# (inputs that cannot be read, files not reached after a stop, names and
# messages that are not UTF-8), text lines escape control characters, hidden
# files are counted, short options work as getopt's do, and the small
# wordings (-o "", -o twice, -o - to a terminal, clash advice, -v's rate).
# Usage: cli_reports.sh SAGALUX_BINARY TESTS_DATA_DIR
set -u
bin=$1
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac # some runs start in another folder
data=$2
case $data in /*) ;; *) data=$PWD/$data ;; esac
model=$data/golden_tiny.sglx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/cli_lib.sh"
py=$(command -v /usr/bin/python3 || command -v python3 || echo false)
have_pil=false
$py -c "import PIL" 2>/dev/null && have_pil=true

# Every line of a --json stdout is valid UTF-8 JSON; prints the records'
# statuses, sorted, one per line (a failure to parse exits 1).
json_statuses() {
  $py - "$1" <<'PY'
import json, sys
for raw in open(sys.argv[1], "rb").read().splitlines():
    print(json.loads(raw.decode("utf-8", "strict"))["status"])
PY
}

# --- --json: inputs that cannot be read get records too -----------------
mkdir -p "$work/in/deep"
cp "$data/tiny_dark.jpg" "$work/in/a.jpg"
d="$work/in/deep"
for i in $(seq 1 65); do d="$d/d"; done
mkdir -p "$d"
cp "$data/tiny_dark.jpg" "$d/x.jpg"
run --json -r "$work/in" "$work/missing.jpg" -o "$work/o1"
st=$(json_statuses "$work/out" | sort | tr '\n' ' ')
check "--json: a missing input and a folder too deep to enter get failed records" \
  '[ $rc -eq 1 ] && [ "$st" = "enhanced failed failed " ]'
check "--json: the summary counts the same failures as the records" 'grep -qF "1 enhanced, 0 skipped (output exists), 2 failed" "$work/err"'
$py - "$work/out" "$work/missing.jpg" <<'PY' >"$work/err" 2>&1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
miss = [r for r in recs if r["input"] == sys.argv[2]]
assert len(miss) == 1 and miss[0]["status"] == "failed" and miss[0]["output"] is None, recs
assert "No such file" in miss[0]["error"] and sys.argv[2] in miss[0]["error"], miss
keys = {"input", "output", "status", "error", "ms", "width", "height", "device"}
assert all(set(r) == keys for r in recs), recs
PY
check "--json: the missing input's record names it and the reason" '[ $? -eq 0 ]'
if [ "$(id -u)" != 0 ]; then
  mkdir -p "$work/locked"; chmod 000 "$work/locked"
  run --json "$work/locked" "$work/in/a.jpg" -o "$work/o1b"
  check "--json: an unreadable folder gets a failed record" \
    '[ $rc -eq 1 ] && [ "$(json_statuses "$work/out" | sort | tr "\n" " ")" = "enhanced failed " ]'
  chmod 700 "$work/locked"
else
  echo "skip the unreadable folder (root reads every folder)"
fi

# --- --json: names and messages that are not UTF-8 ------------------------
mkdir -p "$work/bytes"
ff=$(printf '%s/bytes/caf\xff.jpg' "$work")
cp "$data/tiny_dark.jpg" "$ff"
$py - "$work/bytes/chunk.png" <<'PY'
import struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
# A chunk of type FF FF FF FF that declares more bytes than the file has: its
# type is quoted in the message.
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + ihdr + struct.pack(">I", 100000) + b"\xff\xff\xff\xff" + b"0" * 16)
PY
run --json "$work/bytes" -o "$work/o2"
check "--json: a name with byte FF and a message quoting bytes FF give valid JSON records" \
  '[ "$(json_statuses "$work/out" 2>&1 | sort | tr "\n" " ")" = "enhanced failed " ]'
$py - "$work/out" "$ff" <<'PY' >"$work/err" 2>&1
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines()]
want = os.fsencode(sys.argv[2])
r = [r for r in recs if "input_hex" in r]
assert len(r) == 1, recs
r = r[0]
assert bytes.fromhex(r["input_hex"]) == want, r
assert r["input"].endswith("caf\ufffd.jpg"), r
assert os.path.exists(bytes.fromhex(r["output_hex"])), r  # a script finds the output by it
assert all("input_hex" not in x for x in recs if x is not r), recs
PY
check "--json: an undecodable name comes as U+FFFD in input and exactly in input_hex/output_hex" '[ $? -eq 0 ]'

# --- --json: after SIGINT, the files never started get records ------------
if $have_pil; then
  mkdir -p "$work/many"
  $py - "$work/many" <<'PY'
import sys
from PIL import Image
for i in range(12):
    Image.effect_noise((128, 128), 40 + i).convert("RGB").save(f"{sys.argv[1]}/p{i:02d}.png")
PY
  /usr/bin/python3 - "$work/o3" "$work/o3.json" "$bin" -m "$model" -t 1 --io-threads 1 --json "$work/many" -o "$work/o3" 2>"$work/err" <<'PY'
import os, signal, subprocess, sys, time
out, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(log, "wb") as f:
    p = subprocess.Popen(cmd, stdout=f, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    def done():
        try: return sum(1 for n in os.listdir(out) if n.endswith(".png"))
        except FileNotFoundError: return 0
    while p.poll() is None and done() < 1: time.sleep(0.002)
    p.send_signal(signal.SIGINT)
    sys.exit(p.wait())
PY
  rc=$?
  cp "$work/err" "$work/sigerr"
  $py - "$work/o3.json" "$work/sigerr" <<'PY' >"$work/err" 2>&1
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
err = open(sys.argv[2]).read()
assert len(recs) == 12 and len({r["input"] for r in recs}) == 12, recs
n = {s: sum(r["status"] == s for r in recs) for s in ("enhanced", "skipped", "failed", "interrupted", "not processed")}
assert n["enhanced"] + n["skipped"] + n["failed"] + n["interrupted"] + n["not processed"] == 12, n
assert n["not processed"] >= 1, n
m = re.search(r"(\d+) enhanced, (\d+) skipped \(output exists\), (\d+) failed", err)
assert m and (int(m[1]), int(m[2]), int(m[3])) == (n["enhanced"], n["skipped"], n["failed"]), (err, n)
m = re.search(r"interrupted by SIGINT: (\d+) file\(s\) not processed", err)
assert m and int(m[1]) == n["interrupted"] + n["not processed"], (err, n)
PY
  check "--json after SIGINT: one record per file (\"not processed\" for those never started), matching the summary" \
    '[ $? -eq 0 ] && [ $rc -eq 130 ]'
else
  echo "skip SIGINT records (no Pillow to make test images)"
fi

# --- text: control characters in names are escaped ------------------------
mkdir -p "$work/ctl"
esc=$(printf '%s/ctl/e\033[2Jx.jpg' "$work")
cp "$data/tiny_dark.jpg" "$esc"
run "$work/ctl" -o "$work/o4"
check "text: a name holding ESC is printed as \\x1b, with no raw control byte" \
  '[ $rc -eq 0 ] && grep -qF "e\\x1b[2Jx.jpg ->" "$work/out" && ! grep -q "$(printf "\033")" "$work/out"'
printf 'x' >"$(printf '%s/ctl/n\nl.jpg' "$work")"
run "$work/ctl" -o "$work/o5"
check "text: a name holding a newline cannot forge a second line on stderr" \
  '[ $rc -eq 1 ] && grep -qF "n\\x0al.jpg" "$work/err" && ! grep -q "^l.jpg" "$work/err"'
printf 'x' >"$(printf '%s/ctl/r\nm.txt' "$work")"
run -v "$work/ctl" -o "$work/o5b"
check "-v: a skipped name holding a newline is escaped too" 'grep -qF "r\x0am.txt: skipped, not a PNG or JPEG name" "$work/err"'

# --- hidden files and folders are counted and named ----------------------
mkdir -p "$work/hid/.cache"
cp "$data/tiny_dark.jpg" "$work/hid/a.jpg"
cp "$data/tiny_dark.jpg" "$work/hid/.secret.jpg"
cp "$data/tiny_dark.jpg" "$work/hid/.cache/b.jpg"
run -r "$work/hid" -o "$work/o6"
expect "hidden files and folders are counted in the skip line" 0 "and 2 hidden file(s) or folder(s)"
run -r -v "$work/hid" -o "$work/o7"
check "-v names each hidden file and folder" \
  'grep -qF "hid/.secret.jpg: skipped, hidden" "$work/err" && grep -qF "hid/.cache: skipped, hidden" "$work/err"'

# --- short options as getopt takes them -----------------------------------
mkdir -p "$work/t1"
cp "$data/tiny_dark.jpg" "$work/t1/a.jpg"
(cd "$work" && "$bin" -m "$model" -t1 -s0.5 -rq ./t1// -o o8 >"$work/out" 2>"$work/err"); rc=$?
check "-t1 -s0.5 -rq are taken (attached values, combined flags)" '[ $rc -eq 0 ] && [ -s "$work/o8/a.jpg" ] && [ ! -s "$work/out" ]'
(cd "$work" && "$bin" -m "$model" -t1 -rv ./t1// -o ./o9// >"$work/out" 2>"$work/err"); rc=$?
check "paths are printed tidy: t1/a.jpg -> o9/a.jpg, not ./t1//a.jpg" '[ $rc -eq 0 ] && grep -qx "t1/a.jpg -> o9/a.jpg (20x12, [0-9]* ms)" "$work/out"'
run -rx "$work/t1" -o "$work/o10"
expect "-rx: the unknown letter is named" 2 "unknown option -x"
run -t0 "$work/t1" -o "$work/o10"
expect "-t0: the attached value is checked" 2 "threads must be 1..1024"

# --- -o wording ----------------------------------------------------------
run "$work/t1" -o ""
expect '-o "" gets a real message' 2 "the output folder name is empty"
run "$work/t1" -o "$work/o11" -o "$work/o12"
expect "-o given twice is a usage error" 2 "-o is given twice"
check "-o given twice writes nothing" '[ ! -e "$work/o11" ] && [ ! -e "$work/o12" ]'
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "'$bin' -m '$model' -t 2 '$work/t1/a.jpg' -o -" /dev/null >"$work/tty" 2>&1
  rc_line=$(script -qec "'$bin' -m '$model' -t 2 '$work/t1/a.jpg' -o - ; echo rc=\$?" /dev/null 2>&1 | tr -d '\r' | grep '^rc=')
  check "-o - refuses to write an image to a terminal" \
    '[ "$rc_line" = "rc=2" ] && grep -qF "standard output, which is a terminal" "$work/tty" && ! grep -qa "JFIF" "$work/tty"'
else
  echo "skip -o - to a terminal (no pseudo-terminal here)"
fi

# --- the clash advice names the option that caused it --------------------
mkdir -p "$work/cl"
cp "$data/tiny_dark.jpg" "$work/cl/a.jpg"; cp "$data/tiny_dark.jpg" "$work/cl/a_b.jpg"
run "$work/cl" -o "$work/cl" --suffix _b
expect "an input replaced because of --suffix: the advice names --suffix" 2 "or change --suffix"
cp "$data/tiny_dark.png" "$work/cl/a.png"
run "$work/cl/a.jpg" "$work/cl/a.png" -o "$work/o13" --name %f.jpg
expect "two inputs on one output because of --name: the advice names --name" 2 "or change --name"

# --- -v's rate for slow photos ---------------------------------------------
if $have_pil; then
  $py -c "from PIL import Image; Image.effect_noise((256, 256), 40).convert('RGB').save('$work/slow.png')"
  # Paused for 1.5 s mid-run, so the photo takes longer than a second on any machine.
  /usr/bin/python3 - "$bin" -m "$model" -t 1 -v "$work/slow.png" -o "$work/o14" >/dev/null 2>"$work/err" <<'PY'
import signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:])
time.sleep(0.2)
p.send_signal(signal.SIGSTOP); time.sleep(1.5); p.send_signal(signal.SIGCONT)
sys.exit(p.wait())
PY
  check "-v: a photo slower than a second reads as seconds a photo, not 0.00 a second" \
    'grep -q "1 photo(s) in [0-9.]* s: [0-9.]* s a photo" "$work/err" && ! grep -q " 0\.[0-9]* a second" "$work/err"'
fi

# --- devices: the reason there is no GPU is the real one --------------------
# (this build has none, no driver is loaded, or no GPU is there; never "or")
run --list-devices
if grep -q "^cuda:" "$work/out"; then
  echo "skip the no-GPU wording (this machine has a usable GPU)"
else
  check "--list-devices says which reason there is no GPU" \
    'grep -qxE "\(no CUDA GPU: (this build has no CUDA backend|no NVIDIA driver is loaded|no NVIDIA GPU was found|the NVIDIA driver .* is older than this build needs .*)\)" "$work/out"'
  why=$(sed -n "s/^(no CUDA GPU: \(.*\))$/\1/p" "$work/out")
  run -d cuda "$work/t1/a.jpg" -o "$work/o15"
  expect "-d cuda with no GPU gives the same reason, not the runtime's 'driver version is insufficient'" 2 "$why"
  check "-d cuda with no GPU does not blame the driver's version" '! grep -q "insufficient" "$work/err"'
  run "$work/t1/a.jpg" -o "$work/o16"
  check "-d auto with no GPU runs on the CPU without a warning" '[ $rc -eq 0 ] && ! grep -qi "gpu\|cuda" "$work/err"'
  run -v "$work/t1/a.jpg" -o "$work/o17"
  expect "-d auto -v says why there is no GPU" 0 "enhancing on the CPU: no CUDA GPU ($why)"
fi

# A report that cannot be written (stdout on a full disk) fails the run.
"$bin" -m "$model" -t1 --json "$data/tiny_dark.png" -o "$work/o11" >/dev/full 2>"$work/err"; rc=$?
expect "--json into a full disk: exit 1, said on stderr" 1 "the report could not be written"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
