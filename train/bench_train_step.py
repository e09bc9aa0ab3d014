"""Training steps per second of a preset on this machine's GPU, before a run is
planned: forward + backward + AdamW on random crops, under the settings a
run can choose (crop, batch, bf16 autocast, channels-last, torch.compile).

  python3 train/bench_train_step.py [--preset LLFormer] [--seconds 20]
      [--configs 192x16,256x8,384x4] [--compile] [--channels-last]

Prints one line per configuration: steps/s, pixels/s (crop^2 x batch x
steps/s: what the data sees), and the peak GPU memory. No data is read: the
input is random, so the loader's cost is not in these figures (train.py's own
log reports the steps/s it reaches with the real loader).
"""
import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import SAGANet, parameter_count  # noqa: E402
from train import PRESETS, charbonnier  # noqa: E402


def bench(cfg, crop, batch, seconds, use_compile, channels_last, device):
    torch.manual_seed(0)
    net = SAGANet(cfg).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    step_net = torch.compile(net) if use_compile else net
    x = torch.rand(batch, 3, crop, crop, device=device)
    y = torch.rand(batch, 3, crop, crop, device=device)
    if channels_last:
        x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)

    def one_step():
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            out = step_net(x).float()
        loss = charbonnier(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    t_warm = time.time()
    for _ in range(3):  # compile and cuDNN autotuning happen here
        one_step()
    torch.cuda.synchronize()
    warm = time.time() - t_warm
    torch.cuda.reset_peak_memory_stats()
    n, t0 = 0, time.time()
    while time.time() - t0 < seconds:
        one_step()
        n += 1
        if n % 5 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    rate = n / (time.time() - t0)
    return rate, warm, torch.cuda.max_memory_allocated() / 2**30, parameter_count(net)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="LLFormer")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--configs", default="192x16,256x8,384x4", help="CROPxBATCH,...")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_train_step: no CUDA GPU")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, preset {args.preset}, "
          f"compile={args.compile}, channels_last={args.channels_last}", flush=True)
    for spec in args.configs.split(","):
        crop, batch = (int(v) for v in spec.split("x"))
        try:
            rate, warm, peak, params = bench(PRESETS[args.preset], crop, batch, args.seconds, args.compile,
                                             args.channels_last, device)
            print(f"crop {crop:4d} batch {batch:3d}: {rate:6.2f} steps/s, {rate * batch * crop * crop / 1e6:7.1f} "
                  f"Mpx/s, peak {peak:5.1f} GiB, warm-up {warm:5.1f} s ({params:,} parameters)", flush=True)
        except torch.cuda.OutOfMemoryError:
            print(f"crop {crop:4d} batch {batch:3d}: out of GPU memory", flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
