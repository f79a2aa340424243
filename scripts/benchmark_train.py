"""Training throughput (images/s) of one optimiser step, per model and size, on generated data.

    python scripts/benchmark_train.py --models fpliif fpliif-small --sizes 256 128 --batch-size 4 --threads 1
    python scripts/benchmark_train.py --device cuda --amp bf16 --batch-size 32

Data loading is left out (batches are built once), so this is the model + loss + optimiser cost; the loader
keeps up when ``--workers`` x per-image load time is below the step time.
"""

from __future__ import annotations

import argparse
import time

import torch

from fpliif import create_model
from fpliif.train import TrainConfig, Trainer
from fpliif.train.synthetic import SyntheticFaces


def measure(model_name: str, size: int, batch: int, steps: int, device: str, amp: str, points: int) -> float:
    torch.manual_seed(0)
    names = ["background", "skin", "eye", "lip", "hair"] + [f"c{i}" for i in range(14)]  # 19 classes
    model = create_model(model_name, label_names=names, input_size=size)
    data = SyntheticFaces(batch, size, len(names))
    opts = TrainConfig(batch_size=batch, workers=0, amp=amp, sample_points=points)
    trainer = Trainer(model, data, None, opts, "/tmp/fpliif-bench-train",
                      dist=_dist(device))
    batch_items = next(iter(trainer.loader))
    trainer.train_step(batch_items)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    tic = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch_items)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - tic)


def _dist(device: str):
    from fpliif.device import resolve_device
    from fpliif.train.distributed import DistInfo

    return DistInfo(device=resolve_device(device))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["fpliif", "fpliif-small"])
    p.add_argument("--sizes", nargs="+", type=int, default=[256, 128])
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", default="auto")
    p.add_argument("--sample-points", nargs="+", type=int, default=[0])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}, batch {a.batch_size}")
    print("| model | size | query points | images/s |\n|---|---:|---:|---:|")
    for name in a.models:
        for size in a.sizes:
            for points in a.sample_points:
                rate = measure(name, size, a.batch_size, a.steps, a.device, a.amp, points)
                print(f"| {name} | {size} | {points or 'full'} | {rate:.2f} |", flush=True)


if __name__ == "__main__":
    main()
