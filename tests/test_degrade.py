"""Statistics of the synthetic low-light models (train/degrade.py): the output
brightness and noise match the parameters, the sampling ranges and shares are
what the code says, and a seed reproduces an input. DegradeTest covers the
first model (validation and evaluate.py), CameraTest the camera-like model
that training uses. Run by ctest."""
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


def cam(**kw):
    base = dict(exposure=0.25, shot=0.0, read=0.0, gains=(1.0, 1.0, 1.0), wb_shift=(1.0, 1.0, 1.0), corr=0.0,
                curve="srgb", curve_arg=0.0, jpeg_quality=0)
    base.update(kw)
    return D.Camera(**base)


def to_lin(out):
    return D.srgb_to_linear(out.astype(np.float64))


class CameraTest(unittest.TestCase):
    def test_brightness_ratio_matches_exposure(self):
        lin = D.srgb_to_linear(np.float64(0.6))
        for exposure, tol in ((1 / 3, 0.01), (1 / 20, 0.03), (1 / 100, 0.12)):
            out = D.camera_darken(grey(0.6), cam(exposure=exposure, gains=(2.0, 1.0, 1.5)))
            # tol: one 8-bit step is ~11% of the level at 1/100
            self.assertAlmostEqual(to_lin(out).mean() / lin / exposure, 1.0, delta=tol, msg=f"exposure {exposure}")

    def test_noise_variance_per_channel_matches_shot_read_and_gains(self):
        exposure, gains = 0.25, (2.0, 1.0, 1.6)
        for shot, read, corr in ((1e-2, 1e-3, 0.0), (2e-3, 5e-3, 0.5)):
            out = D.camera_darken(grey(0.7, 384), cam(exposure=exposure, shot=shot, read=read, gains=gains,
                                                      corr=corr), np.random.default_rng(3))
            lin = to_lin(out).reshape(-1, 3)
            for c, g in enumerate(gains):
                raw = D.srgb_to_linear(np.float64(0.7)) * exposure / g   # the raw-space signal
                expect = (shot * raw + read ** 2) * g * g               # variance after the gain
                # 6%: sample variance of 147,456 correlated values, and 8-bit quantisation
                self.assertAlmostEqual(lin[:, c].var() / expect, 1.0, delta=0.06, msg=f"channel {c}, corr {corr}")

    def test_noise_is_spatially_correlated_like_a_demosaic(self):
        for a in (0.0, 0.3, 0.6):
            out = to_lin(D.camera_darken(grey(0.7, 384), cam(shot=1e-2, read=2e-3, corr=a),
                                         np.random.default_rng(4)))[..., 1]
            r = out - out.mean()
            rho = (r[:, 1:] * r[:, :-1]).mean() / r.var()
            self.assertAlmostEqual(rho, D.neighbour_correlation(a), delta=0.03, msg=f"a = {a}")
        self.assertGreater(D.neighbour_correlation(0.6), 0.5)

    def test_white_balance_shift_is_left_as_a_cast(self):
        out = D.camera_darken(grey(0.8), cam(gains=(2.0, 1.0, 1.5), wb_shift=(1.12, 1.0, 0.88)))
        lin = to_lin(out).reshape(-1, 3).mean(0)
        np.testing.assert_allclose(lin / lin[1], [1.12, 1.0, 0.88], rtol=0.015)

    def test_tone_curves(self):
        x = np.linspace(0, 1, 101)
        np.testing.assert_allclose(D.tone(x, "srgb", 0), D.linear_to_srgb(x))
        for g in (1.8, 2.6):
            np.testing.assert_allclose(D.tone(x, "gamma", g), x ** (1 / g))
        np.testing.assert_allclose(D.tone(x, "log", 10.0), np.log1p(10 * x) / np.log1p(10))
        v = 0.05  # a dark level, through the whole pipeline
        for curve, arg, expect in (("gamma", 1.8, v ** (1 / 1.8)), ("log", 60.0, np.log1p(60 * v) / np.log1p(60))):
            out = D.camera_darken(grey(D.linear_to_srgb(np.float64(v)), 64), cam(exposure=1.0, curve=curve,
                                                                                 curve_arg=arg))
            self.assertAlmostEqual(float(out.mean()), expect, delta=1 / 255, msg=curve)

    def test_sampling_ranges_and_shares(self):
        rng = np.random.default_rng(0)
        ps = [D.sample_camera(rng) for _ in range(4000)]
        self.assertAlmostEqual(np.mean([p.exposure == 1.0 for p in ps]), D.P_BRIGHT, delta=0.02)
        dark = [p for p in ps if p.exposure < 1]
        e = np.array([p.exposure for p in dark])
        self.assertTrue((e >= D.CAM_EXPOSURE[0]).all() and (e <= D.CAM_EXPOSURE[1]).all())
        self.assertLess(e.min(), 1 / 90)   # reaches 1/100
        self.assertAlmostEqual(np.log(e).mean(), np.mean(np.log(D.CAM_EXPOSURE)), delta=0.06)
        for name, share in D.CURVES:
            self.assertAlmostEqual(np.mean([p.curve == name for p in dark]), share, delta=0.03, msg=name)
        self.assertTrue(all(D.GAMMA_RANGE[0] <= p.curve_arg <= D.GAMMA_RANGE[1] for p in dark if p.curve == "gamma"))
        shifts = np.array([p.wb_shift for p in dark])
        self.assertTrue((np.abs(shifts - 1) <= D.WB_SHIFT).all() and np.abs(shifts[:, [0, 2]] - 1).max() > 0.13)
        self.assertTrue((shifts[:, 1] == 1).all())
        q = np.array([p.jpeg_quality for p in ps if p.jpeg_quality])
        self.assertAlmostEqual(len(q) / len(ps), D.CAM_P_JPEG, delta=0.03)
        self.assertTrue(q.min() < 35 and q.max() > 90 and q.min() >= D.CAM_JPEG_QUALITY[0])
        corr = np.array([p.corr for p in dark])
        self.assertTrue(corr.min() < 0.05 and corr.max() > 0.55)

    def test_bright_inputs_pass_nearly_unchanged(self):
        rng = np.random.default_rng(1)
        img = rng.random((64, 64, 3)).astype(np.float32)
        out = D.camera_darken(img, cam(exposure=1.0, shot=2e-4, read=1e-3), rng)
        self.assertGreater(10 * np.log10(1 / np.mean((out - img) ** 2)), 30)

    def test_seed_reproduces(self):
        img = np.random.default_rng(2).random((32, 48, 3)).astype(np.float32)
        a, pa = D.degrade(img, np.random.default_rng(7))
        b, pb = D.degrade(img, np.random.default_rng(7))
        self.assertEqual(pa, pb)
        np.testing.assert_array_equal(a, b)


if __name__ == "__main__":
    unittest.main(verbosity=2)
