"""Synthetic low light, the physically grounded way (../shared/DATA.md).

A well-exposed sRGB photo is taken back to linear light, its exposure cut by
a log-uniform factor, sensor noise added (shot noise, whose variance grows
with the signal, plus a read-noise floor), a slight colour cast applied,
clipped, returned to sRGB, quantised to 8 bits and sometimes JPEG-compressed.
A share of inputs is left bright (exposure 1, little noise) so the network
learns to pass a well-lit photo through nearly unchanged.

Arrays are float32 H x W x 3 in [0, 1]. All randomness comes from the
numpy Generator passed in, so a seed reproduces an input exactly.
"""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

EXPOSURE_RANGE = (1 / 50, 1 / 4)     # linear gain, log-uniform
SHOT_RANGE = (2e-4, 1e-2)            # shot-noise variance per unit of linear signal (1 / full well)
READ_RANGE = (5e-4, 6e-3)            # noise floor, standard deviation, linear units
CAST_SPREAD = 0.08                   # per-channel gain in [1 - s, 1 + s]
P_BRIGHT = 0.12                      # share of inputs not darkened
P_JPEG = 0.3
JPEG_QUALITY = (60, 95)


@dataclass
class Params:
    exposure: float
    shot: float
    read: float
    cast: tuple
    jpeg_quality: int  # 0: no JPEG


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def sample_params(rng: np.random.Generator) -> Params:
    jpeg = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)) if rng.random() < P_JPEG else 0
    if rng.random() < P_BRIGHT:
        return Params(1.0, log_uniform(rng, 1e-5, 2e-4), log_uniform(rng, 1e-4, 1e-3), (1.0, 1.0, 1.0), jpeg)
    cast = tuple(float(c) for c in rng.uniform(1 - CAST_SPREAD, 1 + CAST_SPREAD, 3))
    return Params(log_uniform(rng, *EXPOSURE_RANGE), log_uniform(rng, *SHOT_RANGE), log_uniform(rng, *READ_RANGE),
                  cast, jpeg)


def sample_dark_params(rng: np.random.Generator) -> Params:
    """sample_params, redrawn until the input is actually darkened (for the
    low-light validation scores)."""
    p = sample_params(rng)
    while p.exposure == 1.0:
        p = sample_params(rng)
    return p


def darken(img, exposure, shot=0.01, read=0.002, cast=(1.0, 1.0, 1.0), rng=None, jpeg_quality=0):
    """img in [0, 1] sRGB -> a dark, noisy, 8-bit-quantised sRGB image.

    The sensor sees s = lin * exposure * cast; shot noise is Poisson-like with
    variance shot * s (photon counting: relative noise sqrt(shot / s) grows as
    the scene gets darker), read noise has standard deviation `read`."""
    rng = rng or np.random.default_rng(0)
    lin = srgb_to_linear(img.astype(np.float64)) * exposure * np.asarray(cast)
    var = shot * np.maximum(lin, 0) + read ** 2
    noisy = lin + rng.normal(size=lin.shape) * np.sqrt(var)
    out = np.round(linear_to_srgb(noisy) * 255).astype(np.uint8)
    if jpeg_quality:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=jpeg_quality)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return (out / 255.0).astype(np.float32)


def degrade(img, rng: np.random.Generator):
    """A random low-light version of img; returns (dark image, Params)."""
    p = sample_params(rng)
    return darken(img, p.exposure, p.shot, p.read, p.cast, rng, p.jpeg_quality), p
