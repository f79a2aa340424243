"""Data-loading throughput: images per second through a DataLoader, with and without the paper's augmentation.

    python scripts/benchmark_data.py --data DATA/celebamask-mini --size 256 --workers 0 2

Prints one line per setting. Numbers depend on the CPU and on what else runs on it.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from fpliif.data import open_dataset


def images_per_second(dataset, workers: int, batch_size: int, batches: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=False, generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    next(it)  # start-up (worker spawn) is not throughput
    start, seen = time.perf_counter(), 0
    for _ in range(batches):
        try:
            seen += len(next(it)["id"])
        except StopIteration:
            break
    return seen / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/celebamask-mini", help="a dataset folder")
    p.add_argument("--split", default="train")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--batches", type=int, default=10)
    args = p.parse_args()
    print(f"data {args.data} ({args.split}), {args.size} px, batch {args.batch_size}, torch threads "
          f"{torch.get_num_threads()}")
    for augment in (False, True):
        dataset = open_dataset(args.data, args.split, size=args.size, augment=augment)
        for workers in args.workers:
            rate = images_per_second(dataset, workers, args.batch_size, args.batches)
            print(f"augment={str(augment):5}  workers={workers}  {rate:7.1f} images/s")


if __name__ == "__main__":
    main()
