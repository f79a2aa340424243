"""Validation during training: counts accumulated over the whole set, F1 and IoU per class, background ignored.

The scores come from :mod:`fpliif.metrics`, the same as ``fpliif eval`` (:func:`fpliif.evaluate.evaluate`), which
scores a saved model on a dataset; this scores the model being trained on the loader it already has.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..metrics import ConfusionMatrix, Scores, scores_table
from .losses import parsing_loss

__all__ = ["validate", "validation_table", "scores_of"]


@torch.no_grad()
def validate(model: nn.Module, loader, device: torch.device, num_classes: int, temperature: float,
             lambda_edge: float, autocast=contextlib.nullcontext, keep: int = 0) -> tuple[dict, list]:
    """Run ``model`` over ``loader`` at each mask's size; returns (scores + ``val_loss``, first ``keep`` samples).

    The kept samples are ``(image 3xHxW, mask HxW, prediction HxW)`` CPU tensors for the preview grid.
    """
    was_training = model.training
    model.eval()
    cm = ConfusionMatrix(num_classes)
    loss_sum, batches, kept = 0.0, 0, []
    for batch in loader:
        images = batch["image"].to(device, non_blocking=True)
        mask = batch["mask"].to(device, non_blocking=True)
        with autocast():
            logits = model(images, size=tuple(mask.shape[-2:]))
        logits = logits.float()
        loss = parsing_loss(logits, mask, batch["annotated"].to(device), temperature, lambda_edge)["loss"]
        loss_sum, batches = loss_sum + float(loss), batches + 1
        pred = logits.argmax(1)
        cm.update(pred, mask)
        for i in range(min(keep - len(kept), len(images))):
            kept.append((images[i].float().cpu(), mask[i].cpu(), pred[i].cpu()))
    model.train(was_training)
    s = cm.scores()
    result = {"f1": s.f1, "iou": s.iou, "mean_f1": s.mean_f1, "miou": s.mean_iou, "pixels": s.pixels}
    result["val_loss"] = loss_sum / max(1, batches)
    return result, kept


def validation_table(result: dict, label_names: list[str]) -> str:
    """A markdown table: F1 and IoU per class (percent), then the means (background ignored)."""
    return scores_table({"val": scores_of(result, label_names)}, markdown=True, digits=2)


def scores_of(result: dict, label_names: list[str]) -> Scores:
    """A :func:`validate` result as :class:`fpliif.metrics.Scores` (background ignored, as in its means)."""
    return Scores(list(label_names), list(result["f1"]), list(result["iou"]), result["mean_f1"], result["miou"],
                  list(result["pixels"]), [0])
