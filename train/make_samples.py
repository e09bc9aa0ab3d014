"""Builds samples/: real photographs from Debian's lomiri-wallpapers-16.04,
resized to 640 px on the long side and darkened with degrade.darken (they are
synthetic low light, not night shots). Needs apt-get download (no install).

  /usr/bin/python3 train/make_samples.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from degrade import darken  # noqa: E402

PACKAGE = "lomiri-wallpapers-16.04"
# file, licence, author, exposure
PHOTOS = [
    ("seeding_by_Clements_Engelhardt.jpg", "CC0-1.0", "Clemens Engelhardt, 2018", 1 / 10),
    ("aitzgorri_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018", 1 / 14),
    ("picosdeeuropa_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018", 1 / 20),
    ("Picture_0B_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018', 1 / 8),
]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
        subprocess.run(["dpkg", "-x", deb, "root"], cwd=tmp, check=True)
        lines = []
        for i, (name, lic, author, exposure) in enumerate(PHOTOS):
            src = Image.open(os.path.join(tmp, "root/usr/share/backgrounds", name)).convert("RGB")
            src.thumbnail((640, 640), Image.LANCZOS)
            dark = darken(np.asarray(src, np.float32) / 255, exposure, rng=np.random.default_rng(i))
            stem = name.rsplit(".", 1)[0].split("_by_")[0].lower()
            dst = f"{stem}_dark.jpg"
            Image.fromarray((dark * 255).round().astype(np.uint8)).save(os.path.join(out, dst), quality=92)
            lines.append(f"- `{dst}`: from `{name}` by {author}, {lic}; resized to {src.size[0]}x{src.size[1]} "
                         f"and darkened (linear exposure x{exposure:.3f}, shot and read noise).")
    with open(os.path.join(out, "LICENSE.md"), "w") as f:
        f.write("# Sample photos: sources and licences\n\n"
                f"Real photographs from Debian's `{PACKAGE}` package (upstream: lomiri-wallpapers), made dark\n"
                "by `train/make_samples.py` with the synthetic low-light model in `train/degrade.py`. They\n"
                "are modified versions of the originals; the licences below apply to them.\n\n"
                + "\n".join(lines) + "\n\n"
                "CC-BY-4.0: https://creativecommons.org/licenses/by/4.0/ (attribution as above).\n"
                "CC0-1.0: https://creativecommons.org/publicdomain/zero/1.0/\n")


if __name__ == "__main__":
    main()
