"""The PyTorch twin and the .sglx writer: run by ctest with Debian's python3.

Checks that the twin still reproduces the committed golden file (so model.py
and tests/data/golden_tiny.sglx cannot drift apart), the LLFormer parameter
count, and the writer/reader round trip."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))

import pyrequire  # noqa: E402  (beside this file)

pyrequire.require("numpy", "torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402

import sglx  # noqa: E402
from make_golden import TAPS, TINY  # noqa: E402
from export import load_sglx  # noqa: E402
from model import LLFORMER, SAGANet, parameter_count  # noqa: E402


class TwinTest(unittest.TestCase):
    def test_llformer_parameter_count(self):
        # NETWORK.md: "about 21.3 M parameters".
        self.assertEqual(parameter_count(SAGANet(LLFORMER)), 21_262_850)

    def test_twin_matches_golden_file(self):
        path = os.path.join(HERE, "data", "golden_tiny.sglx")
        _, t = sglx.read(path)
        net = load_sglx(path)
        self.assertEqual(net.cfg, TINY)
        taps = {}
        with torch.no_grad():
            out = net(torch.from_numpy(t["golden.input"].copy())[None], taps)
        for name in TAPS:
            diff = np.abs(taps[name][0].numpy() - t[f"golden.{name}"]).max()
            self.assertLessEqual(diff, 1e-4, name)  # fp32 twin vs its own float64 truth
        self.assertLessEqual(np.abs(out[0].numpy() - t["golden.output"]).max(), 1e-4)

    def test_sglx_round_trip(self):
        tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
                   "b.weight": np.ones((4, 1, 3, 3), np.float16)}
        kv = {"dim": 8, "blocks": [1, 2, 3, 4], "ffn": 2.5, "description": "x"}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.sglx")
            sglx.write(p, kv, tensors)
            kv2, t2 = sglx.read(p)
            self.assertEqual(kv2, kv)
            for k in tensors:
                np.testing.assert_array_equal(t2[k], tensors[k])
                self.assertEqual(t2[k].dtype, tensors[k].dtype)

    def test_odd_sizes_pad_and_crop(self):
        net = SAGANet(TINY).eval()
        for h, w in [(1, 1), (17, 5), (33, 48)]:
            with torch.no_grad():
                self.assertEqual(tuple(net(torch.rand(1, 3, h, w)).shape), (1, 3, h, w))


if __name__ == "__main__":
    unittest.main(verbosity=2)
