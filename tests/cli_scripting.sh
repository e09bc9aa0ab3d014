#!/usr/bin/env bash
# The sagalux CLI in scripts: --json records (one valid object per file,
# failures included), standard input and output, output names from --name
# and --suffix (and their refusals), --list-devices, and a man page that
# matches --help's option table.
# Usage: cli_scripting.sh SAGALUX_BINARY TESTS_DATA_DIR DOCS_DIR
set -u
bin=$1
data=$2
docs=$3
model=$data/golden_tiny.sglx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/cli_lib.sh"
py=$(command -v /usr/bin/python3 || command -v python3 || echo false) # Debian's, which has Pillow

mkdir -p "$work/in/sub"
cp "$data/tiny_dark.jpg" "$work/in/a.jpg"
cp "$data/tiny_dark.png" "$work/in/sub/b.png"
printf 'not an image' >"$work/in/broken.jpg"
cp "$data/tiny_dark.jpg" "$work/in/we\"ird name.jpg"

# --json: one object per file, failures included; the failure also gets one line on stderr.
run -r --json "$work/in" -o "$work/o1"
check "--json exit 1 with one broken file" '[ $rc -eq 1 ]'
check "--json writes one line per file (4)" '[ "$(wc -l <"$work/out")" -eq 4 ]'
check "--json: the failure gets one line on stderr too" '[ "$(grep -c "broken.jpg" "$work/err")" -eq 1 ]'
if $py -c "import json" 2>/dev/null; then
  $py - "$work/out" <<'PY' >"$work/err" 2>&1
import json, sys
recs = [json.loads(line) for line in open(sys.argv[1])]
keys = {"input", "output", "status", "error", "ms", "width", "height", "device"}
assert all(set(r) == keys for r in recs), recs
st = sorted(r["status"] for r in recs)
assert st == ["enhanced", "enhanced", "enhanced", "failed"], st
bad = [r for r in recs if r["status"] == "failed"][0]
assert bad["input"].endswith("broken.jpg") and "broken.jpg" in bad["error"], bad
good = [r for r in recs if r["input"].endswith('we"ird name.jpg')][0]
assert good["width"] == 20 and good["height"] == 12 and good["device"] in ("cpu", "cuda:0"), good
assert good["output"].endswith('we"ird name.jpg'), good
assert all("//" not in r["output"] for r in recs if r["output"]), recs  # "%d/" at the top folder adds nothing
PY
  check "--json records are valid JSON with the promised fields and values" '[ $? -eq 0 ]'
else
  echo "skip JSON parsing: no python3"
fi

# --ext: folders give only the chosen extensions (any case); a file named
# directly is taken whatever its extension; anything but PNG/JPEG is refused.
mkdir -p "$work/ext"
cp "$data/tiny_dark.jpg" "$work/ext/a.jpg"; cp "$data/tiny_dark.jpg" "$work/ext/b.JPEG"
cp "$data/tiny_dark.png" "$work/ext/c.png"; cp "$data/tiny_dark.jpg" "$work/ext/d.jfif"
run --ext jpg,jpeg -o "$work/ext_out" "$work/ext" "$data/tiny_dark.png"
expect "--ext jpg,jpeg: the others are counted as skipped" 0 "skipped 2 file(s) that are not of the --ext list"
check "--ext jpg,jpeg: a.jpg, b.JPEG and the file named directly, nothing else" \
  '[ "$(cd "$work/ext_out" && ls | sort | tr "\n" " ")" = "a.jpg b.JPEG tiny_dark.png " ]'
run --ext tif -o "$work/x" "$work/ext"
expect "--ext tif is refused" 2 "--ext takes PNG/JPEG extensions"

# JPEG chroma subsampling: the sampling factors in the file are the ones asked
# for (PIL reads them from the frame header: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0).
if "$py" -c "import PIL" 2>/dev/null; then
  for s in 444:0 422:1 420:2 default:2; do
    name=${s%%:*}; want=${s##*:}
    opt=(--subsampling "$name"); [ "$name" = default ] && opt=()
    "$bin" -m "$model" -t 2 -q "${opt[@]}" -o "$work/sub_$name" "$data/tiny_dark.jpg" 2>"$work/err"
    got=$("$py" -c "import sys; from PIL import Image, JpegImagePlugin as J; print(J.get_sampling(Image.open(sys.argv[1])))" "$work/sub_$name/tiny_dark.jpg" 2>&1)
    check "--subsampling $name: the file's chroma sampling is $name" '[ "$got" = "$want" ]'
  done
else
  echo "skip subsampling: no python3 with Pillow"
fi
run --subsampling 411 -o "$work/x" "$data/tiny_dark.jpg"
expect "--subsampling 411 is refused" 2 "subsampling must be 444, 422 or 420"

# Standard input and output: the bytes that come out are an image of the input's size.
"$bin" -m "$model" -t 2 - -o - -f png <"$data/tiny_dark.jpg" >"$work/stdout.png" 2>"$work/err"; rc=$?
check "- -o - -f png: exit 0" '[ $rc -eq 0 ]'
check "- -o - -f png: a PNG on stdout" '[ "$(head -c 4 "$work/stdout.png" | od -An -c | tr -d " ")" = "211PNG" ]'
"$bin" -m "$model" -t 2 - -o - <"$data/tiny_dark.jpg" >"$work/stdout.jpg" 2>"$work/err"
check "- -o -: the input's format (JPEG) on stdout" '[ "$(head -c 2 "$work/stdout.jpg" | od -An -tx1 | tr -d " ")" = "ffd8" ]'
run "$work/in/a.jpg" -o "$work/o2"
check "stdout output equals the file output" 'cmp -s "$work/stdout.jpg" "$work/o2/a.jpg"'
printf 'garbage' | "$bin" -m "$model" -t 2 - -o - >"$work/stdout.bad" 2>"$work/err"; rc=$?
expect "- with garbage on stdin" 1 "<stdin>: not a PNG or JPEG image"
check "nothing on stdout after a failure" '[ ! -s "$work/stdout.bad" ]'
"$bin" -m "$model" -t 2 - -o "$work/o3" <"$data/tiny_dark.png" >"$work/out" 2>"$work/err"
check "- -o DIR: named stdin.png by its content" '[ -s "$work/o3/stdin.png" ]'
run "$work/in/a.jpg" "$work/in/sub/b.png" -o -
expect "-o - with two inputs is refused" 2 "writes one image to standard output"
run --json "$work/in/a.jpg" -o -
expect "--json with -o - is refused" 2 "both write to standard output"
run - - -o "$work/o4"
expect "- twice is refused" 2 "can be given once"

# Names: --suffix, --name with %d %f %e, the extension choosing the format.
run -r "$work/in/sub" "$work/in/a.jpg" -o "$work/o5" --suffix _bright
check "--suffix" '[ -s "$work/o5/a_bright.jpg" ] && [ -s "$work/o5/b_bright.png" ]'
run -r "$work/in" -o "$work/o6" --name 'x/%d/%f.%e.png'
check "--name with %d keeps the tree, .png picks PNG" '[ -s "$work/o6/x/sub/b.png.png" ] && [ "$(head -c 4 "$work/o6/x/a.jpg.png" | od -An -c | tr -d " ")" = "211PNG" ]'
mkdir -p "$work/tree/x" "$work/tree/y"
cp "$data/tiny_dark.jpg" "$work/tree/x/p.jpg"
cp "$data/tiny_dark.jpg" "$work/tree/y/p.jpg"
run -r "$work/tree" -o "$work/o7" --name '%f.%e'
expect "--name that flattens a tree into a collision is refused" 2 "would both be written to"
check "nothing written before the collision refusal" '[ ! -e "$work/o7/p.jpg" ]'
run -r "$work/in/sub" -o "$work/o7" --name '%f.%e'
check "--name flattening without a collision works" '[ $rc -eq 0 ] && [ -s "$work/o7/b.png" ]'
run "$work/in/a.jpg" -o "$work/o8" --name '../%f.%e'
expect "--name leaving the output folder" 2 "cannot leave the output folder"
run "$work/in/a.jpg" -o "$work/o8" --name '%f.%x'
expect "--name with an unknown placeholder" 2 "unknown placeholder %x"
run "$work/in/a.jpg" -o "$work/o8" --name 'same.jpg'
expect "--name without %f" 2 "needs %f"
run "$work/in/a.jpg" -o "$work/o8" --suffix 'a/b'
expect "--suffix with a /" 2 "cannot hold a /"
check "nothing written by refused names" '[ ! -e "$work/o8" ]'

# Orientation: turned upright by default (the EXIF tag then says 1), kept with
# --keep-orientation; --strip writes no EXIF.
run --json "$data/tiny_orient6.jpg" -o "$work/or1"
check "orientation 6 is turned upright (20x12 stored -> 12x20)" 'grep -q "\"width\":12,\"height\":20" "$work/out"'
run --json --keep-orientation "$data/tiny_orient6.jpg" -o "$work/or2"
check "--keep-orientation keeps 20x12" 'grep -q "\"width\":20,\"height\":12" "$work/out"'
if $py -c "import PIL" 2>/dev/null; then
  $py -c "
import sys; from PIL import Image
a, b = (Image.open(p) for p in sys.argv[1:3])
assert a.size == (12, 20) and a.getexif().get(0x0112) == 1, (a.size, a.getexif().get(0x0112))
assert b.size == (20, 12) and b.getexif().get(0x0112) == 6, (b.size, b.getexif().get(0x0112))
" "$work/or1/tiny_orient6.jpg" "$work/or2/tiny_orient6.jpg" >"$work/err" 2>&1
  check "the files: 12x20 with orientation 1, and 20x12 with orientation 6" '[ $? -eq 0 ]'
elif [ "${CI:-}" = true ]; then
  echo "Pillow is missing" >"$work/err"; bad "reading the outputs' EXIF needs Pillow (.ci/install-deps --test)"
else
  echo "skip reading the outputs' EXIF: no Pillow for $py"
fi
run --strip "$data/tiny_orient6.jpg" -o "$work/or3"
check "--strip writes no EXIF" '[ $rc -eq 0 ] && ! grep -q "Exif" "$work/or3/tiny_orient6.jpg" && grep -q "Exif" "$work/or1/tiny_orient6.jpg"'

# XMP, IPTC (in Photoshop's APP13) and DPI: carried JPEG -> PNG -> JPEG, read
# back by Pillow (IPTC keywords through its own IPTC reader); the Photoshop
# thumbnail is dropped (it would show the dark original); --strip drops XMP
# and IPTC but keeps the DPI.
if $py -c "import PIL" 2>/dev/null; then
  $py - "$data/tiny_dark.jpg" "$work/meta.jpg" <<'PY' >"$work/err" 2>&1
import struct, sys
from PIL import Image
src, dst = sys.argv[1:3]
Image.open(src).save(dst, quality=95, dpi=(300, 300))
def res(rid, data):
    pad = b"\0" if len(data) % 2 else b""
    return b"8BIM" + struct.pack(">H", rid) + b"\0\0" + struct.pack(">I", len(data)) + data + pad
iim = b"\x1c\x02\x19\x00\x04dark\x1c\x02\x19\x00\x05night"
irb = res(0x0404, iim) + res(0x040C, b"old dark thumbnail")
xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>" \
      b"<rdf:Description xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:Rating='5'/></rdf:RDF></x:xmpmeta>"
def seg(marker, body):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body
data = open(dst, "rb").read()
at = 2 + 2 + struct.unpack(">H", data[4:6])[0]  # after SOI and JFIF's APP0
data = data[:at] + seg(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + xmp) + seg(0xED, b"Photoshop 3.0\0" + irb) + data[at:]
open(dst, "wb").write(data)
open(dst + ".xmp", "wb").write(xmp)
open(dst + ".irb", "wb").write(res(0x0404, iim))
PY
  check "a JPEG with XMP, IPTC and 300 dpi is made" '[ $? -eq 0 ]'
  run "$work/meta.jpg" -o "$work/m1" -f png
  run "$work/m1/meta.png" -o "$work/m2" -f jpg
  run --strip "$work/meta.jpg" -o "$work/m3"
  $py - "$work/meta.jpg" "$work/m1/meta.png" "$work/m2/meta.jpg" "$work/m3/meta.jpg" <<'PY' >"$work/err" 2>&1
import sys
from PIL import Image, IptcImagePlugin
src, png, jpg, stripped = sys.argv[1:5]
xmp, irb = open(src + ".xmp", "rb").read(), open(src + ".irb", "rb").read()
p = Image.open(png)
assert p.info["XML:com.adobe.xmp"].encode() == xmp, p.info.keys()
hexed = p.info["Raw profile type 8bim"].split()
assert hexed[0] == "8bim" and int(hexed[1]) == len(irb), hexed[:2]
assert bytes.fromhex("".join(hexed[2:])) == irb, "the PNG's Photoshop block"
assert [round(d) for d in p.info["dpi"]] == [300, 300], p.info["dpi"]
j = Image.open(jpg)
apps = dict((m, b) for m, b in j.applist if m in ("APP1", "APP13") and not b.startswith(b"Exif"))
assert apps["APP1"] == b"http://ns.adobe.com/xap/1.0/\0" + xmp, apps
assert apps["APP13"] == b"Photoshop 3.0\0" + irb, apps
assert IptcImagePlugin.getiptcinfo(j)[(2, 25)] == [b"dark", b"night"], IptcImagePlugin.getiptcinfo(j)
assert j.info["dpi"] == (300, 300), j.info["dpi"]
s = Image.open(stripped)
assert not [m for m, b in s.applist if m in ("APP1", "APP13")], s.applist
assert s.info["dpi"] == (300, 300), s.info["dpi"]
PY
  check "XMP, IPTC and DPI carried JPEG -> PNG -> JPEG; no Photoshop thumbnail; --strip keeps only the DPI" '[ $? -eq 0 ]'
elif [ "${CI:-}" = true ]; then
  echo "Pillow is missing" >"$work/err"; bad "reading the outputs' XMP and IPTC needs Pillow (.ci/install-deps --test)"
else
  echo "skip reading the outputs' XMP and IPTC: no Pillow for $py"
fi

# Devices.
run --list-devices
check "--list-devices names the CPU first" '[ $rc -eq 0 ] && head -1 "$work/out" | grep -q "^cpu "'
run "$work/in/a.jpg" -o "$work/o9" -d cuda:x
expect "-d cuda:x is refused" 2 "device must be auto, cpu, cuda, cuda:N"
run "$work/in/a.jpg" -o "$work/o9" -d cuda:0,,1
expect "-d cuda:0,,1 is refused" 2 "cuda:N,M,..."

# The man page is --help-man's output, so it cannot drift from --help.
"$bin" --help-man >"$work/man" 2>"$work/err"
check "docs/sagalux.1 is up to date (regenerate: sagalux --help-man > docs/sagalux.1)" 'cmp -s "$work/man" "$docs/sagalux.1"'
"$bin" --help >"$work/help"
check "every long option of --help is in the man page" \
  '! grep -o -- "--[a-z-]*" "$work/help" | sort -u | while read -r o; do grep -qF -- "$(printf "%s" "$o" | sed "s/-/\\\\-/g")" "$docs/sagalux.1" || echo "missing $o"; done | grep -q missing'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
