"""Benchmark FP-LIIF inference on the CPU and write a Markdown report (docs/benchmark.md).

Through the public API, batch 1, ``faces="none"`` on an aligned validation face: per output size, the parser call
(input resize and encoder), the label map (``result.label_map()``, fast renderer and, up to ``--dense-max``, the
dense decoder) and one soft mask of the same result (``result.mask("hair", soft=True)``); then the fast path
against dense on validation faces (same labels; largest probability difference of the soft path). Every
measurement runs in its own subprocess, so peak memory (``ru_maxrss``) belongs to that one size.

    python scripts/benchmark_inference.py                      # the shipped weights
    python scripts/benchmark_inference.py --model path/to/model --model random:fpliif --images 8
    python scripts/benchmark_inference.py --quick --out /tmp/bench.md   # a smoke run: small sizes, 1 repeat

Model specs: a pretrained name (default: the shipped weights, ``fpliif.pretrained.DEFAULT_PRETRAINED``), a
model folder or Hub id, or ``random:<registry name>``.
Agreement with the dense decoder is only meaningful for trained weights; random weights give noise labels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a script run from a checkout; the package need not be installed

from benchmark_report import write_report  # noqa: E402  (scripts/ is on sys.path when run as a script)
from benchmark_workers import WORKERS  # noqa: E402

from fpliif.pretrained import DEFAULT_PRETRAINED  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "celebamask-mini"


def run_worker(args: argparse.Namespace, name: str, **params) -> dict:
    """Run ``WORKERS[name](**params)`` in a fresh interpreter with ``args.threads`` threads; its JSON result."""
    payload = json.dumps({"name": name, "threads": args.threads, "params": params})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", payload]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        print(f"  {name} {params} failed: {' | '.join(tail)}", file=sys.stderr)
        return {"error": tail[-1] if tail else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_main(payload: str) -> None:
    job = json.loads(payload)
    torch.set_num_threads(job["threads"])
    result = WORKERS[job["name"]](**job["params"])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def machine_info(threads: int) -> dict:
    import numpy

    info = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
        "platform": platform.platform(), "cpu": _cpu_name(), "threads": threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load average at start (1 min)": f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
    }
    for mod in ("onnxruntime", "transformers"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = "not installed"
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def resolve_specs(models: list[str]) -> list[tuple[str, str]]:
    """``(spec, note)`` per requested model; absent pretrained weights fall back to the paper's net, random."""
    from fpliif.pretrained import get_pretrained, is_pretrained_name

    out = []
    for spec in models:
        if is_pretrained_name(spec) and not get_pretrained(spec).available:
            out.append(("random:fpliif", f"{spec} absent: the paper's network with random weights"))
        else:
            out.append((spec, "random weights" if spec.startswith("random:") else "trained weights"))
    return out


def bench_model(args, spec: str, note: str, image: str) -> dict:
    """CPU timings per size (fast, and dense up to ``--dense-max``) and agreement with dense."""
    rows = []
    for size in args.sizes:
        for mode in ("fast", "dense"):
            if mode == "dense" and size > args.dense_max:
                continue
            repeats = args.repeats if size <= 512 else max(1, args.repeats // 2)
            print(f"  {spec} {mode} {size}px ...", flush=True)
            res = run_worker(args, "time", spec=spec, size=size, mode=mode, image=image, repeats=repeats,
                             mask=mode == "fast")
            rows.append({"size": size, "mode": mode, **res})
    agreement = None
    if args.images and not spec.startswith("random:"):  # random weights: noise labels, agreement says nothing
        print(f"  {spec} agreement on {args.images} images ...", flush=True)
        agreement = run_worker(args, "agree", spec=spec, sizes=args.agree_sizes, images=args.images,
                               data=str(args.data))
    return {"spec": spec, "note": note, "cpu": rows, "agreement": agreement}


def sample_image(data: Path) -> str:
    """A real face to time on: the first validation face, else the example image."""
    splits = data / "splits.json"
    if splits.is_file():
        first = json.loads(splits.read_text())["val"][0]
        return str(data / "images" / f"{first}.jpg")
    return str(ROOT / "examples" / "astronaut.png")


def _image_size(image: str) -> list[int]:
    """``[H, W]`` of the timed image."""
    from fpliif.image import image_size

    return list(image_size(image))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append",
                   help="model spec (repeatable): a pretrained name, a model folder or Hub id, or random:<name>; "
                   f"default: the shipped weights ({DEFAULT_PRETRAINED})")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    p.add_argument("--dense-max", type=int, default=512, help="time the dense path up to this size")
    p.add_argument("--agree-sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--images", type=int, default=8, help="validation faces for agreement (0: skip)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--no-compare", action="store_true", help="skip the SegFormer comparison")
    p.add_argument("--no-gpu", action="store_true")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 64/128 px, 1 repeat, 1 image, SegFormer-B0 only")
    p.add_argument("--note", action="append", default=[], help="a paragraph to add under the machine table")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmark.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.agree_sizes, args.repeats, args.images, args.dense_max = [64, 128], [128], 1, 1, 128
    args.model = args.model or [DEFAULT_PRETRAINED]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0
    image = sample_image(args.data)
    report = {"machine": machine_info(args.threads), "image": image, "image_size": _image_size(image),
              "models": [], "compare": [], "gpu": [], "notes": args.note}
    for spec, note in resolve_specs(args.model):
        print(f"benchmarking {spec} ({note})", flush=True)
        report["models"].append(bench_model(args, spec, note, image))
    if not args.no_compare:
        report["compare"] = compare_segformer(args)
    if torch.cuda.is_available() and not args.no_gpu:
        for spec, _ in resolve_specs(args.model):
            res = run_worker(args, "gpu", spec=spec, **({"repeats": 2, "sizes": [64, 128]} if args.quick else {}))
            report["gpu"].append({"spec": spec, **res})
    report["machine"]["load average at end (1 min)"] = f"{os.getloadavg()[0]:.1f}"
    write_report(report, args.out)
    print(f"wrote {args.out}")
    return 0


def compare_segformer(args) -> list[dict]:
    """SegFormer-B0 and -B5 (random weights, 512 px input, 19 labels) on the same CPU, when installed."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        return [{"name": "SegFormer", "error": "transformers not installed (pip install transformers)"}]
    rows = []
    for variant in ("b0",) if args.quick else ("b0", "b5"):
        print(f"  segformer-{variant} ...", flush=True)
        repeats = max(1, args.repeats // 2) if variant == "b5" else args.repeats
        rows.append({"name": f"SegFormer-{variant.upper()}", **run_worker(args, "segformer", variant=variant,
                                                                          repeats=repeats)})
    return rows


if __name__ == "__main__":
    sys.exit(main())
