"""PNG plots for the run folder, drawn with PIL (no matplotlib): curves and a grid of val predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..image import colorize, to_uint8

__all__ = ["line_plot", "prediction_grid"]

MIN_CELL = 128  # small val images are enlarged (nearest) to at least this many pixels per cell
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def line_plot(series: dict[str, list[tuple[float, float]]], path: str | Path, title: str = "",
              xlabel: str = "step", size: tuple[int, int] = (640, 400)) -> Path:
    """Draw named ``(x, y)`` series as lines on shared axes and save a PNG."""
    w, h = size
    left, right, top, bottom = 64, 16, 28, 36
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    points = [p for s in series.values() for p in s if np.isfinite(p[1])]
    draw.text((left, 8), title, fill="black")
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
        to_px = lambda x, y: (left + (x - x0) / (x1 - x0) * (w - left - right),
                              h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom))
        _axes(draw, size, (left, right, top, bottom), (x0, x1, y0, y1), xlabel)
        for k, (name, s) in enumerate(series.items()):
            color = PALETTE[k % len(PALETTE)]
            pts = [to_px(x, y) for x, y in s if np.isfinite(y)]
            if len(pts) > 1:
                draw.line(pts, fill=color, width=2)
            for px, py in pts if len(pts) <= 50 else []:
                draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=color)
            draw.text((w - right - 150, top + 4 + 14 * k), f"- {name}", fill=color)
    path = Path(path)
    img.save(path)
    return path


def _axes(draw: ImageDraw.ImageDraw, size, margins, limits, xlabel: str) -> None:
    w, h = size
    left, right, top, bottom = margins
    x0, x1, y0, y1 = limits
    draw.rectangle((left, top, w - right, h - bottom), outline="black")
    for i in range(5):
        fy = i / 4
        py = h - bottom - fy * (h - top - bottom)
        draw.line((left - 4, py, left, py), fill="black")
        draw.text((4, py - 6), f"{y0 + fy * (y1 - y0):.4g}", fill="black")
        px = left + fy * (w - left - right)
        draw.line((px, h - bottom, px, h - bottom + 4), fill="black")
        draw.text((px - 12, h - bottom + 6), f"{x0 + fy * (x1 - x0):.4g}", fill="black")
    draw.text((w // 2, h - 14), xlabel, fill="black")


def prediction_grid(samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                    colors: list[tuple[int, int, int]], path: str | Path) -> Path | None:
    """Rows of image | ground truth | prediction, from ``(image 3xHxW, mask HxW, pred HxW)`` samples.

    Ignored pixels (255, 254) in the ground truth are drawn grey.
    """
    if not samples:
        return None
    rows = []
    for image, mask, pred in samples:
        rgb = to_uint8(image.clamp(0, 1).permute(1, 2, 0))
        gt = colorize(mask.clamp(max=len(colors) - 1), colors)
        gt[mask.numpy() >= len(colors)] = 128
        cells = [_fit(rgb, mask.shape), gt, colorize(pred, colors)]
        rows.append(np.concatenate(cells, axis=1))
    rows = [_upscale(r, MIN_CELL // max(1, r.shape[0])) for r in rows]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    path = Path(path)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def _upscale(row: np.ndarray, factor: int) -> np.ndarray:
    return row if factor <= 1 else row.repeat(factor, axis=0).repeat(factor, axis=1)


def _fit(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if rgb.shape[:2] == tuple(shape):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((shape[1], shape[0]), Image.BICUBIC))
