"""Synthetic low light, the physically grounded way (../shared/DATA.md):
undo sRGB, scale exposure in linear light, add shot noise (variance grows
with the signal) and read noise (a floor), optionally a colour cast, clip,
re-apply sRGB, quantise to 8 bits. Arrays are float32 HxWx3 in [0, 1]."""
import numpy as np


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def darken(img, exposure, shot=0.01, read=0.002, cast=(1.0, 1.0, 1.0), rng=None):
    """img in [0, 1] sRGB -> a dark, noisy 8-bit-quantised sRGB image.
    exposure: linear-light gain (e.g. 1/4 .. 1/50); shot: noise variance per
    unit of linear signal; read: standard deviation of the noise floor."""
    rng = rng or np.random.default_rng(0)
    lin = srgb_to_linear(img.astype(np.float64)) * exposure * np.asarray(cast)
    noisy = lin + rng.normal(size=lin.shape) * np.sqrt(shot * np.maximum(lin, 0) + read ** 2)
    return (np.round(linear_to_srgb(noisy) * 255) / 255).astype(np.float32)
