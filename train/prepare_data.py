"""Builds the training set from real photographs in Debian packages.

  /usr/bin/python3 train/prepare_data.py [--out train/data/photos] [--debs train/data/debs]

For each package in SOURCES: `apt-get download` (skipped when the .deb is
already in --debs), `dpkg -x` into a scratch folder (nothing is installed),
pick the photographs (Qt .rcc bundles and EET files read by containers.py),
drop drawings and tiny images, resize to at most 1024 px on the long side and
write JPEG quality 92. Writes manifest.tsv (id, source, licence, size) and
ATTRIBUTION.md beside the photos. The validation split is train/val_split.txt
(kept in the repo); it is created once, by photo, and reused after.

The set is built in a scratch folder and renamed into place only when
complete, so a failure never leaves a half-written set that looks finished.
Re-running gives the same files (same packages, deterministic resizing).
"""
import argparse
import glob
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers import ContainerError, read_eet, read_rcc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LONG_SIDE = 1024
MIN_SHORT_SIDE = 192      # training crops are 192 px or less
QUALITY = 92
VAL_SPLIT = os.path.join(HERE, "val_split.txt")
VAL_FRACTION = 0.12       # of photos; at least 30

GCOMPRIS_BUNDLES = ["explore_monuments", "explore_world_animals", "explore_farm_animals", "erase",
                    "clickgame", "categorization"]
LOMIRI_ABSTRACT = ("analogpattern", "umang", "Fossa", "Infinite-Sea", "Painting-Colors")
PLASMA_PHOTOS = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                 "Grey", "Kite", "OneStandsOut", "Path", "summer_1am"]
LXQT_PHOTOS = ["flowers.png", "fog.jpg", "after-the-rain.jpg", "Butterfly-Kenneth-Wimer.jpg", "beam.png",
               "Valendas.png", "appleflower.png", "cloud.png", "drop.png", "this-is-not-windows.jpg",
               "butterfly.png"]
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp")


class DataError(RuntimeError):
    pass


def gcompris(root):
    for bundle in GCOMPRIS_BUNDLES:
        path = os.path.join(root, "usr/share/gcompris-qt/rcc", f"{bundle}.rcc")
        if not os.path.exists(path):
            raise DataError(f"gcompris-qt-data: {path} is missing")
        for name, blob in sorted(read_rcc(path).items()):
            if name.lower().endswith(IMAGE_EXT):
                yield f"{bundle}/{os.path.basename(name)}", blob


def files(root, pattern, exclude=()):
    for path in sorted(glob.glob(os.path.join(root, pattern))):
        if not any(x in path for x in exclude):
            with open(path, "rb") as f:
                yield os.path.basename(path), f.read()


def listed(root, folder, names):
    for name in names:
        path = os.path.join(root, folder, name)
        if not os.path.exists(path):
            raise DataError(f"{path} is missing from its package")
        with open(path, "rb") as f:
            yield name, f.read()


def enlightenment(root):
    for path in sorted(glob.glob(os.path.join(root, "usr/share/enlightenment/data/backgrounds/*.edj"))):
        entries = read_eet(path)
        jpegs = {k: v for k, v in entries.items() if k.startswith("edje/images/") and v[:2] == b"\xff\xd8"}
        if jpegs:
            yield os.path.basename(path), max(jpegs.values(), key=len)


def plasma(root):
    for name in PLASMA_PHOTOS:
        path = os.path.join(root, "usr/share/wallpapers", name, "contents/images/2560x1600.jpg")
        if not os.path.exists(path):
            raise DataError(f"plasma-workspace-wallpapers: {path} is missing")
        with open(path, "rb") as f:
            yield name, f.read()


def backstretch(root):
    # sample1_* and sample2_* are one photo each at several sizes: keep the largest.
    folder = os.path.join(root, "usr/share/doc/libjs-jquery-backstretch/examples")
    for name in ["dome.jpg", "pot-holder.jpg", "coffee.jpg", "sample1_1920.jpg", "sample2_1920.jpg"]:
        yield from listed(folder, "", [name])


# package, licence summary (from its copyright file), picker
SOURCES = [
    ("gcompris-qt-data", "GPL-3+; photos from Wikimedia Commons (CC-BY-SA-4.0, CC0, PD), see the bundle readme",
     gcompris),
    ("lomiri-wallpapers-16.04", "per file: CC-BY-4.0, CC-BY-SA-4.0 or CC0-1.0",
     lambda r: files(r, "usr/share/backgrounds/*_by_*.jpg", LOMIRI_ABSTRACT)),
    ("lomiri-wallpapers-20.04", "per file: CC-BY-4.0, CC-BY-SA-4.0 or CC0-1.0",
     lambda r: files(r, "usr/share/backgrounds/*_by_*.jpg", LOMIRI_ABSTRACT)),
    ("enlightenment-data", "BSD-2-clause", enlightenment),
    ("plasma-workspace-wallpapers", "GPL-2+", plasma),
    ("mate-backgrounds", "GPL-2+", lambda r: files(r, "usr/share/backgrounds/mate/nature/*.jpg")),
    ("lxqt-themes", "LGPL-2.1+", lambda r: listed(r, "usr/share/lxqt/wallpapers", LXQT_PHOTOS)),
    ("tuxpaint-data", "GPL-2+", lambda r: files(r, "usr/share/tuxpaint/templates/*.jpg")),
    ("palapeli-data", "GPL-2+ / public domain / GFDL", lambda r: files(r, "usr/share/palapeli/collection/*.jpg")),
    ("libjs-jquery-backstretch", "Expat", backstretch),
]


def is_drawing(img: Image.Image) -> bool:
    """Flat illustrations have large perfectly flat areas *and* few colours;
    photographs have sensor noise and texture. Measured on a 256-px
    thumbnail: the share of pixels equal to their right and lower neighbours,
    and the number of distinct 5-bit colours. Calibrated by looking at every
    candidate (2026-11-22): flatness alone also flags photos of tools on white
    (up to 0.85) and fog or night skies; few colours alone flags dark skies
    (22..125). Only Flat-Fan (0.83, 32), Dunes (0.94, 108) and
    Flat-Stone-Pattern (6 colours) are not photographs."""
    t = np.asarray(img.resize((256, 256), Image.BILINEAR), np.int16)
    flat = ((np.abs(np.diff(t, axis=1))[:-1].max(-1) == 0) & (np.abs(np.diff(t, axis=0))[:, :-1].max(-1) == 0)).mean()
    colours = len(np.unique((t >> 3).reshape(-1, 3), axis=0))
    return colours < 16 or (flat > 0.6 and colours < 200)


def fetch(package, debs):
    found = glob.glob(os.path.join(debs, f"{package}_*.deb"))
    if found:
        return found[0]
    os.makedirs(debs, exist_ok=True)
    r = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
    found = glob.glob(os.path.join(debs, f"{package}_*.deb"))
    if r.returncode != 0 or not found:
        raise DataError(f"cannot fetch package {package}: {r.stderr.strip() or 'apt-get download failed'}"
                        " (run 'apt-get update' first?)")
    return found[0]


def photo_id(package, name):
    stem = os.path.splitext(name)[0].replace("/", "__").replace(" ", "_")
    return f"{package}__{stem}"


def load_or_make_split(ids):
    if os.path.exists(VAL_SPLIT):
        with open(VAL_SPLIT) as f:
            val = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        missing = sorted(set(val) - set(ids))
        if missing:
            raise DataError(f"{VAL_SPLIT} names photos the set no longer has: {missing[:5]}")
        return set(val)
    # By photo, spread over sources: the photos whose id hashes lowest.
    ranked = sorted(ids, key=lambda i: hashlib.sha1(i.encode()).hexdigest())
    val = sorted(ranked[:max(30, round(VAL_FRACTION * len(ids)))])
    with open(VAL_SPLIT, "w") as f:
        f.write("# Validation photos (by id), held out of training. Made once by train/prepare_data.py.\n")
        f.write("\n".join(val) + "\n")
    return set(val)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data", "photos"))
    ap.add_argument("--debs", default=os.path.join(HERE, "data", "debs"))
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    scratch = out + ".partial"
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    rows, dropped = [], []
    try:
        for package, licence, pick in SOURCES:
            deb = fetch(package, args.debs)
            with tempfile.TemporaryDirectory() as root:
                subprocess.run(["dpkg", "-x", deb, root], check=True)
                kept = 0
                for name, blob in pick(root):
                    pid = photo_id(package, name)
                    try:
                        img = Image.open(io.BytesIO(blob))
                        img.load()
                    except Exception as e:  # a broken entry: say which, skip it
                        dropped.append((pid, f"undecodable: {e}"))
                        continue
                    img = img.convert("RGB")
                    if min(img.size) < MIN_SHORT_SIDE:
                        dropped.append((pid, f"small {img.size[0]}x{img.size[1]}"))
                        continue
                    if is_drawing(img):
                        dropped.append((pid, "drawing"))
                        continue
                    scale = LONG_SIDE / max(img.size)
                    if scale < 1:
                        img = img.resize((round(img.size[0] * scale), round(img.size[1] * scale)), Image.LANCZOS)
                    img.save(os.path.join(scratch, pid + ".jpg"), quality=QUALITY)
                    rows.append((pid, package, licence, img.size[0], img.size[1]))
                    kept += 1
                print(f"{package}: {kept} photos", flush=True)
    except (ContainerError, DataError, subprocess.CalledProcessError, OSError) as e:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.exit(f"prepare_data: {e}")
    if not rows:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.exit("prepare_data: no photos found")

    val = load_or_make_split([r[0] for r in rows])
    with open(os.path.join(scratch, "manifest.tsv"), "w") as f:
        f.write("id\tsplit\tpackage\tlicence\twidth\theight\n")
        for pid, package, licence, w, h in rows:
            f.write(f"{pid}\t{'val' if pid in val else 'train'}\t{package}\t{licence}\t{w}\t{h}\n")
    with open(os.path.join(scratch, "ATTRIBUTION.md"), "w") as f:
        f.write("# Training photos: sources and licences\n\nFrom Debian 12 packages; each package's "
                "/usr/share/doc/<package>/copyright has the full notices.\n\n")
        for package, licence, _ in SOURCES:
            n = sum(1 for r in rows if r[1] == package)
            f.write(f"- {package}: {n} photos; {licence}\n")
        f.write("\nDropped (not photographs, or too small):\n\n")
        f.write("".join(f"- {pid}: {why}\n" for pid, why in dropped))
    shutil.rmtree(out, ignore_errors=True)
    os.rename(scratch, out)
    size = sum(os.path.getsize(os.path.join(out, p)) for p in os.listdir(out))
    print(f"{out}: {len(rows)} photos ({len(rows) - len(val)} train, {len(val)} val), {size / 2**20:.1f} MiB; "
          f"{len(dropped)} dropped")


if __name__ == "__main__":
    main()
