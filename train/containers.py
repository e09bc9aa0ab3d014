"""Readers for the two containers some Debian photo packages use.

Qt resource bundles (.rcc), as in gcompris-qt-data:
  header: "qres", u32 version, u32 tree offset, u32 data offset, u32 names
  offset (all big-endian; version >= 3 adds u32 flags). Tree entries are 14
  bytes (version 1) or 22 (version >= 2, with a u64 timestamp): u32 name
  offset, u16 flags (1 = zlib, 2 = directory, 4 = zstd), then either u32 child
  count + u32 first child index (directory) or u16 country + u16 language + u32
  data offset (file). Names: u16 length, u32 hash, UTF-16BE characters. Data:
  u32 length, bytes; zlib entries start with a u32 uncompressed length.

EET files (.edj), as in enlightenment-data:
  u32 magic 0x1ee70f42, u32 entry count, u32 dictionary count, then one
  24-byte big-endian entry per file: data offset, size, data size, name offset,
  name size, flags (bit 0 = compressed; bits 4..7 the codec, 0 = zlib, others
  LZ4 variants). Offsets are from the file start. Entries compressed with a
  codec other than zlib are skipped (in the backgrounds they are Edje scripts;
  the images are stored as plain JPEG).

Both readers check every offset and length against the file and raise
ContainerError with the file name and the reason; they never read past the end.
"""
import struct
import zlib
from typing import Dict


class ContainerError(ValueError):
    pass


def _need(cond, path, what):
    if not cond:
        raise ContainerError(f"{path}: malformed container: {what}")


def read_rcc(path: str, max_entries: int = 200_000) -> Dict[str, bytes]:
    """All files of a Qt .rcc bundle, by '/'-joined path."""
    with open(path, "rb") as f:
        buf = f.read()
    _need(len(buf) >= 20 and buf[:4] == b"qres", path, "no 'qres' magic")
    version, tree, data, names = struct.unpack_from(">IIII", buf, 4)
    _need(1 <= version <= 3, path, f"unknown version {version}")
    entry_size = 14 if version == 1 else 22
    for off, what in ((tree, "tree"), (data, "data"), (names, "names")):
        _need(off < len(buf), path, f"{what} offset {off} past the end")

    def name_at(off):
        p = names + off
        _need(p + 6 <= len(buf), path, "name past the end")
        (n,) = struct.unpack_from(">H", buf, p)
        _need(p + 6 + 2 * n <= len(buf), path, "name past the end")
        return buf[p + 6:p + 6 + 2 * n].decode("utf-16-be")

    out: Dict[str, bytes] = {}
    seen = 0

    def walk(index, prefix):
        nonlocal seen
        seen += 1
        _need(seen <= max_entries, path, "too many entries (a loop?)")
        p = tree + index * entry_size
        _need(p + 14 <= len(buf), path, f"tree entry {index} past the end")
        name_off, flags = struct.unpack_from(">IH", buf, p)
        name = name_at(name_off) if index else ""
        full = f"{prefix}/{name}" if prefix else name
        if flags & 2:
            count, first = struct.unpack_from(">II", buf, p + 6)
            _need(count <= max_entries, path, "absurd child count")
            for child in range(first, first + count):
                walk(child, full)
            return
        (doff,) = struct.unpack_from(">I", buf, p + 10)
        q = data + doff
        _need(q + 4 <= len(buf), path, f"{full}: data past the end")
        (size,) = struct.unpack_from(">I", buf, q)
        _need(q + 4 + size <= len(buf), path, f"{full}: data runs past the end")
        blob = buf[q + 4:q + 4 + size]
        if flags & 1:
            _need(size >= 4, path, f"{full}: compressed entry too short")
            try:
                blob = zlib.decompress(blob[4:])
            except zlib.error as e:
                raise ContainerError(f"{path}: {full}: bad zlib data ({e})") from None
        elif flags & 4:
            raise ContainerError(f"{path}: {full}: zstd-compressed entries are not supported")
        out[full] = blob

    walk(0, "")
    return out


EET_MAGIC = 0x1EE70F42


def read_eet(path: str) -> Dict[str, bytes]:
    """Entries of an EET file by name: plain ones, and zlib ones inflated."""
    with open(path, "rb") as f:
        buf = f.read()
    _need(len(buf) >= 12, path, "too short")
    magic, count, dict_count = struct.unpack_from(">III", buf, 0)
    _need(magic == EET_MAGIC, path, f"bad magic {magic:#x}")
    _need(count <= 1_000_000 and 12 + 24 * count <= len(buf), path, f"entry table of {count} runs past the end")
    out: Dict[str, bytes] = {}
    for i in range(count):
        off, size, data_size, name_off, name_size, flags = struct.unpack_from(">IIIIII", buf, 12 + 24 * i)
        _need(name_off + name_size <= len(buf), path, f"entry {i}: name past the end")
        name = buf[name_off:name_off + name_size].split(b"\0", 1)[0].decode("utf-8", "replace")
        _need(off + size <= len(buf), path, f"{name}: data past the end")
        blob = buf[off:off + size]
        if flags & 1:
            if (flags >> 4) & 0xF:
                continue  # not zlib: not an image here
            try:
                blob = zlib.decompress(blob)
            except zlib.error as e:
                raise ContainerError(f"{path}: {name}: bad zlib data ({e})") from None
            _need(len(blob) == data_size, path, f"{name}: inflated to {len(blob)} bytes, expected {data_size}")
        out[name] = blob
    return out
