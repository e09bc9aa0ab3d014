"""Synthetic low light, the physically grounded way (../shared/DATA.md).

Training uses degrade() -> camera_darken(), a camera-like model:

1. The well-exposed sRGB photo goes back to linear light; its exposure is cut
   by a log-uniform factor in CAM_EXPOSURE (down to 1/100).
2. Raw-like space: the channels are divided by the camera's white-balance
   gains (red and blue collect less light than green on a sensor), so after
   the gains are re-applied the red and blue noise is larger.
3. Poisson-Gaussian noise in that space: variance shot x signal + read^2.
4. A demosaic-like spatial correlation: the noise is filtered with a 3x3
   kernel (centre 1, edges a, corners a^2, scaled to unit energy so the
   variance is kept); a in CORR_RANGE.
5. The gains come back, times a white-balance error (WB_SHIFT): a colour cast.
6. A tone curve: sRGB, a plain gamma (GAMMA_RANGE) or a log curve
   (LOG_RANGE), as cameras render differently.
7. 8 bits; JPEG at a quality in CAM_JPEG_QUALITY with probability CAM_P_JPEG.

P_BRIGHT of the crops are left bright (exposure 1, little noise, sRGB).
Speed, one core (2026-12-07, this machine): see measure_speed() and
train/README.md.

The first model below (darken(), sample_params(), sample_dark_params()) is
kept unchanged: train.py's validation pairs and evaluate.py's scores use it,
so scores stay comparable across models.

First model. A well-exposed sRGB photo is taken back to linear light, its exposure cut by
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


def degrade_simple(img, rng: np.random.Generator):
    """The first model, random: returns (dark image, Params)."""
    p = sample_params(rng)
    return darken(img, p.exposure, p.shot, p.read, p.cast, rng, p.jpeg_quality), p


# --- The camera-like model (training) ----------------------------------------
CAM_EXPOSURE = (1 / 100, 1 / 3)      # linear gain, log-uniform
CAM_SHOT = (1e-4, 2e-2)              # shot-noise variance per unit of raw signal, log-uniform
CAM_READ = (3e-4, 8e-3)              # read noise std, raw units, log-uniform
CAM_GAIN_R = (1.4, 2.4)              # camera white-balance gains (green = 1), uniform
CAM_GAIN_B = (1.2, 2.2)
WB_SHIFT = 0.15                      # white-balance error per channel, in [1 - s, 1 + s] (green 1)
CORR_RANGE = (0.0, 0.6)              # demosaic-like neighbour weight a, uniform
CURVES = (("srgb", 0.5), ("gamma", 0.25), ("log", 0.25))
GAMMA_RANGE = (1.8, 2.6)
LOG_RANGE = (4.0, 60.0)              # log(1 + k x) / log(1 + k)
CAM_P_JPEG = 0.4
CAM_JPEG_QUALITY = (30, 95)


@dataclass
class Camera:
    exposure: float
    shot: float
    read: float
    gains: tuple          # camera white-balance gains (r, g, b), g = 1
    wb_shift: tuple       # white-balance error left in the output (r, g, b), g = 1
    corr: float           # demosaic-like neighbour weight a
    curve: str            # "srgb", "gamma" or "log"
    curve_arg: float      # gamma, or k of the log curve (0 for srgb)
    jpeg_quality: int     # 0: no JPEG


def tone(x, curve, arg):
    """Linear [0, 1] -> display value with the named tone curve."""
    x = np.clip(x, 0.0, 1.0)
    if curve == "srgb":
        return linear_to_srgb(x)
    if curve == "gamma":
        return np.power(x, 1.0 / arg)
    if curve == "log":
        return np.log1p(arg * x) / np.log1p(arg)
    raise ValueError(f"unknown tone curve {curve!r}")


def corr_kernel(a):
    """3x3 demosaic-like kernel, unit energy (sum of squares 1)."""
    k = np.array([[a * a, a, a * a], [a, 1.0, a], [a * a, a, a * a]])
    return k / np.sqrt((k ** 2).sum())


def neighbour_correlation(a):
    """The correlation between horizontal neighbours that corr_kernel(a) gives white noise."""
    k = corr_kernel(a)
    return float((k[:, 1:] * k[:, :-1]).sum())


def correlate(noise, a):
    """Filters H x W x C noise with corr_kernel(a) (edges: reflected)."""
    if a == 0:
        return noise
    k = corr_kernel(a)
    h, w = noise.shape[:2]
    p = np.pad(noise, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    out = np.zeros_like(noise)
    for dy in range(3):
        for dx in range(3):
            out += k[dy, dx] * p[dy:dy + h, dx:dx + w]
    return out


def sample_camera(rng: np.random.Generator) -> Camera:
    jpeg = int(rng.integers(CAM_JPEG_QUALITY[0], CAM_JPEG_QUALITY[1] + 1)) if rng.random() < CAM_P_JPEG else 0
    if rng.random() < P_BRIGHT:
        return Camera(1.0, log_uniform(rng, 1e-5, 2e-4), log_uniform(rng, 1e-4, 1e-3), (1.0, 1.0, 1.0),
                      (1.0, 1.0, 1.0), 0.0, "srgb", 0.0, jpeg)
    gains = (float(rng.uniform(*CAM_GAIN_R)), 1.0, float(rng.uniform(*CAM_GAIN_B)))
    shift = (float(rng.uniform(1 - WB_SHIFT, 1 + WB_SHIFT)), 1.0, float(rng.uniform(1 - WB_SHIFT, 1 + WB_SHIFT)))
    curve = str(rng.choice([c for c, _ in CURVES], p=[w for _, w in CURVES]))
    arg = {"srgb": 0.0, "gamma": float(rng.uniform(*GAMMA_RANGE)), "log": log_uniform(rng, *LOG_RANGE)}[curve]
    return Camera(log_uniform(rng, *CAM_EXPOSURE), log_uniform(rng, *CAM_SHOT), log_uniform(rng, *CAM_READ),
                  gains, shift, float(rng.uniform(*CORR_RANGE)), curve, arg, jpeg)


def camera_darken(img, cam: Camera, rng=None):
    """img in [0, 1] sRGB -> dark camera-like output (float32, 8-bit levels)."""
    rng = rng or np.random.default_rng(0)
    gains = np.asarray(cam.gains, np.float32)
    raw = srgb_to_linear(img.astype(np.float32)) * np.float32(cam.exposure) / gains
    std = np.sqrt(np.float32(cam.shot) * np.maximum(raw, 0) + np.float32(cam.read) ** 2)
    noise = rng.standard_normal(raw.shape, dtype=np.float32)
    noisy = raw + correlate(noise, cam.corr) * std
    lin = noisy * gains * np.asarray(cam.wb_shift, np.float32)
    out = np.round(tone(lin, cam.curve, cam.curve_arg) * 255).astype(np.uint8)
    if cam.jpeg_quality:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=cam.jpeg_quality)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return (out / np.float32(255.0)).astype(np.float32)


def degrade(img, rng: np.random.Generator):
    """A random low-light version of img for training; returns (dark image, Camera)."""
    cam = sample_camera(rng)
    return camera_darken(img, cam, rng), cam


def measure_speed(sizes=(192, 384), n=200):
    """Milliseconds per crop of degrade() on this machine (one core)."""
    import time
    rng = np.random.default_rng(0)
    result = {}
    for s in sizes:
        img = rng.random((s, s, 3)).astype(np.float32)
        t = time.perf_counter()
        for _ in range(n):
            degrade(img, rng)
        result[s] = (time.perf_counter() - t) / n * 1e3
    return result


if __name__ == "__main__":
    for size, ms in measure_speed().items():
        print(f"degrade(): {ms:.2f} ms per {size}-px crop")
