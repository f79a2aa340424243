"""Evaluation as in the paper's Tables 1-2: F1 and IoU per class, mean F1 and mIoU over a whole split.

Rows of the report:

- ``"256"``: the model's output at the input size ``S`` (default 256), against the ground truth resized
  nearest to ``S``.
- ``"512"`` (with ``output_size=512``): the output queried at 512 from the same ``S`` input, against the
  ground truth at 512 (the original masks of CelebAMask-HQ).
- ``"64->256"`` ... (with ``low_res``): the output at 64 px, its logits upsampled bilinearly to ``S``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from .device import resolve_device
from .metrics import ConfusionMatrix, Scores, scores_table

__all__ = ["EvalReport", "evaluate_dataset", "predict_logits", "QUERIES_PER_CHUNK"]

QUERIES_PER_CHUNK = 1 << 17  # decoder queries in flight per batch (bounds the MLP's activation memory)


@dataclass
class EvalReport:
    """Scores per setting (``"256"``, ``"512"``, ``"64->256"``, ...) and what was evaluated."""

    rows: dict[str, Scores]
    data: str = ""
    split: str | None = None
    num_images: int = 0
    input_size: int = 256
    extra: dict = field(default_factory=dict)

    def table(self) -> str:
        return scores_table(self.rows)

    def to_dict(self) -> dict:
        return {"data": self.data, "split": self.split, "num_images": self.num_images,
                "input_size": self.input_size, **self.extra,
                "rows": {k: _finite(v.to_dict()) for k, v in self.rows.items()}}

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def _finite(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def predict_logits(model: nn.Module, state, size: int) -> torch.Tensor:
    """``B x K x size x size`` logits on a regular grid from an encoded batch (``state = model.encode(images)``),
    with the decoder queries chunked; the same as ``model(images, size=(size, size))``."""
    from .models.decoder import make_coord

    b = len(state)
    coords = make_coord((size, size), device=state.device, dtype=state.dtype)
    logits = model.query(state, coords.unsqueeze(0).expand(b, -1, -1), max(QUERIES_PER_CHUNK // b, 1024))
    return logits.float().transpose(1, 2).reshape(b, -1, size, size)


@torch.inference_mode()
def evaluate_dataset(
    model: nn.Module,
    data: str | Path | Dataset,
    split: str | None = "val",
    size: int = 256,
    output_size: int | None = None,
    low_res: Sequence[int] = (),
    batch_size: int = 4,
    layout: str = "auto",
    device: str | torch.device | None = None,
    num_workers: int = 0,
    progress: bool = False,
    limit: int | None = None,
) -> EvalReport:
    """Score ``model`` on a dataset split.

    Args:
        model: an FP-LIIF (or baseline) model; ``model(images, size=(H, W))`` gives ``B x K x H x W`` logits.
        data: a dataset folder, or a dataset whose items hold ``image`` at ``size`` and ``mask`` at
            ``output_size`` (as ``open_dataset(..., size=size, mask_size=output_size)`` gives).
        split: the split to score (``"val"``; ``None`` for every sample).
        size: the network input side ``S``.
        output_size: also score the output queried at this side (the paper's 512 rows).
        low_res: output sides scored after upsampling their logits to ``S`` (the paper's ``64->256`` rows).
        batch_size, num_workers: data loading.
        layout: the dataset layout when ``data`` is a folder.
        device: where the model runs, as for :func:`fpliif.device.resolve_device` (default: the model's own).
        progress: show a progress bar on stderr.
        limit: score only the first ``limit`` samples (a quick check, not a result to report).
    """
    from .data import open_dataset

    names = list(model.cfg.label_names)
    out = output_size or size
    if isinstance(data, Dataset):
        dataset = data
    else:
        dataset = open_dataset(data, split=split, size=size, mask_size=out, label_names=names, layout=layout)
        if out != size:  # the input-size rows against masks resized once from their own size, not twice via `out`
            dataset = _WithMaskAtInputSize(dataset, open_dataset(
                data, split=split, size=size, label_names=names, layout=layout))
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    dtype = next(model.parameters()).dtype
    # label -> (output side, upsampled to S and scored at S?)
    settings = {str(size): (size, True), **({str(out): (out, False)} if out != size else {}),
                **{f"{r}->{size}": (r, True) for r in low_res}}
    matrices = {label: ConfusionMatrix(len(names)) for label in settings}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    for batch in _progress(loader, progress, len(dataset)):
        state = model.encode(batch["image"].to(device, dtype))
        gt_out = batch["mask"]
        if out == size:
            gt = gt_out
        else:
            gt = batch["mask_at_input_size"] if "mask_at_input_size" in batch else _nearest(gt_out, size)
        for label, (side, at_input_size) in settings.items():
            logits = predict_logits(model, state, side)
            if at_input_size and side != size:
                logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
            matrices[label].update(logits.argmax(1).cpu(), gt if at_input_size else gt_out)
    ignore = [names.index("background")] if "background" in names else []
    rows = {label: m.scores(names, ignore) for label, m in matrices.items()}
    return EvalReport(rows, data=str(data) if not isinstance(data, Dataset) else type(data).__name__,
                      split=split, num_images=len(dataset), input_size=size)


class _WithMaskAtInputSize(Dataset):
    """Items of ``dataset`` (masks at the output size) with ``mask_at_input_size`` from ``at_input_size``."""

    def __init__(self, dataset: Dataset, at_input_size: Dataset):
        self.dataset, self.at_input_size = dataset, at_input_size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        return {**self.dataset[index], "mask_at_input_size": self.at_input_size[index]["mask"]}


def _nearest(mask: torch.Tensor, side: int) -> torch.Tensor:
    """``B x H x W`` label maps resized nearest (pixel centres, as PIL's NEAREST) to ``side``."""
    return F.interpolate(mask[:, None].float(), size=(side, side), mode="nearest-exact")[:, 0].long()


def _progress(loader: DataLoader, enabled: bool, total: int):
    if not enabled:
        yield from loader
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="img", desc="eval", dynamic_ncols=True) as bar:
        for batch in loader:
            yield batch
            bar.update(len(batch["id"]))
