"""Reading and writing .sglx files (docs/model-format.md); the C reader is
core/src/model_file.c. Little-endian throughout; CRC-32 (zlib) trailer."""
import struct
import zlib
from typing import Dict, Tuple

import numpy as np

MAGIC = b"SGLX"
VERSION = 1
ALIGN = 64
KV_U32, KV_F32, KV_STR = 0, 1, 2
DT_F32, DT_F16 = 0, 1


def _kv_bytes(key: str, value) -> bytes:
    k = key.encode()
    if isinstance(value, str):
        payload, typ, count = value.encode(), KV_STR, len(value.encode())
    else:
        vals = list(value) if isinstance(value, (list, tuple)) else [value]
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
            payload, typ = struct.pack(f"<{len(vals)}I", *vals), KV_U32
        else:
            payload, typ = struct.pack(f"<{len(vals)}f", *vals), KV_F32
        count = len(vals)
    return struct.pack("<H", len(k)) + k + struct.pack("<BI", typ, count) + payload


def write(path: str, kv: Dict[str, object], tensors: Dict[str, np.ndarray]) -> None:
    """Writes kv (int, float, str or lists of numbers) and tensors (float32 or
    float16 arrays, rank 1..4) to path."""
    entries, blobs, offset = [], [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in (np.float32, np.float16):
            raise TypeError(f"{name}: dtype {arr.dtype} is not float32/float16")
        if not 1 <= arr.ndim <= 4:
            raise ValueError(f"{name}: rank {arr.ndim} is not 1..4")
        n = name.encode()
        dt = DT_F32 if arr.dtype == np.float32 else DT_F16
        entries.append(struct.pack("<H", len(n)) + n + struct.pack("<BB", dt, arr.ndim)
                       + struct.pack(f"<{arr.ndim}I", *arr.shape) + struct.pack("<Q", offset))
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        blobs.append(data + b"\0" * (-len(data) % ALIGN))
        offset += len(blobs[-1])
    meta = b"".join(_kv_bytes(k, v) for k, v in kv.items()) + b"".join(entries)
    data_offset = 32 + len(meta)
    data_offset += -data_offset % ALIGN
    header = MAGIC + struct.pack("<IIIQQ", VERSION, len(kv), len(tensors), data_offset, offset)
    body = header + meta
    body += b"\0" * (data_offset - len(body)) + b"".join(blobs)
    with open(path, "wb") as f:
        f.write(body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF))


def read(path: str) -> Tuple[Dict[str, object], Dict[str, np.ndarray]]:
    """The inverse of write (for tests and tools; the C loader is the strict one)."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path}: bad magic")
    version, n_kv, n_t, data_offset, data_size = struct.unpack_from("<IIIQQ", buf, 4)
    if version != VERSION or zlib.crc32(buf[:-4]) & 0xFFFFFFFF != struct.unpack("<I", buf[-4:])[0]:
        raise ValueError(f"{path}: bad version or checksum")
    pos, kv, tensors = 32, {}, {}
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<H", buf, pos); pos += 2
        key = buf[pos:pos + klen].decode(); pos += klen
        typ, count = struct.unpack_from("<BI", buf, pos); pos += 5
        if typ == KV_STR:
            kv[key] = buf[pos:pos + count].decode(); pos += count
        else:
            vals = struct.unpack_from(f"<{count}{'I' if typ == KV_U32 else 'f'}", buf, pos); pos += 4 * count
            kv[key] = vals[0] if count == 1 else list(vals)
    for _ in range(n_t):
        (nlen,) = struct.unpack_from("<H", buf, pos); pos += 2
        name = buf[pos:pos + nlen].decode(); pos += nlen
        dt, ndim = struct.unpack_from("<BB", buf, pos); pos += 2
        shape = struct.unpack_from(f"<{ndim}I", buf, pos); pos += 4 * ndim
        (off,) = struct.unpack_from("<Q", buf, pos); pos += 8
        dtype = np.float32 if dt == DT_F32 else np.float16
        count = int(np.prod(shape))
        tensors[name] = np.frombuffer(buf, dtype=dtype, count=count, offset=data_offset + off).reshape(shape)
    return kv, tensors
