"""Scores a model with the C program on the held-out validation photos.

  /usr/bin/python3 train/evaluate.py MODEL.sglx [--long-side 1024] [--sheet docs/images/x.jpg]
      [--bin build/app/sagalux] [--threads 2] [--twin 3]

1. Inputs: every validation photo (train/val_split.txt), resized to at most
   --long-side, darkened with degrade.py from a fixed seed per photo (dark
   inputs only), saved as lossless PNG; the originals are the references.
2. Runs `sagalux` (the C CPU path) on them, 8-bit PNG out (what users get).
3. Scores PSNR (RGB) and SSIM (Gaussian window, sigma 1.5, mean over RGB)
   against the originals, beside baselines that need no reference: the input
   itself, a global auto-gain (linear light, mean luminance to 0.18), an
   auto-gamma (mean to 0.5) and luminance histogram equalisation.
4. Runs `sagalux` on the well-lit originals and scores output vs input.
5. With --twin N, runs the PyTorch twin on N dark inputs and reports the
   largest |C - PyTorch| (target 1e-3).
Prints a Markdown table; --sheet writes a before/after contact sheet.

  /usr/bin/python3 train/evaluate.py --write-dark DIR [--long-side 1024]

writes only step 1's dark inputs to DIR (PNG, one per validation photo) and
stops: the files `sagalux-bench -d cuda --psnr DIR/*.png` compares the GPU
against the CPU on (carried to the GPU machine, which has no photo set).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import degrade  # noqa: E402


def val_ids():
    with open(os.path.join(HERE, "val_split.txt")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def load(path):
    """An 8-bit image as float64 in [0, 1] (Pillow is exact for 8-bit)."""
    return np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0


def load_png16(path):
    """A 16-bit RGB/RGBA non-interlaced PNG (what `sagalux -b 16` writes) as
    float64. Pillow would keep only the high byte of each sample."""
    import struct
    import zlib
    with open(path, "rb") as f:
        buf = f.read()
    pos, idat, w = 8, b"", 0
    while pos < len(buf):
        n, kind = struct.unpack(">I4s", buf[pos:pos + 8])
        body = buf[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 16 or ctype not in (2, 6) or interlace:
                raise ValueError(f"{path}: not a 16-bit non-interlaced RGB(A) PNG")
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8)
    bpp, stride = 2 * ch, w * 2 * ch
    out = np.zeros((h, stride), np.int64)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        f, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        elif f == 1:  # x[i] = f[i] + x[i - bpp]: a running sum per byte position
            cur = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) & 255
        else:
            cur = line.copy()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                if f == 3:
                    cur[i] = (cur[i] + ((a + b) >> 1)) & 255
                else:  # Paeth
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[i] = (cur[i] + pred) & 255
        out[y], prev = cur, cur
    samples = (out[:, 0::2] << 8 | out[:, 1::2]).reshape(h, w, ch)
    return samples[..., :3].astype(np.float64) / 65535.0


def save_png(a, path):
    Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)).save(path)


def psnr(a, b):
    return 10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12))


def _blur(x, sigma=1.5, radius=5):
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), 0, x)
    return np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), 1, x)


def ssim(a, b):
    c1, c2, vals = 0.01 ** 2, 0.03 ** 2, []
    for ch in range(3):
        x, y = a[..., ch], b[..., ch]
        mx, my = _blur(x), _blur(y)
        sxx, syy, sxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
        vals.append(np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))))
    return float(np.mean(vals))


def luminance(a):
    return a @ np.array([0.2126, 0.7152, 0.0722])


def auto_gain(a):
    lin = degrade.srgb_to_linear(a)
    return degrade.linear_to_srgb(lin * 0.18 / max(luminance(lin).mean(), 1e-6))


def auto_gamma(a):
    m = min(max(a.mean(), 1e-4), 0.9999)
    return np.clip(a, 0, 1) ** (np.log(0.5) / np.log(m))


def hist_eq(a):
    y = luminance(a)
    q = np.clip(np.round(y * 255), 0, 255).astype(int)
    cdf = np.cumsum(np.bincount(q.ravel(), minlength=256)).astype(np.float64)
    cdf = (cdf - cdf.min()) / max(cdf.max() - cdf.min(), 1)
    return np.clip(a * (cdf[q] / np.maximum(y, 1e-4))[..., None], 0, 1)


BASELINES = [("input (no change)", lambda a: a), ("global auto-gain", auto_gain), ("auto-gamma", auto_gamma),
             ("histogram equalisation", hist_eq)]


def run_c(binary, model, src, dst, threads, bits=8):
    subprocess.run([binary, "-m", model, "-t", str(threads), "-f", "png", "-b", str(bits), "--quiet", "--overwrite",
                    src, "-o", dst], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?")
    ap.add_argument("--write-dark", metavar="DIR")
    ap.add_argument("--data", default=os.path.join(HERE, "data", "photos"))
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "app", "sagalux"))
    ap.add_argument("--long-side", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--twin", type=int, default=0)
    ap.add_argument("--sheet")
    ap.add_argument("--skip-bright", action="store_true")
    args = ap.parse_args()
    if not args.model and not args.write_dark:
        ap.error("need MODEL (or --write-dark DIR)")

    ids = val_ids()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {k: os.path.join(tmp, k) for k in ("dark", "clean", "out_dark", "out_clean")}
        if args.write_dark:
            dirs["dark"] = args.write_dark
        for d in dirs.values():
            os.makedirs(d, exist_ok=True)
        for i, pid in enumerate(ids):
            im = Image.open(os.path.join(args.data, pid + ".jpg")).convert("RGB")
            if max(im.size) > args.long_side:
                s = args.long_side / max(im.size)
                im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS)
            clean = np.asarray(im, np.float32) / 255
            rng = np.random.default_rng(5000 + i)
            p = degrade.sample_dark_params(rng)
            dark = degrade.darken(clean, p.exposure, p.shot, p.read, p.cast, rng, p.jpeg_quality)
            save_png(clean, os.path.join(dirs["clean"], pid + ".png"))
            save_png(dark, os.path.join(dirs["dark"], pid + ".png"))
        if args.write_dark:
            print(f"wrote {len(ids)} dark validation inputs to {args.write_dark}")
            return
        run_c(args.bin, args.model, dirs["dark"], dirs["out_dark"], args.threads)
        if not args.skip_bright:
            run_c(args.bin, args.model, dirs["clean"], dirs["out_clean"], args.threads)

        scores = {name: [] for name, _ in BASELINES}
        scores["sagalux (C CPU)"] = []
        bright = []
        for pid in ids:
            clean = load(os.path.join(dirs["clean"], pid + ".png"))
            dark = load(os.path.join(dirs["dark"], pid + ".png"))
            for name, fn in BASELINES:
                out = fn(dark)
                scores[name].append((psnr(out, clean), ssim(out, clean)))
            out = load(os.path.join(dirs["out_dark"], pid + ".png"))
            scores["sagalux (C CPU)"].append((psnr(out, clean), ssim(out, clean)))
            if not args.skip_bright:
                passed = load(os.path.join(dirs["out_clean"], pid + ".png"))
                bright.append((psnr(passed, clean), ssim(passed, clean)))

        print(f"model {os.path.basename(args.model)}; {len(ids)} validation photos, long side <= {args.long_side}\n")
        print("| method (dark inputs vs originals) | PSNR dB | SSIM |")
        print("| --- | ---: | ---: |")
        for name, v in scores.items():
            v = np.array(v)
            print(f"| {name} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.3f} |")
        if bright:
            b = np.array(bright)
            print(f"| well-lit photos through sagalux (output vs input) | {b[:, 0].mean():.2f} | {b[:, 1].mean():.3f} |")
            print(f"\nwell-lit: worst photo {b[:, 0].min():.2f} dB")

        if args.twin:
            import torch
            from export import load_sglx
            net = load_sglx(args.model)
            worst = 0.0
            twin_dir = os.path.join(tmp, "out_twin")
            os.makedirs(twin_dir)
            for pid in ids[:args.twin]:
                run_c(args.bin, args.model, os.path.join(dirs["dark"], pid + ".png"), twin_dir, args.threads, bits=16)
                dark = load(os.path.join(dirs["dark"], pid + ".png"))
                with torch.no_grad():
                    ref = net(torch.from_numpy(dark.astype(np.float32)).permute(2, 0, 1)[None])[0]
                ref = ref.clamp(0, 1).permute(1, 2, 0).numpy()
                c_out = load_png16(os.path.join(twin_dir, pid + ".png"))
                # the C output is a 16-bit PNG: quantisation adds up to 0.5/65535
                worst = max(worst, float(np.abs(c_out - ref).max()))
            print(f"\nC vs PyTorch twin on {args.twin} dark inputs: max |diff| = {worst:.2e} (16-bit PNG quantisation 7.6e-06)")

        if args.sheet:
            rows = []
            for pid in ids[::max(1, len(ids) // 6)][:6]:
                ims = [Image.open(os.path.join(dirs[k], pid + ".png")).convert("RGB") for k in ("dark", "out_dark", "clean")]
                w = 300
                rows.append([im.resize((w, round(w * im.size[1] / im.size[0]))) for im in ims])
            sheet = Image.new("RGB", (900, sum(r[0].size[1] for r in rows)), "white")
            y = 0
            for r in rows:
                for j, im in enumerate(r):
                    sheet.paste(im, (300 * j, y))
                y += r[0].size[1]
            sheet.save(args.sheet, quality=88)
            print(f"\ncontact sheet (input | sagalux | original): {args.sheet}")


if __name__ == "__main__":
    main()
