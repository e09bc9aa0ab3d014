#!/usr/bin/env bash
# The sagalux CLI against a model it must refuse and the files it writes:
# a model with a NaN or Inf weight (its checksum valid) is refused by name
# with exit 2 and no output; a PNG written with EXIF holds one eXIf chunk,
# before the image data.
# Usage: cli_core_files.sh SAGALUX_BINARY TESTS_DATA_DIR
set -u
bin=$1
data=$2
model=$data/golden_tiny.sglx   # a valid (untrained) model: the CLI's plumbing is what is tested
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/cli_lib.sh"
py=$(command -v /usr/bin/python3 || command -v python3) || { echo "FAIL python3 is needed to make the test files"; exit 1; }

# The golden model with one fp16 weight (element 5 of NAME) set to BITS, the CRC made valid again.
poison() { # source, destination, tensor name, fp16 bits
  "$py" - "$@" <<'PY'
import struct, sys, zlib
src, dst, name, bits = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4], 0)
d = bytearray(open(src, "rb").read())
n_kv, n_tensors, data_offset = struct.unpack_from("<IIQ", d, 8)
p = 32
for _ in range(n_kv):
    (klen,) = struct.unpack_from("<H", d, p)
    p += 2 + klen
    kind = d[p]
    (count,) = struct.unpack_from("<I", d, p + 1)
    p += 5 + count * (4 if kind < 2 else 1)
for _ in range(n_tensors):
    (nlen,) = struct.unpack_from("<H", d, p)
    tname = bytes(d[p + 2:p + 2 + nlen])
    p += 2 + nlen
    dtype, ndim = d[p], d[p + 1]
    p += 2 + 4 * ndim
    (offset,) = struct.unpack_from("<Q", d, p)
    p += 8
    if tname == name:
        assert dtype == 1, "expected an fp16 tensor"
        struct.pack_into("<H", d, data_offset + offset + 2 * 5, bits)
        break
else:
    sys.exit("tensor not found")
struct.pack_into("<I", d, len(d) - 4, zlib.crc32(bytes(d[:-4])) & 0xffffffff)
open(dst, "wb").write(d)
PY
}

mkdir -p "$work/in"
cp "$data/tiny_dark.jpg" "$work/in/a.jpg"
for v in "NaN 0x7e00" "Inf 0x7c00"; do
  set -- $v
  what=$1
  poison "$data/golden_tiny.sglx" "$work/bad.sglx" "enc1.0.attn.proj.weight" "$2" || { bad "make a model holding $what"; continue; }
  "$bin" -m "$work/bad.sglx" -t 2 "$work/in/a.jpg" -o "$work/out-$what" >"$work/out" 2>"$work/err"; rc=$?
  expect "a model holding $what is refused with exit 2" 2 "bad.sglx: tensor 'enc1.0.attn.proj.weight' holds $what at element 5"
  check "no output from a model holding $what" '[ -z "$(ls -A "$work/out-$what" 2>/dev/null)" ]'
done

# The EXIF of a JPEG written to PNG: one eXIf chunk, before the first IDAT.
cp "$data/tiny_orient6.jpg" "$work/in/o.jpg"
run "$work/in/o.jpg" -o "$work/png" --format png
expect "PNG output written" 0 ""
chunks=$("$py" - "$work/png/o.png" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
p, types = 8, []
while p + 8 <= len(d):
    (n,) = struct.unpack_from(">I", d, p)
    types.append(d[p + 4:p + 8].decode("latin-1"))
    p += 12 + n
print(" ".join(types))
PY
)
echo "    chunks: $chunks"
check "the PNG holds one eXIf chunk" '[ "$(echo "$chunks" | tr " " "\n" | grep -c "^eXIf$")" -eq 1 ]'
check "the eXIf chunk comes before IDAT" '[[ "$chunks" == *eXIf*IDAT* ]] && [[ "$chunks" != *IDAT*eXIf* ]]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
