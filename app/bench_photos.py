#!/usr/bin/env python3
"""Makes a folder of N photos of one size (default 1280x1280 JPEGs at
quality 92) from the samples, for timing the batch tool: each is a
different crop of a sample, scaled, so no two files are alike.

Usage: bench_photos.py OUT_DIR [--count N] [--size WxH] [--format jpg|png]
"""
import argparse
import pathlib

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--size", default="1280x1280")
    ap.add_argument("--format", choices=["jpg", "png"], default="jpg")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    samples = sorted((ROOT / "samples").glob("*.jpg"))
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(a.count):
        src = Image.open(samples[i % len(samples)]).convert("RGB")
        # A crop of 70-100% of the sample's shorter side, placed by i.
        side = min(src.size) * (70 + (i * 7) % 31) // 100
        x = (src.width - side) * ((i * 37) % 100) // 99
        y = (src.height - side) * ((i * 53) % 100) // 99
        img = src.crop((x, y, x + side, y + side)).resize((w, h), Image.BICUBIC)
        name = out / f"photo_{i:03d}.{a.format}"
        if a.format == "jpg":
            img.save(name, quality=92)
        else:
            img.save(name)
    print(f"{a.count} photos of {w}x{h} in {out}")


if __name__ == "__main__":
    main()
