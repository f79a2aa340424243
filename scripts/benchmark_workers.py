"""Measurements for ``benchmark_inference.py``; each runs in its own subprocess and returns a JSON-able dict.

Everything goes through the public parser: ``FaceParser(model, mode=...)(image, size=..., faces="none")`` gives a
:class:`fpliif.result.ParseResult`; ``result.label_map()`` renders the labels and ``result.mask("hair")`` one
soft mask, exactly as a user's code does.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path

import torch

from fpliif.image import to_tensor
from fpliif.parser import FaceParser, output_size
from fpliif.render import OutputGrid, RenderOptions, RenderStats, render_grid
from fpliif.result import TILE
from fpliif.result import soft_options as soft_render_options

__all__ = ["WORKERS", "load_spec", "MASK"]

MASK = "hair"  # the soft mask timed and compared: a large region with a soft, detailed edge


def load_spec(spec: str) -> torch.nn.Module:
    """``random:<name>`` (seeded fresh weights), a pretrained name, a model folder or a Hub id -> model in eval
    mode."""
    if spec.startswith("random:"):
        from fpliif.models.registry import create_model

        torch.manual_seed(0)
        return create_model(spec.split(":", 1)[1]).eval()
    from fpliif.hub import from_pretrained

    return from_pretrained(spec).eval()


def _parser(model: torch.nn.Module, mode: str) -> FaceParser:
    return FaceParser(model, device="cpu", mode=mode, faces="none")


def soft_options(parser: FaceParser) -> RenderOptions:
    """The options a soft mask is rendered with (as :func:`fpliif.result.decoder_region` makes them)."""
    return soft_render_options(parser.render_options, parser.cfg.input_size)


@torch.inference_mode()
def queried(parser: FaceParser, image: torch.Tensor, size: int, soft: bool) -> float | None:
    """Share of output pixels the fast renderer evaluates with the network for one label map (``soft=False``)
    or one soft mask, rendered tile by tile as :class:`~fpliif.result.ParseResult` does; ``None`` for a model
    without the LIIF decoder."""
    decoder = getattr(parser.model, "decoder", None)
    if not hasattr(decoder, "query_logits"):
        return None
    how, inputs, layout = parser.plan(image, "none")
    state = parser.encode(torch.stack(inputs))[0]
    out_h, out_w = output_size(tuple(image.shape[-2:]), size)
    grid = OutputGrid.from_box(layout[0], out_h, out_w)
    opts = soft_options(parser) if soft else parser.render_options
    stats, tile = RenderStats(), TILE
    for top in range(0, out_h, tile):
        for left in range(0, out_w, tile):
            h, w = min(tile, out_h - top), min(tile, out_w - left)
            render_grid(decoder, state, grid.shifted(top, left), h, w, opts, stats)
    return stats.fraction


def time_parse(spec: str, size: int, mode: str, image: str, repeats: int, mask: bool = True) -> dict:
    """Seconds at output ``size`` (longer side), ``faces="none"``, batch 1: the parser call (input resize and
    encoder), the label map it renders, and (``mask``) one soft mask of the same result afterwards.

    One warm-up call, then the median of ``repeats``; the image is decoded once, before timing.
    """
    model = load_spec(spec)
    parser = _parser(model, mode)
    picture = to_tensor(image)
    out_h, out_w = output_size(tuple(picture.shape[-2:]), size)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts = {"encode": [], "render": [], "total": [], "cpu": [], "mask": []}

    for _ in range(repeats + 1):  # the first call warms up
        t0, c0 = time.perf_counter(), time.process_time()
        result = parser(picture, size=size, faces="none")
        t1 = time.perf_counter()
        result.label_map()
        t2, c2 = time.perf_counter(), time.process_time()
        for key, value in (("encode", t1 - t0), ("render", t2 - t1), ("total", t2 - t0), ("cpu", c2 - c0)):
            parts[key].append(value)
        if mask:
            result.mask(MASK, soft=True)
            parts["mask"].append(time.perf_counter() - t2)
    med = {key: statistics.median(values[1:]) for key, values in parts.items() if values}
    fast = mode == "fast"
    return {"encode_s": med["encode"], "render_s": med["render"], "total_s": med["total"],
            "best_s": min(parts["total"][1:]), "cpu_s": med["cpu"], "mask_s": med.get("mask"),
            "out": [out_h, out_w], "baseline_rss_mb": baseline, "input": model.cfg.input_size,
            "queried": queried(parser, picture, size, soft=False) if fast else 1.0,
            "queried_soft": queried(parser, picture, size, soft=True) if fast else 1.0 if mask else None}


def agreement(spec: str, sizes: list[int], images: int, data: str) -> dict:
    """Fast against dense on validation faces (``faces="none"``), per output size: share of pixels with the
    same label (:meth:`~fpliif.result.ParseResult.label_map`), and how far the soft path's probabilities
    (:attr:`~fpliif.result.ParseResult.probs`, what :meth:`~fpliif.result.ParseResult.mask` sums) are from dense.
    Both parsers share one encoding of each image."""
    model = load_spec(spec)
    paths = _val_images(Path(data), images)
    if not paths:
        return {"error": f"no validation faces under {data}"}
    fast_parser, dense_parser = _parser(model, "fast"), _parser(model, "dense")
    tolerance = soft_options(fast_parser).tolerance
    keys = ("labels", "dp_max", "dp_mean", "dp_over", "mask_dp_max", "queried", "queried_soft")
    rows = {s: {k: [] for k in keys} for s in sizes}
    mask_ids = fast_parser.label_set.resolve(MASK)
    with torch.inference_mode():
        for path in paths:
            picture = to_tensor(path)
            how, inputs, layout = fast_parser.plan(picture, "none")
            states = fast_parser.encode(torch.stack(inputs))
            for size in sizes:
                out = output_size(tuple(picture.shape[-2:]), size)
                fast = fast_parser.compose(picture, out, how, layout, states, 0)
                dense = dense_parser.compose(picture, out, how, layout, states, 0)
                p_dense = dense.probs  # the dense path renders every pixel once; its labels are the arg-max
                agree = (torch.from_numpy(fast.label_map()).long() == p_dense.argmax(0))
                diff = (fast.probs - p_dense).abs()
                mask_diff = diff[mask_ids].sum(0) if len(mask_ids) > 1 else diff[mask_ids[0]]
                r = rows[size]
                r["labels"].append(agree.float().mean().item())
                r["dp_max"].append(diff.max().item())
                r["dp_mean"].append(diff.mean().item())
                r["dp_over"].append((diff.amax(0) > tolerance).float().mean().item())
                r["mask_dp_max"].append(mask_diff.max().item())
                r["queried"].append(queried(fast_parser, picture, size, soft=False))
                r["queried_soft"].append(queried(fast_parser, picture, size, soft=True))
    summary = {}
    for size, r in rows.items():
        summary[str(size)] = {
            "labels_mean": statistics.mean(r["labels"]), "labels_min": min(r["labels"]),
            "dp_max": max(r["dp_max"]), "dp_mean": statistics.mean(r["dp_mean"]),
            "dp_over": statistics.mean(r["dp_over"]), "mask_dp_max": max(r["mask_dp_max"]),
            "queried": statistics.mean(r["queried"]), "queried_soft": statistics.mean(r["queried_soft"]),
        }
    return {"images": len(paths), "mask": MASK, "tolerance": tolerance, "sizes": summary}


def _val_images(data: Path, n: int) -> list[Path]:
    splits = data / "splits.json"
    if not splits.is_file():
        return []
    ids = json.loads(splits.read_text())["val"][:n]
    return [data / "images" / f"{i}.jpg" for i in ids]


def _median_time(fn, repeats: int, cpu: list | None = None) -> tuple[float, float, object]:
    """Median and best wall seconds of ``repeats`` calls after one warm-up call, and the last result.

    ``cpu`` (optional) receives the median CPU seconds of the process per call (all threads together):
    unlike wall time it hardly changes when other programs share the cores.
    """
    fn()
    times, cpu_times, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    if cpu is not None:
        cpu.append(statistics.median(cpu_times))
    return statistics.median(times), min(times), out


def segformer(variant: str, repeats: int) -> dict:
    """SegFormer (random weights, 19 labels) on a 512 px input, logits upsampled to a 512 label map."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    shapes = {
        "b0": dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], decoder_hidden_size=256),
        "b5": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 6, 40, 3], decoder_hidden_size=768),
    }
    torch.manual_seed(0)
    model = SegformerForSemanticSegmentation(SegformerConfig(num_labels=19, **shapes[variant])).eval()
    x = torch.rand(1, 3, 512, 512)

    def run():
        logits = model(pixel_values=x).logits
        return torch.nn.functional.interpolate(logits, size=(512, 512), mode="bilinear").argmax(1)

    with torch.inference_mode():
        cpu = []
        total, best, _ = _median_time(run, repeats, cpu)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return {"total_s": total, "best_s": best, "cpu_s": cpu[0], "params_m": params, "input": 512, "out": [512, 512]}


GPU_SIZES = (64, 128, 256, 512)


def gpu(spec: str, repeats: int = 20, device: str = "cuda", sizes: tuple[int, ...] = GPU_SIZES,
        batches: tuple[int, ...] = (1, 32)) -> dict:
    """Images per second (bf16 autocast on CUDA, channels-last), square label maps of a whole input: ``dense``
    (the decoder at every pixel, ``model(x, size)``) and ``fast`` (the coarse-to-fine renderer, default options)."""
    model = load_spec(spec).to(device).to(memory_format=torch.channels_last)
    rows = []
    for batch in batches:
        x = torch.rand(batch, 3, model.cfg.input_size, model.cfg.input_size, device=device)
        x = x.to(memory_format=torch.channels_last)
        for size in sizes:
            for mode in ("dense", "fast"):
                fn = _gpu_step(model, x, size, mode)
                autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")
                with torch.inference_mode(), autocast:
                    sec = _device_time(fn, repeats, device)
                rows.append({"batch": batch, "size": size, "mode": mode, "fps": batch / sec})
    return {"rows": rows, "input": model.cfg.input_size}


def _gpu_step(model, x, size, mode):
    chunk = max(4096, (1 << 21) // x.shape[0])  # bounded activations: about 4 GB in bf16
    grid = OutputGrid.full(size, size)

    def step():
        if mode == "dense":
            return model(x, size=(size, size), chunk=chunk).argmax(1)
        state = model.encode(x)
        return render_grid(model.decoder, state, grid, size, size, RenderOptions(chunk=chunk)).argmax(1)

    return step


def _device_time(fn, repeats: int, device: str) -> float:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


WORKERS = {"time": time_parse, "agree": agreement, "segformer": segformer, "gpu": gpu}
