"""``fpliif export``: the model as an ONNX file on a fixed output grid, optionally checked with onnxruntime."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError
from .arguments import add_command, add_model_arguments, load_model, parse_size

__all__ = ["add_parser", "run"]

EPILOG = """\
The ONNX graph takes `images` B x 3 x S x S float32 in [0, 1] (S = the model's input size, 256 for the
shipped model; pad the face to a square and resize it first) and returns `logits` B x K x SIZE x SIZE.
The batch is dynamic; the output grid is fixed at export time.

examples:
  fpliif export --out fpliif-256.onnx --check
  fpliif export --model path/to/model --out fpliif-512.onnx --size 512 --check
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "export", run,
                    help="export the model to ONNX (fixed output size), checked with onnxruntime",
                    description="Export an FP-LIIF model (encoder and decoder) to ONNX for a fixed output size.",
                    epilog=EPILOG)
    add_model_arguments(p)
    p.add_argument("--out", "-o", required=True, type=Path, metavar="FILE.onnx", help="where to write the ONNX file")
    p.add_argument("--size", type=parse_size, metavar="N|HxW", help="output grid; default: the model's input size")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument("--check", action="store_true",
                   help="run the file with onnxruntime and compare with PyTorch (needs onnxruntime)")


def run(args: argparse.Namespace) -> int:
    from ..export import check_onnx, export_onnx

    if args.out.suffix.lower() != ".onnx":
        raise CommandError(f"--out should end in .onnx, got {args.out}; e.g. --out fpliif-256.onnx")
    model = load_model(args)
    if getattr(model.cfg, "model_type", "fpliif") != "fpliif":
        raise CommandError(f"only FP-LIIF models export to ONNX here; {args.model} is a {model.cfg.model_type!r}")
    path = export_onnx(model, args.out, size=args.size, opset=args.opset)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): images B x 3 x {model.cfg.input_size} x "
          f"{model.cfg.input_size} -> logits")
    if args.check:
        try:
            result = check_onnx(model, path, size=args.size)
        except ImportError as e:
            raise CommandError(str(e)) from e
        ok = result["max_abs"] < 1e-3 and result["label_agreement"] >= 0.999  # rounding may flip exact ties
        print(f"onnxruntime vs PyTorch: max |logit difference| {result['max_abs']:.2e}, "
              f"label agreement {result['label_agreement']:.4%}, output {result['shape']}"
              + ("" if ok else "  (MISMATCH)"))
        return 0 if ok else 1
    return 0

