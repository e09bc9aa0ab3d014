"""train.py refuses what it must not train on: a data folder without images,
a checkpoint of another configuration (via --resume and via --init), and
--resume together with --init. Each refusal is a non-zero exit with a message
that says why, before any training."""
import os
import subprocess
import sys
import tempfile

import pyrequire  # noqa: E402  (beside this file)

pyrequire.require("numpy", "torch", "PIL")

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "train", "train.py")
sys.path.insert(0, os.path.join(HERE, "..", "train"))
from model import SAGANet  # noqa: E402
from train import PRESETS, save_parts  # noqa: E402


def run(*args):
    p = subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, (p.stdout + p.stderr).strip().splitlines()[-1:] or [""]


def expect_refusal(what, args, needle):
    rc, last = run(*args)
    ok = rc != 0 and needle in last[0]
    print(f"{what}: exit {rc}, '{last[0]}' {'ok' if ok else 'WRONG'}")
    return ok


def manifest_only(tmp, name, split):
    """A data folder whose manifest lists one photo, photo-1, in SPLIT, and no image files."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "manifest.tsv"), "w") as f:
        f.write(f"id\tsplit\tpackage\tlicence\twidth\theight\nphoto-1\t{split}\tp\tl\t640\t480\n")
    return folder


def main():
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        ok &= expect_refusal("empty data folder", ["--data", empty, "--out", os.path.join(tmp, "o1")],
                             "no manifest.tsv")
        # A manifest that lists only validation photos: nothing to train on.
        val_only = manifest_only(tmp, "val_only", "val")
        ok &= expect_refusal("no training photos", ["--data", val_only, "--out", os.path.join(tmp, "o2")],
                             "no 'train' photos")
        # A manifest naming a photo that is not there.
        missing = manifest_only(tmp, "missing", "train")
        ok &= expect_refusal("listed photo missing", ["--data", missing, "--out", os.path.join(tmp, "o3")],
                             "photo-1.jpg")
        # A checkpoint of preset M offered to preset S, by --resume and by --init.
        other = os.path.join(tmp, "runM")
        os.makedirs(other)
        save_parts({"config": PRESETS["M"].as_dict(), "model": SAGANet(PRESETS["M"]).state_dict(), "step": 5,
                    "history": []}, os.path.join(other, "last.pt"))
        ok &= expect_refusal("--resume, other configuration",
                             ["--data", missing, "--preset", "S", "--out", other, "--resume"], "not preset S")
        ok &= expect_refusal("--init, other configuration",
                             ["--data", missing, "--preset", "S", "--out", os.path.join(tmp, "o4"), "--init", other],
                             f"{other}/last.pt is for")
        ok &= expect_refusal("--resume without a checkpoint",
                             ["--data", missing, "--out", os.path.join(tmp, "o5"), "--resume"], "no checkpoint parts")
        ok &= expect_refusal("--resume with --init",
                             ["--data", missing, "--out", other, "--resume", "--init", other], "exclude each other")
    print("all ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
