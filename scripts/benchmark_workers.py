"""Measurements for ``benchmark_inference.py``; each runs in its own subprocess and returns a JSON-able dict."""

from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path

import torch

from fpliif.image import to_tensor
from fpliif.models.decoder import make_coord
from fpliif.parser import FaceParser, output_size
from fpliif.render import OutputGrid, RenderOptions, RenderStats, query_chunked, render_grid

__all__ = ["WORKERS", "load_spec"]


def load_spec(spec: str) -> torch.nn.Module:
    """``random:<name>`` (seeded fresh weights), a pretrained name, a model folder or a Hub id -> model in eval
    mode."""
    if spec.startswith("random:"):
        from fpliif.models.registry import create_model

        torch.manual_seed(0)
        return create_model(spec.split(":", 1)[1]).eval()
    from fpliif.hub import from_pretrained

    return from_pretrained(spec).eval()


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


def time_parse(spec: str, size: int, mode: str, image: str, repeats: int) -> dict:
    """Seconds for the encoder, the rendering and the whole label map (with the arg-max) at ``size``."""
    model = load_spec(spec)
    parser = FaceParser(model, device="cpu", mode=mode)
    inputs, box = parser.prepare(to_tensor(image))
    out_h, out_w = output_size((box.height, box.width), size)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts = {"encode": [], "render": [], "total": [], "cpu": []}

    def label_map():
        t0, c0 = time.perf_counter(), time.process_time()
        state = model.encode(inputs[None])
        t1 = time.perf_counter()
        parser.render(state, box, out_h, out_w).argmax(0)
        t2 = time.perf_counter()
        for key, value in (("encode", t1 - t0), ("render", t2 - t1), ("total", t2 - t0),
                           ("cpu", time.process_time() - c0)):
            parts[key].append(value)
        return state

    with torch.inference_mode():
        for _ in range(repeats + 1):
            state = label_map()
        stats = RenderStats()
        if mode != "dense":
            grid = OutputGrid.from_box(box, out_h, out_w)
            render_grid(model.decoder, state, grid, out_h, out_w, RenderOptions(soft=mode == "fast-soft"), stats)
    med = {key: statistics.median(values[1:]) for key, values in parts.items()}  # the first call warms up
    return {"encode_s": med["encode"], "render_s": med["render"], "total_s": med["total"],
            "best_s": min(parts["total"][1:]), "cpu_s": med["cpu"], "out": [out_h, out_w],
            "baseline_rss_mb": baseline, "queried": stats.fraction if mode != "dense" else 1.0,
            "input": model.cfg.input_size}


def agreement(spec: str, sizes: list[int], images: int, data: str) -> dict:
    """Share of pixels whose fast label equals the dense label, on validation faces; per size."""
    model = load_spec(spec)
    paths = _val_images(Path(data), images)
    if not paths:
        return {"error": f"no validation faces under {data}"}
    parser = FaceParser(model, device="cpu", mode="dense")
    rows = {s: {"fast": [], "fast_soft": [], "prob_diff_fast": [], "prob_diff_soft": [], "queried": []} for s in sizes}
    with torch.inference_mode():
        for path in paths:
            inputs, box = parser.prepare(to_tensor(path))
            state = model.encode(inputs[None])
            for size in sizes:
                _compare(model, parser, state, box, size, rows[size])
    summary = {}
    for size, r in rows.items():
        summary[str(size)] = {
            "fast_mean": statistics.mean(r["fast"]), "fast_min": min(r["fast"]),
            "soft_mean": statistics.mean(r["fast_soft"]), "queried": statistics.mean(r["queried"]),
            "prob_diff_fast": max(r["prob_diff_fast"]), "prob_diff_soft": max(r["prob_diff_soft"]),
        }
    return {"images": len(paths), "sizes": summary}


def _compare(model, parser, state, box, size, acc: dict) -> None:
    out_h, out_w = output_size((box.height, box.width), size)
    dense = parser.render(state, box, out_h, out_w)
    axes, temp = OutputGrid.from_box(box, out_h, out_w), model.cfg.temperature
    p_dense = torch.softmax(dense / temp, 0)
    for key, soft in (("fast", False), ("fast_soft", True)):
        stats = RenderStats()
        fast = render_grid(model.decoder, state, axes, out_h, out_w, RenderOptions(soft=soft), stats)[0].float()
        acc[key].append((fast.argmax(0) == dense.argmax(0)).float().mean().item())
        diff = (torch.softmax(fast / temp, 0) - p_dense).abs().max().item()
        acc["prob_diff_soft" if soft else "prob_diff_fast"].append(diff)
        if not soft:
            acc["queried"].append(stats.fraction)


def _val_images(data: Path, n: int) -> list[Path]:
    splits = data / "splits.json"
    if not splits.is_file():
        return []
    ids = json.loads(splits.read_text())["val"][:n]
    return [data / "images" / f"{i}.jpg" for i in ids]


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


def gpu(spec: str, repeats: int = 20) -> dict:
    """Images per second on CUDA, bf16 autocast and channels-last, batch 1 and 32, 64-512 px square outputs."""
    model = load_spec(spec).cuda().to(memory_format=torch.channels_last)
    rows = []
    for batch in (1, 32):
        x = torch.rand(batch, 3, model.cfg.input_size, model.cfg.input_size, device="cuda")
        x = x.to(memory_format=torch.channels_last)
        for size in (64, 128, 256, 512):
            for mode in ("dense", "split"):
                fn = _gpu_step(model, x, size, mode)
                with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                    sec = _cuda_time(fn, repeats)
                rows.append({"batch": batch, "size": size, "mode": mode, "fps": batch / sec})
    return {"rows": rows}


def _gpu_step(model, x, size, mode):
    coords = make_coord((size, size), device=x.device).unsqueeze(0).expand(x.shape[0], -1, -1)
    chunk = max(4096, (1 << 21) // x.shape[0])  # bounded activations: about 4 GB in bf16

    def step():
        if mode == "dense":
            return model(x, size=(size, size), chunk=chunk).argmax(1)
        state = model.encode(x)
        logits = query_chunked(model.decoder, state, coords, chunk)
        return logits.argmax(-1).view(-1, size, size)

    return step


def _cuda_time(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


WORKERS = {"time": time_parse, "agree": agreement, "segformer": segformer, "gpu": gpu}
