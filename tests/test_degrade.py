"""Statistics of the synthetic low-light model (train/degrade.py): the output
brightness and noise match the parameters, the sampling ranges and shares are
what the code says, and a seed reproduces an input. Run by ctest."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import pyrequire  # noqa: E402  (beside this file)

pyrequire.require("numpy", "PIL")
import numpy as np  # noqa: E402
import degrade as D  # noqa: E402


def grey(value, size=256):
    return np.full((size, size, 3), value, np.float32)


class DegradeTest(unittest.TestCase):
    def test_brightness_ratio_matches_exposure(self):
        img = grey(0.6)
        lin = D.srgb_to_linear(np.float64(0.6))
        for exposure, tol in ((1 / 4, 0.01), (1 / 8, 0.015), (1 / 50, 0.08)):
            out = D.darken(img, exposure, shot=0.0, read=0.0)
            ratio = D.srgb_to_linear(out.astype(np.float64)).mean() / lin
            # tol: 8-bit quantisation of the dark level (one step is ~7% at 1/50)
            self.assertAlmostEqual(ratio / exposure, 1.0, delta=tol, msg=f"exposure {exposure}")

    def test_noise_variance_matches_shot_and_read(self):
        img = grey(0.7)
        exposure = 0.25
        s = D.srgb_to_linear(np.float64(0.7)) * exposure
        for shot, read in ((1e-2, 1e-3), (2e-3, 5e-3)):
            out = D.darken(img, exposure, shot=shot, read=read, rng=np.random.default_rng(3))
            measured = D.srgb_to_linear(out.astype(np.float64)).var()
            # 5%: the sample variance of 196,608 values is good to ~0.3%; 8-bit
            # quantisation adds ~1% of the variance at this level.
            self.assertAlmostEqual(measured / (shot * s + read ** 2), 1.0, delta=0.05)

    def test_darker_means_relatively_noisier(self):
        img = grey(0.7)
        rel = []
        for exposure in (0.25, 0.05):
            out = D.srgb_to_linear(D.darken(img, exposure, shot=5e-3, read=1e-3).astype(np.float64))
            rel.append(out.std() / out.mean())
        self.assertGreater(rel[1], 1.5 * rel[0])

    def test_colour_cast_scales_channels(self):
        out = D.darken(grey(0.8), 0.25, shot=0.0, read=0.0, cast=(1.08, 1.0, 0.92))
        lin = D.srgb_to_linear(out.astype(np.float64)).reshape(-1, 3).mean(0)
        np.testing.assert_allclose(lin / lin[1], [1.08, 1.0, 0.92], rtol=0.01)

    def test_sampling_ranges_and_bright_share(self):
        rng = np.random.default_rng(0)
        ps = [D.sample_params(rng) for _ in range(4000)]
        bright = np.mean([p.exposure == 1.0 for p in ps])
        self.assertAlmostEqual(bright, D.P_BRIGHT, delta=0.02)  # binomial SE 0.005
        dark = np.array([p.exposure for p in ps if p.exposure < 1])
        self.assertTrue((dark >= D.EXPOSURE_RANGE[0]).all() and (dark <= D.EXPOSURE_RANGE[1]).all())
        mid = np.mean(np.log(D.EXPOSURE_RANGE))  # log-uniform: mean of the log is the midpoint
        self.assertAlmostEqual(np.log(dark).mean(), mid, delta=0.05)
        self.assertAlmostEqual(np.mean([p.jpeg_quality > 0 for p in ps]), D.P_JPEG, delta=0.03)

    def test_bright_inputs_pass_nearly_unchanged(self):
        rng = np.random.default_rng(1)
        img = rng.random((64, 64, 3)).astype(np.float32)
        out = D.darken(img, 1.0, shot=2e-4, read=1e-3, rng=rng)
        psnr = 10 * np.log10(1 / np.mean((out - img) ** 2))
        self.assertGreater(psnr, 30)

    def test_seed_reproduces(self):
        img = np.random.default_rng(2).random((32, 48, 3)).astype(np.float32)
        a, pa = D.degrade(img, np.random.default_rng(7))
        b, pb = D.degrade(img, np.random.default_rng(7))
        self.assertEqual(pa, pb)
        np.testing.assert_array_equal(a, b)


if __name__ == "__main__":
    unittest.main(verbosity=2)
