"""The SSIM that train.py optimises and reports is the SSIM evaluate.py scores
with: same window, same constants, same per-channel mean."""
import os
import sys

import pyrequire  # noqa: E402  (beside this file)

pyrequire.require("numpy", "torch", "PIL")
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import evaluate  # noqa: E402
import train  # noqa: E402


def as_nchw(a):
    return torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]


def main():
    rng = np.random.default_rng(7)
    clean = rng.random((40, 52, 3)) * 0.6 + np.linspace(0, 0.3, 52)[None, :, None]
    failures = 0
    for sigma in (0.01, 0.05, 0.2):
        noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1)
        ref = evaluate.ssim(noisy, clean)
        got = train.ssim(as_nchw(noisy), as_nchw(clean)).item()
        # fp32 (torch) against float64 (numpy) over ~1500 windows: agreement to 1e-5.
        ok = abs(got - ref) < 1e-5
        failures += not ok
        print(f"noise sigma {sigma}: train.ssim {got:.6f} evaluate.ssim {ref:.6f} {'ok' if ok else 'MISMATCH'}")
    same = train.ssim(as_nchw(clean), as_nchw(clean)).item()
    if abs(same - 1) > 1e-5:
        failures += 1
        print(f"ssim(x, x) = {same}, expected 1")
    # The loss term must carry a gradient back to the prediction.
    pred = as_nchw(clean * 0.9).requires_grad_()
    (1 - train.ssim(pred, as_nchw(clean))).backward()
    if not torch.isfinite(pred.grad).all() or pred.grad.abs().max() == 0:
        failures += 1
        print("1 - ssim gave no usable gradient")
    print("FAILED" if failures else "all ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
