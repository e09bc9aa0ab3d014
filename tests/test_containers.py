"""The Qt .rcc and EET readers (train/containers.py): a small valid file of
each, built here byte by byte, reads back; truncated or lying copies raise
ContainerError naming the file, never something else. Also: prepare_data
names a package it cannot fetch. Run by ctest."""
import os
import struct
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from containers import EET_MAGIC, ContainerError, read_eet, read_rcc  # noqa: E402

import pyrequire  # noqa: E402  (beside this file)

pyrequire.require("numpy", "PIL")
  # prepare_data needs them

PAYLOAD = b"\xff\xd8\xff" + bytes(range(200))


def make_rcc(compressed=False):
    """Version 2: root directory -> one file 'a.jpg'."""
    name = "a.jpg".encode("utf-16-be")
    names = struct.pack(">HI", 5, 0) + name
    blob = struct.pack(">I", len(PAYLOAD)) + zlib.compress(PAYLOAD) if compressed else PAYLOAD
    data = struct.pack(">I", len(blob)) + blob
    root = struct.pack(">IHII", 0, 2, 1, 1) + b"\0" * 8
    leaf = struct.pack(">IHHHI", 0, 1 if compressed else 0, 0, 0, 0) + b"\0" * 8
    tree = root + leaf
    header_len = 20
    tree_off, data_off = header_len, header_len + len(tree)
    names_off = data_off + len(data)
    return b"qres" + struct.pack(">IIII", 2, tree_off, data_off, names_off) + tree + data + names


def make_eet(compressed=False):
    name = b"edje/images/0\0"
    blob = zlib.compress(PAYLOAD) if compressed else PAYLOAD
    table_end = 12 + 24
    entry = struct.pack(">IIIIII", table_end + len(name), len(blob), len(PAYLOAD), table_end, len(name),
                        1 if compressed else 0)
    return struct.pack(">III", EET_MAGIC, 1, 0) + entry + name + blob


class ContainerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_valid_files_read_back(self):
        for compressed in (False, True):
            self.assertEqual(read_rcc(self.write("x.rcc", make_rcc(compressed))), {"a.jpg": PAYLOAD})
            self.assertEqual(read_eet(self.write("x.edj", make_eet(compressed))), {"edje/images/0": PAYLOAD})

    def test_every_truncation_fails_cleanly(self):
        for maker, reader, ext in ((make_rcc, read_rcc, "rcc"), (make_eet, read_eet, "edj")):
            full = maker(True)
            for n in range(len(full)):
                path = self.write(f"cut.{ext}", full[:n])
                with self.assertRaises(ContainerError, msg=f"{ext} truncated to {n} bytes") as ctx:
                    reader(path)
                self.assertIn(path, str(ctx.exception))

    def test_lying_offsets_and_magic(self):
        rcc = bytearray(make_rcc())
        rcc[8:12] = struct.pack(">I", 10 ** 6)  # tree offset past the end
        with self.assertRaisesRegex(ContainerError, "tree offset"):
            read_rcc(self.write("a.rcc", bytes(rcc)))
        with self.assertRaisesRegex(ContainerError, "qres"):
            read_rcc(self.write("b.rcc", b"nope" + make_rcc()[4:]))
        eet = bytearray(make_eet())
        eet[4:8] = struct.pack(">I", 10 ** 5)  # entry count
        with self.assertRaisesRegex(ContainerError, "entry table"):
            read_eet(self.write("a.edj", bytes(eet)))
        bad = bytearray(make_eet(True))
        bad[-5] ^= 0xFF  # corrupt the zlib stream
        with self.assertRaises(ContainerError):
            read_eet(self.write("b.edj", bytes(bad)))

    def test_unfetchable_package_is_a_clear_error(self):
        import prepare_data
        with self.assertRaisesRegex(prepare_data.DataError, "cannot fetch package sagalux-no-such-package"):
            prepare_data.fetch("sagalux-no-such-package", self.dir.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
