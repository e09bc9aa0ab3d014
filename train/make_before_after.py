"""Builds docs/images/before_after.jpg, the README's picture: every photo in
samples/ (left) beside what the C program makes of it with the shipped model
(right), exactly as the README's quick-start command runs it.

  /usr/bin/python3 train/make_before_after.py [--bin build/app/sagalux] [--model assets/sagalux.sglx]
"""
import argparse
import os
import subprocess
import sys
import tempfile

from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "app", "sagalux"))
    ap.add_argument("--model", default=os.path.join(ROOT, "assets", "sagalux.sglx"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "images", "before_after.jpg"))
    ap.add_argument("--width", type=int, default=400, help="width of each half")
    args = ap.parse_args()
    samples = os.path.join(ROOT, "samples")
    names = sorted(f for f in os.listdir(samples) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if not names:
        sys.exit(f"make_before_after: no photos in {samples}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.bin, "-m", args.model, "--quiet", samples, "-o", tmp], check=True)
        rows = []
        for name in names:
            stem = name.rsplit(".", 1)[0]
            outs = [f for f in os.listdir(tmp) if f.rsplit(".", 1)[0] == stem]
            if len(outs) != 1:
                sys.exit(f"make_before_after: no single output for {name} in {tmp}: {outs}")
            pair = [Image.open(os.path.join(samples, name)).convert("RGB"),
                    Image.open(os.path.join(tmp, outs[0])).convert("RGB")]
            h = round(pair[0].height * args.width / pair[0].width)
            rows.append([p.resize((args.width, h), Image.LANCZOS) for p in pair])
    gap = 6
    sheet = Image.new("RGB", (2 * args.width + gap, sum(r[0].height for r in rows) + gap * (len(rows) - 1)), "white")
    y = 0
    for before, after in rows:
        sheet.paste(before, (0, y))
        sheet.paste(after, (args.width + gap, y))
        y += before.height + gap
    sheet.save(args.out, quality=88)
    print(f"{args.out}: {len(rows)} photos, {sheet.width}x{sheet.height}")


if __name__ == "__main__":
    main()
