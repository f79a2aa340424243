"""Face-parsing metrics as the paper reports them: per-class F1 and IoU, mean F1 and mIoU.

Counts are accumulated over the whole evaluation set in one confusion matrix (not averaged per image). The
means skip the background and every class absent from both the ground truth and the predictions of the whole
set (shown as n/a). Ground-truth values of K and above, such as ``IGNORE`` (255) and ``NOT_ANNOTATED``
(254) from :mod:`fpliif.labels`, are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["ConfusionMatrix", "Scores", "scores_from_confusion", "scores_table"]


class ConfusionMatrix:
    """A ``K x K`` matrix of pixel counts, rows = ground truth, columns = prediction."""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        """Add ``prediction`` and ``target`` (same shape, int class ids); target values >= K are skipped."""
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ in shape")
        k = self.num_classes
        keep = (target >= 0) & (target < k)
        pairs = target[keep].long().cpu() * k + prediction[keep].long().cpu().clamp(0, k - 1)
        self.matrix += torch.bincount(pairs, minlength=k * k).view(k, k)

    def scores(self, names: Sequence[str] | None = None, ignore: Sequence[int] = (0,)) -> Scores:
        return scores_from_confusion(self.matrix, names, ignore)


@dataclass
class Scores:
    """Per-class and mean scores; ``None`` marks a class absent from ground truth and predictions."""

    names: list[str]
    f1: list[float | None]
    iou: list[float | None]
    mean_f1: float
    mean_iou: float
    pixels: list[int]  # ground-truth pixels per class
    ignored: list[int]  # classes left out of the means (the background)

    def to_dict(self) -> dict:
        return {
            "mean_f1": self.mean_f1, "miou": self.mean_iou,
            "f1": dict(zip(self.names, self.f1)), "iou": dict(zip(self.names, self.iou)),
            "pixels": dict(zip(self.names, self.pixels)), "ignored": [self.names[i] for i in self.ignored],
        }


def scores_from_confusion(matrix: torch.Tensor, names: Sequence[str] | None = None,
                          ignore: Sequence[int] = (0,)) -> Scores:
    """F1 = 2TP / (2TP + FP + FN) and IoU = TP / (TP + FP + FN) per class from a ``K x K`` confusion matrix."""
    m = matrix.double()
    tp = m.diag()
    fp, fn = m.sum(0) - tp, m.sum(1) - tp
    present = (tp + fp + fn) > 0
    f1 = torch.where(present, 2 * tp / (2 * tp + fp + fn).clamp(min=1), torch.zeros_like(tp))
    iou = torch.where(present, tp / (tp + fp + fn).clamp(min=1), torch.zeros_like(tp))
    counted = present.clone()
    counted[list(ignore)] = False
    k = len(tp)
    names = list(names) if names is not None else [str(i) for i in range(k)]
    mean = (lambda v: float(v[counted].mean()) if counted.any() else float("nan"))
    return Scores(
        names=names,
        f1=[float(f) if p else None for f, p in zip(f1, present)],
        iou=[float(x) if p else None for x, p in zip(iou, present)],
        mean_f1=mean(f1), mean_iou=mean(iou),
        pixels=[int(n) for n in m.sum(1)], ignored=sorted(ignore),
    )


def scores_table(rows: dict[str, Scores], markdown: bool = False, digits: int = 1) -> str:
    """A table in percent: one row per class (the ignored background left out), then mean F1 and mIoU; two
    columns (F1, IoU) per setting such as ``256``, ``512`` or ``64->256`` (or ``val``).

    Args:
        rows: scores per setting, all over the same classes.
        markdown: a Markdown table (for logs and model cards) instead of aligned plain text.
        digits: decimals of the per-class scores; the means get one more.
    """
    first = next(iter(rows.values()))
    classes = [n for i, n in enumerate(first.names) if i not in first.ignored]
    head = ["class"] + [f"{kind} {label}" for label in rows for kind in ("F1", "IoU")]
    lines = [head]
    for n in classes:
        cells = []
        for s in rows.values():
            i = s.names.index(n)
            cells += [_percent(s.f1[i], digits), _percent(s.iou[i], digits)]
        lines.append([n, *cells])
    lines.append(["mean (F1, mIoU)"] + [c for s in rows.values() for c in (_percent(s.mean_f1, digits + 1),
                                                                          _percent(s.mean_iou, digits + 1))])
    if markdown:
        rule = ["---"] + ["---:"] * (len(head) - 1)
        return "\n".join("| " + " | ".join(row) + " |" for row in [head, rule, *lines[1:]])
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))
                     for row in lines)


def _percent(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.{digits}f}"
