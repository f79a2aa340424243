"""Peak memory (RSS) and time of ``fpliif parse`` at a large output size, one output kind per fresh process.

    python scripts/measure_memory.py                       # examples/astronaut.png at --size 8192, one thread
    python scripts/measure_memory.py --size 4096 --kinds index,color "overlay"

Each measurement runs ``fpliif parse IMAGE --size N --save KINDS --threads 1`` in its own Python process and
reads that process's peak resident set size (``ru_maxrss``), so the numbers include the interpreter, torch, the
model and the detector. The numbers go to docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --save kinds (and options) measured by default: the default outputs, then each picture and mask kind alone.
RUNS = ("index,color", "overlay", "outline", "mask --labels hair", "mask --labels hair --soft")


def measure_one(image: str, size: int, run: str) -> None:
    """In this process: parse once, print ``{"seconds", "peak_mb", "code"}`` as JSON."""
    from fpliif.cli import main

    kinds, *options = run.split()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        code = main(["parse", image, "--out", out, "--size", str(size), "--save", kinds, "--threads", "1",
                     "--device", "cpu", "--quiet", *options])
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print(json.dumps({"seconds": round(seconds, 1), "peak_mb": round(peak_mb), "code": code}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", default=list(RUNS), help="--save kinds and options, one run each")
    ap.add_argument("--image", default=str(ROOT / "examples" / "astronaut.png"))
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.one:
        measure_one(args.image, args.size, args.runs[0])
        return
    print(f"fpliif parse {Path(args.image).name} --size {args.size}, one CPU thread; peak RSS of the whole process")
    print("| --save | peak RSS | time |\n|---|---|---|")
    for run in args.runs:
        proc = subprocess.run([sys.executable, __file__, "--one", "--image", args.image, "--size", str(args.size),
                               run], capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", **_env()})
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            print(f"| `{run}` | failed: {proc.stderr.strip()[-300:]} | |")
            continue
        status = "" if result["code"] == 0 else f" (exit {result['code']})"
        print(f"| `{run}` | {result['peak_mb'] / 1024:.2f} GB{status} | {result['seconds']} s |", flush=True)


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}


if __name__ == "__main__":
    main()
