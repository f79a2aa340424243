"""Parameters and multiply-accumulates of every registered variant, beside the paper's figures.

Counts come from ``torch.utils.flop_counter.FlopCounterMode`` on the meta device (no memory, no time):
MACs = FLOPs / 2, for one 256 x 256 input decoded to an ``S x S`` output. Paper (Sarkar et al., CVPR 2023):
2.29 M parameters; Table 6 gives the MACs of FP-LIIF at each output size.

    python scripts/benchmark_model.py [--input 256] [--sizes 64 96 128 192 256 512] [--models fpliif ...]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from fpliif import create_model, list_models

PAPER_PARAMS_M = 2.29
PAPER_GMACS = {64: 27.44, 96: 32.25, 128: 39.0, 192: 58.24, 256: 85.2}  # Table 6, FP-LIIF, 256 input


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_gmacs(model: torch.nn.Module, input_size: int, out_size: int) -> tuple[float, float]:
    """(total, encoder) GMACs for one ``input_size`` image decoded to ``out_size x out_size``."""
    images = torch.rand(1, 3, input_size, input_size, device="meta")
    with FlopCounterMode(display=False) as counter:
        model(images, size=(out_size, out_size))
    total = counter.get_total_flops() / 2e9
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        return total, float("nan")
    with FlopCounterMode(display=False) as counter:
        encoder(images)
    return total, counter.get_total_flops() / 2e9


def report(names: list[str], input_size: int, sizes: list[int]) -> str:
    lines = [f"FP-LIIF variants: parameters and GMACs (multiply-accumulates) for one {input_size}x{input_size} "
             "input, by output size", ""]
    for name in names:
        with torch.device("meta"):
            model = create_model(name, input_size=input_size)
        params = count_params(model)
        paper = f" (paper: {PAPER_PARAMS_M:.2f} M)" if name == "fpliif" else ""
        lines.append(f"{name}: {params / 1e6:.3f} M parameters{paper}, {model.cfg.num_classes} classes")
        lines.append(f"  {'output':>8}  {'GMACs':>8}  {'encoder':>8}  {'decoder':>8}  {'paper':>8}  {'ratio':>6}")
        for size in sizes:
            total, encoder = count_gmacs(model, input_size, size)
            ref = PAPER_GMACS.get(size) if name == "fpliif" and input_size == 256 else None
            ref_text = f"{ref:8.2f}" if ref else f"{'-':>8}"
            ratio = f"{total / ref:6.3f}" if ref else f"{'-':>6}"
            lines.append(f"  {f'{size}x{size}':>8}  {total:8.2f}  {encoder:8.2f}  {total - encoder:8.2f}  "
                         f"{ref_text}  {ratio}")
        if model.cfg.model_type == "unet":
            lines.append("  (decodes at the input size, then resizes: its MACs do not grow with the output size)")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=int, default=256, help="input side in pixels (default 256, as the paper)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128, 192, 256, 512], help="output sides")
    parser.add_argument("--models", nargs="+", default=list_models(), help="variants (default: all registered)")
    args = parser.parse_args()
    print(report(args.models, args.input, args.sizes))


if __name__ == "__main__":
    main()
