"""Trains the SAGA U-Net on synthetic low light, in resumable time-boxed chunks.

  python3 train/train.py --data train/data/photos --preset S --out train/runs/S \
      --minutes 9 --total-steps 12000 [--resume]

Each call trains until --minutes have passed (or --total-steps is reached),
then writes a checkpoint (model, AdamW state, step, configuration) and the
model as .sglx. Checkpoints are split into parts of at most 15 MiB
(last.pt.part0, ...) so they fit the GPU machine's 16 MiB file limit; --resume
joins them. A resume without the optimizer state (a compact checkpoint,
--compact) restarts AdamW's moments with a short warm-up.

Data: the training photos (manifest.tsv, split "train") are decoded once into
memory; workers cut random crops, flip and turn them, and darken each with
degrade.degrade (a fresh random exposure, noise, cast, JPEG). Loss:
Charbonnier, plus --ssim-weight x (1 - SSIM) when that weight is set (SSIM as
train/evaluate.py scores it: 11-tap Gaussian window, sigma 1.5, per channel).
Validation reports PSNR and SSIM on fixed 256-px crops. AdamW with linear
warm-up and cosine decay over --total-steps. bf16 autocast on CUDA; the long
sums stay fp32 inside the model.
"""
import argparse
import glob
import io
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import degrade  # noqa: E402
from export import export  # noqa: E402
from model import Config, SAGANet, parameter_count  # noqa: E402

PRESETS = {
    "S": Config(16, (1, 1, 1, 1), 1, (1, 2, 4, 8)),
    "M": Config(16, (1, 2, 2, 4), 1, (1, 2, 4, 8)),
    "LLFormer": Config(16, (2, 4, 8, 16), 2, (1, 2, 4, 8)),
}
PART_BYTES = 15 << 20


def read_manifest(data, split):
    path = os.path.join(data, "manifest.tsv")
    if not os.path.exists(path):
        sys.exit(f"train: {data} has no manifest.tsv (run train/prepare_data.py)")
    with open(path) as f:
        rows = [l.rstrip("\n").split("\t") for l in f][1:]
    ids = [r[0] for r in rows if r[1] == split]
    if not ids:
        sys.exit(f"train: {data} has no '{split}' photos")
    return ids


def load_photos(data, ids):
    photos = []
    for pid in ids:
        path = os.path.join(data, pid + ".jpg")
        try:
            photos.append(np.asarray(Image.open(path).convert("RGB")))
        except OSError as e:
            sys.exit(f"train: {path}: {e}")
    return photos


class Crops(torch.utils.data.IterableDataset):
    """Endless (dark, clean) crop pairs, CHW float32 in [0, 1]."""

    def __init__(self, photos, crop, seed):
        self.photos, self.crop, self.seed = photos, crop, seed
        area = np.array([p.shape[0] * p.shape[1] for p in photos], np.float64)
        self.weights = np.sqrt(area) / np.sqrt(area).sum()  # bigger photos a little more often

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0, int(time.time())])
        while True:
            p = self.photos[rng.choice(len(self.photos), p=self.weights)]
            h, w = p.shape[:2]
            y, x = rng.integers(0, h - self.crop + 1), rng.integers(0, w - self.crop + 1)
            c = p[y:y + self.crop, x:x + self.crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            c = np.rot90(c, int(rng.integers(0, 4)))
            clean = np.ascontiguousarray(c, dtype=np.float32) / 255.0
            dark, _ = degrade.degrade(clean, rng)
            yield torch.from_numpy(dark).permute(2, 0, 1), torch.from_numpy(clean).permute(2, 0, 1)


def validation_pairs(data, size=256):
    """Fixed pairs: the centre crop of each validation photo, darkened with a
    seed from its id. The same every run, so scores are comparable."""
    pairs = []
    for i, pid in enumerate(read_manifest(data, "val")):
        p = np.asarray(Image.open(os.path.join(data, pid + ".jpg")).convert("RGB"))
        h, w = p.shape[:2]
        s = min(size, h, w)
        clean = p[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s].astype(np.float32) / 255
        rng = np.random.default_rng(1000 + i)
        params = degrade.sample_dark_params(rng)  # the low-light score: dark inputs only
        dark = degrade.darken(clean, params.exposure, params.shot, params.read, params.cast, rng, params.jpeg_quality)
        pairs.append((torch.from_numpy(dark).permute(2, 0, 1), torch.from_numpy(clean).permute(2, 0, 1)))
    return pairs


def _gaussian_blur(x, k):
    """Separable blur by the 1-D kernel k, 'valid' borders, per channel."""
    c = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def ssim(a, b, sigma=1.5, radius=5):
    """Mean SSIM of NCHW images in [0, 1] (fp32), averaged over channels. The
    window is evaluate.ssim's, so the loss term and the reported score are one
    measure."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=a.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    mx, my = _gaussian_blur(a, k), _gaussian_blur(b, k)
    sxx = _gaussian_blur(a * a, k) - mx * mx
    syy = _gaussian_blur(b * b, k) - my * my
    sxy = _gaussian_blur(a * b, k) - mx * my
    return (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))).mean()


@torch.no_grad()
def validate(net, pairs, device):
    """(PSNR dB, SSIM) means over the fixed validation crops."""
    net.eval()
    psnrs, ssims = [], []
    for dark, clean in pairs:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = net(dark[None].to(device)).float().clamp(0, 1)
        ref = clean[None].to(device)
        psnrs.append(10 * math.log10(1 / max(F.mse_loss(out, ref).item(), 1e-10)))
        ssims.append(ssim(out, ref).item())
    net.train()
    return float(np.mean(psnrs)), float(np.mean(ssims))


def charbonnier(a, b, eps=1e-3):
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


def lr_at(step, total, peak, warmup, restart_at=None):
    """Linear warm-up, then cosine to 2% of peak. After a compact resume,
    a second short warm-up starts at restart_at."""
    w = min(1.0, (step + 1) / warmup)
    if restart_at is not None:
        w = min(w, (step - restart_at + 1) / (warmup / 4))
    t = min(1.0, step / max(1, total))
    return peak * w * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def save_parts(obj, path):
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    for old in glob.glob(path + ".part*"):
        os.remove(old)
    for i in range(0, len(data), PART_BYTES):
        with open(f"{path}.part{i // PART_BYTES}", "wb") as f:
            f.write(data[i:i + PART_BYTES])


def load_parts(path):
    parts = sorted(glob.glob(path + ".part*"), key=lambda p: int(p.rsplit("part", 1)[1]))
    if not parts:
        return None
    return torch.load(io.BytesIO(b"".join(open(p, "rb").read() for p in parts)), map_location="cpu")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(HERE, "data", "photos"))
    ap.add_argument("--preset", choices=sorted(PRESETS), default="S")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=9.0)
    ap.add_argument("--total-steps", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--compact", action="store_true", help="checkpoint without optimizer state (smaller)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ssim-weight", type=float, default=0.0, help="loss = Charbonnier + W * (1 - SSIM)")
    ap.add_argument("--init", help="start from this run folder's checkpoint weights (fresh optimizer, its step)")
    args = ap.parse_args()

    t_start = time.time()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(args.out, exist_ok=True)
    cfg = PRESETS[args.preset]
    ckpt_path = os.path.join(args.out, "last.pt")
    if args.resume and args.init:
        sys.exit("train: --resume and --init exclude each other")
    ck, ck_from = None, ckpt_path
    if args.resume:
        ck = load_parts(ckpt_path)
        if ck is None:
            sys.exit(f"train: --resume but no checkpoint parts at {ckpt_path}.part*")
    elif args.init:
        ck_from = os.path.join(args.init, "last.pt")
        ck = load_parts(ck_from)
        if ck is None:
            sys.exit(f"train: --init {args.init} has no checkpoint parts (last.pt.part*)")
        ck.pop("opt", None)  # a new run: fresh AdamW moments, short warm-up
    if ck is not None and Config(**ck["config"]) != cfg:
        sys.exit(f"train: checkpoint {ck_from} is for {ck['config']}, not preset {args.preset} ({cfg.as_dict()})")

    torch.manual_seed(args.seed)
    net = SAGANet(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=1e-4)
    step, restart_at, history = 0, None, []
    if ck is not None:
        net.load_state_dict(ck["model"])
        step, history = ck["step"], ck.get("history", [])
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:
            restart_at = step
        print(f"resumed at step {step} ({'full' if restart_at is None else 'compact: fresh AdamW moments'})")

    train_ids = read_manifest(args.data, "train")
    photos = load_photos(args.data, train_ids)
    loader = torch.utils.data.DataLoader(Crops(photos, args.crop, args.seed + step), batch_size=args.batch,
                                         num_workers=args.workers, pin_memory=device.type == "cuda",
                                         persistent_workers=args.workers > 0)
    val = validation_pairs(args.data)
    print(f"preset {args.preset} {cfg.as_dict()}: {parameter_count(net):,} parameters; "
          f"{len(photos)} train photos, {len(val)} val; device {device}", flush=True)
    if step == 0 or args.init:
        p0, s0 = validate(net, val, device)
        history.append({"step": step, "val_psnr": p0, "val_ssim": s0,
                        "minutes": history[-1]["minutes"] if history else 0.0, "start": True})
        print(f"start: step {step}, val PSNR {p0:.2f} dB, SSIM {s0:.4f}", flush=True)

    budget = args.minutes * 60 - (time.time() - t_start) - 20  # leave time to validate and save
    t0, seen, loss_avg = time.time(), 0, None
    net.train()
    for dark, clean in loader:
        if step >= args.total_steps or time.time() - t0 > budget:
            break
        dark, clean = dark.to(device, non_blocking=True), clean.to(device, non_blocking=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.total_steps, args.lr, args.warmup, restart_at)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = net(dark).float()
        loss = charbonnier(out, clean)
        if args.ssim_weight > 0:
            loss = loss + args.ssim_weight * (1 - ssim(out, clean))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        seen += 1
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        if step % 200 == 0:
            print(f"step {step} loss {loss_avg:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{seen / (time.time() - t0):.1f} steps/s", flush=True)
    minutes = (time.time() - t0) / 60
    psnr, ssim_v = validate(net, val, device)
    prev_minutes = history[-1]["minutes"] if history else 0.0
    history.append({"step": step, "val_psnr": psnr, "val_ssim": ssim_v, "minutes": prev_minutes + minutes,
                    "loss": loss_avg, "ssim_weight": args.ssim_weight})
    print(f"chunk done: step {step}, {seen} steps in {minutes:.1f} min, "
          f"val PSNR {psnr:.2f} dB, SSIM {ssim_v:.4f} (256 px crops)")

    state = {"config": cfg.as_dict(), "model": net.state_dict(), "step": step, "history": history,
             "preset": args.preset, "total_steps": args.total_steps}
    if not args.compact:
        state["opt"] = opt.state_dict()
    save_parts(state, ckpt_path)
    desc = (f"preset {args.preset}, {step} steps ({history[-1]['minutes']:.0f} GPU-minutes), "
            f"val PSNR {psnr:.2f} dB / SSIM {ssim_v:.3f} on 256-px crops; loss Charbonnier"
            f"{f' + {args.ssim_weight:g}(1-SSIM)' if args.ssim_weight > 0 else ''}; synthetic low light from Debian photos")
    export(net.float().cpu(), os.path.join(args.out, f"sagalux-{args.preset}.sglx"), fp16=True,
           description=desc, trained=True)
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(history, f, indent=1)


if __name__ == "__main__":
    main()
