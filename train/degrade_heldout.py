"""A second, independent low-light model, for the second held-out set only.

Written without degrade.py (and it must stay so) so that a score on
train/data/heldout2/ says whether the network learned low light or learned
degrade.py. It simulates a raw capture instead of adding noise to an sRGB
image:

1. The well-exposed photo is taken back to scene-linear light through the
   inverse of a plain 2.2 gamma (not the sRGB curve), and through the
   inverse of a camera white balance (red and blue gains as a daylight raw
   file has them).
2. The exposure is cut by a log-uniform factor in EXPOSURE.
3. An RGGB Bayer mosaic keeps one colour per site.
4. Photon counting: each site collects Poisson(signal x electrons) electrons
   (electrons = electrons at full scale, log-uniform in ELECTRONS, i.e. ISO);
   read noise is Gaussian in electrons (READ_E), plus a per-row offset
   (banding, ROW_E); a black level is added and the result is clipped and
   quantised to 12 bits, as an ADC does.
5. The black level is taken off, the mosaic is demosaiced bilinearly, white
   balance gains are applied with an estimation error (WB_ERROR), the
   exposure is brought up by a gain that does not know the exact cut
   (so the output stays dark, as a phone shot at night would), and a
   filmic tone curve (shoulder and toe, then 1/2.2) renders it.
6. 8 bits, and JPEG at a quality in JPEG_Q with probability P_JPEG.

Arrays are float32 H x W x 3 in [0, 1]; all randomness comes from the numpy
Generator passed in.
"""
import io

import numpy as np
from PIL import Image

EXPOSURE = (1 / 150, 1 / 6)       # scene light reaching the sensor, log-uniform
ELECTRONS = (300.0, 20000.0)      # electrons at full scale, log-uniform (high ISO .. base ISO)
READ_E = (1.0, 6.0)               # read noise, electrons (std), uniform
ROW_E = (0.0, 1.5)                # per-row offset, electrons (std), uniform
BLACK = 256 / 4095                # black level of the 12-bit ADC
WB_RED = (1.6, 2.6)               # camera white-balance gains (linear), uniform
WB_BLUE = (1.3, 2.1)
WB_ERROR = 0.12                   # auto white balance off by up to +-12% per channel
BRIGHTEN = (1.0, 3.0)             # the camera's own gain-up, log-uniform (the output stays dark)
P_JPEG = 0.5
JPEG_Q = (55, 92)


def _inverse_gamma(x):
    return np.power(np.clip(x, 0.0, 1.0), 2.2)


def filmic(x):
    """Scene linear -> display value in [0, 1]: a toe-and-shoulder curve
    (Hable-like rational, normalised so 1 -> 1), then gamma 1/2.2."""
    x = np.maximum(x, 0.0)

    def f(v):
        return (v * (0.22 * v + 0.03) + 0.002) / (v * (0.22 * v + 0.3) + 0.06) - 0.002 / 0.06

    return np.power(np.clip(f(x) / f(1.0), 0.0, 1.0), 1 / 2.2)


def bayer_masks(h, w):
    """Boolean masks (R, G, B) of an RGGB mosaic."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = (yy % 2 == 0) & (xx % 2 == 0)
    b = (yy % 2 == 1) & (xx % 2 == 1)
    return r, ~(r | b), b


def _conv3(x, k):
    p = np.pad(x, 1, mode="reflect")
    h, w = x.shape
    out = np.zeros_like(x)
    for dy in range(3):
        for dx in range(3):
            if k[dy][dx]:
                out += k[dy][dx] * p[dy:dy + h, dx:dx + w]
    return out


def demosaic(raw):
    """Bilinear demosaic of an RGGB mosaic (H x W) -> H x W x 3."""
    h, w = raw.shape
    r, g, b = bayer_masks(h, w)
    k_rb = [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    k_g = [[0, 0.25, 0], [0.25, 1.0, 0.25], [0, 0.25, 0]]
    return np.stack([_conv3(raw * r, k_rb), _conv3(raw * g, k_g), _conv3(raw * b, k_rb)], -1)


def sample(rng):
    p = {
        "exposure": float(np.exp(rng.uniform(*np.log(EXPOSURE)))),
        "electrons": float(np.exp(rng.uniform(*np.log(ELECTRONS)))),
        "read_e": float(rng.uniform(*READ_E)),
        "row_e": float(rng.uniform(*ROW_E)),
        "wb_red": float(rng.uniform(*WB_RED)),
        "wb_blue": float(rng.uniform(*WB_BLUE)),
        "wb_err": [float(v) for v in rng.uniform(1 - WB_ERROR, 1 + WB_ERROR, 3)],
        "brighten": float(np.exp(rng.uniform(*np.log(BRIGHTEN)))),
    }
    p["jpeg"] = int(rng.integers(JPEG_Q[0], JPEG_Q[1] + 1)) if rng.random() < P_JPEG else 0
    return p


def capture(img, p, rng):
    """img (sRGB-ish display values in [0, 1]) -> the dark camera output."""
    h, w = img.shape[:2]
    h2, w2 = h - h % 2, w - w % 2
    lin = _inverse_gamma(img[:h2, :w2].astype(np.float64))
    wb = np.array([p["wb_red"], 1.0, p["wb_blue"]])
    scene = lin / wb * p["exposure"]                     # what each colour filter collects, in full-scale units
    r, g, b = bayer_masks(h2, w2)
    mosaic = scene[..., 0] * r + scene[..., 1] * g + scene[..., 2] * b
    e = p["electrons"]
    electrons = rng.poisson(np.maximum(mosaic, 0) * e).astype(np.float64)
    electrons += rng.normal(0, p["read_e"], mosaic.shape)
    electrons += rng.normal(0, p["row_e"], (h2, 1))
    adc = np.clip(np.round((electrons / e * (1 - BLACK) + BLACK) * 4095), 0, 4095) / 4095
    raw = (adc - BLACK) / (1 - BLACK)
    rgb = demosaic(raw) * wb * np.asarray(p["wb_err"])
    out = filmic(rgb * p["brighten"])
    out = np.round(out * 255).astype(np.uint8)
    if p["jpeg"]:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=p["jpeg"])
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return (out / 255.0).astype(np.float32), img[:h2, :w2]


def degrade_heldout(img, rng):
    """(dark input, target, params): the target is img cropped to even size."""
    p = sample(rng)
    dark, target = capture(img, p, rng)
    return dark, target, p
