"""Builds the second held-out set: (dark, target) pairs from photos that are
neither training nor validation, darkened by degrade_heldout.py (a raw-capture
model written independently of degrade.py), with a fixed seed.

  /usr/bin/python3 train/prepare_heldout2.py [--out train/data/heldout2] [--debs train/data/debs]

Never use it for a training decision (choosing a run, a step, a setting or a
threshold): it only reports, once a model is chosen, how well it does on
photos and darkening it has never been tuned on.

Its photos come from packages (or, for GCompris, bundles) set aside for it
and never read by prepare_data.py; a photo that is a near-duplicate of a
training or validation photo (when train/data/photos exists) is refused.
The photo list is train/heldout2_split.txt (committed): made once, then
checked on every run. Each photo is first resized to at most 512 px on the
long side, then darkened at that size, so the noise stays at pixel scale.
Size, measured on these 48 pairs (2026-12-08): lossless darks are noise and
barely compress: 23.6 MiB at 768 px, 11.8 MiB at 512; re-encoding them as
JPEG q95 would fit 768 px in ~10 MiB but changes each pixel by 1.7 levels on
average, as much as the noise being measured, so they stay PNG and the size
is 512 px, to travel with the training photos (64 MiB in all). Writes
NNN-ID_dark.png (lossless: the darkening's own noise and JPEG artefacts are
what is measured) and NNN-ID_target.jpg (JPEG q95, 4:4:4: far below the
errors a model makes, see train/README.md), params.tsv, manifest.tsv and
ATTRIBUTION.md; a failed run leaves no folder.
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import prepare_data as P  # noqa: E402
from containers import ContainerError, read_rcc  # noqa: E402
from degrade_heldout import degrade_heldout  # noqa: E402

SPLIT = os.path.join(HERE, "heldout2_split.txt")
SEED = 20261207
LONG_SIDE = 512           # pairs at most this long (the photos are read at 1024 px); see the docstring
TARGET_QUALITY = 95       # targets as JPEG, 4:4:4 chroma
# Looked at on contact sheets (2026-12-07): these are photographs.
PSYCHTOOLBOX = ["PsychDemos/konijntjes1024x768.jpg", "PsychDemos/OpenGL4MatlabDemos/MorphDemo/TeapotTexture.jpg"] + [
    f"PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim{i}.jpg" for i in (2, 3, 4, 5, 6)]
BRAILLE = ["braille_ball", "fireplace", "teach", "workshop", "statue", "rnib", "braille"]


def psychtoolbox(root):
    yield from P.listed(root, "usr/share/psychtoolbox-3", PSYCHTOOLBOX)


def gcompris_heldout(root):
    """Two GCompris bundles that prepare_data.py never reads."""
    for bundle, keep in (("louis-braille", BRAILLE), ("explore_world_music", None)):
        path = os.path.join(root, "usr/share/gcompris-qt/rcc", f"{bundle}.rcc")
        if not os.path.exists(path):
            raise P.DataError(f"gcompris-qt-data: {path} is missing")
        for name, blob in sorted(read_rcc(path).items()):
            stem, ext = os.path.splitext(os.path.basename(name))
            if ext.lower() in P.IMAGE_EXT and (keep is None or stem in keep):
                yield f"{bundle}/{os.path.basename(name)}", blob, f"{os.path.relpath(path, root)}:{name}"


SOURCES = [
    ("kphotoalbum", "GPL-2+ (KPhotoAlbum's demo album)", lambda r: P.files(r, "usr/share/kphotoalbum/demo/*.jpg")),
    ("psychtoolbox-3-common", "Expat", psychtoolbox),
    ("digikam-data", "GPL-2+", lambda r: P.listed(r, "usr/share/digikam/about/images", ["body-background.jpg"])),
    ("gcompris-qt-data", "GPL-3+; photos from Wikimedia Commons (CC-BY-SA-4.0, CC0, PD), see the bundle readme",
     gcompris_heldout),
]


def training_fingerprints(folder):
    if not os.path.isdir(folder):
        print(f"note: {folder} is missing; the near-duplicate check against training is skipped")
        return {}
    return {f[:-4]: P.fingerprint(Image.open(os.path.join(folder, f)).convert("RGB"))
            for f in sorted(os.listdir(folder)) if f.endswith(".jpg")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data", "heldout2"))
    ap.add_argument("--debs", default=os.path.join(HERE, "data", "debs"))
    ap.add_argument("--photos", default=os.path.join(HERE, "data", "photos"), help="the training set, for the check")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    scratch = out + ".partial"
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(os.path.join(scratch, "photos"))
    try:
        val_ids = set(P.read_ids(P.VAL_SPLIT))
        seen = training_fingerprints(args.photos)
        rows, dropped, _ = P.collect(SOURCES, args.debs, os.path.join(scratch, "photos"), seen)
        ids = [r[0] for r in rows]
        if val_ids & set(ids):
            raise P.DataError(f"photos in both validation and heldout2: {sorted(val_ids & set(ids))[:5]}")
        if os.path.exists(SPLIT):
            listed = P.read_ids(SPLIT)
            if listed != ids:
                raise P.DataError(f"{SPLIT} does not match the photos found: missing "
                                  f"{sorted(set(listed) - set(ids))[:5]}, new {sorted(set(ids) - set(listed))[:5]}")
        else:
            with open(SPLIT, "w") as f:
                f.write("# Second held-out set (by id): never trained on, never used for a training decision.\n"
                        "# Made once by train/prepare_heldout2.py.\n" + "\n".join(ids) + "\n")
        P.write_manifest(scratch, rows, lambda pid: "heldout2", SOURCES, dropped, "Held-out set 2 photos")
        with open(os.path.join(scratch, "params.tsv"), "w") as f:
            f.write("n\tid\tseed\tparams\n")
            for n, pid in enumerate(ids):
                photo = Image.open(os.path.join(scratch, "photos", pid + ".jpg")).convert("RGB")
                scale = LONG_SIDE / max(photo.size)
                if scale < 1:
                    photo = photo.resize((round(photo.size[0] * scale), round(photo.size[1] * scale)),
                                         Image.LANCZOS)
                img = np.asarray(photo, np.float32) / 255
                rng = np.random.default_rng([SEED, n])
                dark, target, p = degrade_heldout(img, rng)
                stem = os.path.join(scratch, f"{n:03d}-{pid}")
                Image.fromarray(np.round(dark * 255).astype(np.uint8)).save(stem + "_dark.png")
                Image.fromarray(np.round(target * 255).astype(np.uint8)).save(
                    stem + "_target.jpg", quality=TARGET_QUALITY, subsampling=0)
                f.write(f"{n}\t{pid}\t[{SEED}, {n}]\t{p}\n")
        shutil.rmtree(os.path.join(scratch, "photos"))
    except (ContainerError, P.DataError, subprocess.CalledProcessError, OSError) as e:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.exit(f"prepare_heldout2: {e}")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.rename(scratch, out)
    size = sum(os.path.getsize(os.path.join(out, p)) for p in os.listdir(out))
    print(f"{out}: {len(ids)} pairs, {size / 2**20:.1f} MiB; {len(dropped)} dropped")


if __name__ == "__main__":
    main()
