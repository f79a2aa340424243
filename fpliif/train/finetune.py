"""Fine-tuning from published weights, also onto a different label set.

Every tensor whose name and shape match is copied. The classifier (the decoder MLP's last layer, or a model's
last layer with one output per class) is copied row by row for labels with the same name; rows of new labels
keep their fresh initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from ..labels import LabelSet, get_label_set
from ..models.registry import build_model

__all__ = ["parse_labels", "transfer_weights", "init_from_pretrained", "freeze_encoder"]


def parse_labels(spec: str) -> LabelSet:
    """``--labels``: a built-in set name (``lapa``, ``celebamask-hq``, ``helen``) or comma-separated names.

    A custom list must start with the background class.
    """
    spec = spec.strip()
    if "," not in spec:
        return get_label_set(spec)
    names = [n.strip().lower().replace(" ", "_").replace("-", "_") for n in spec.split(",") if n.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"--labels needs at least two distinct names, got {spec!r}")
    return LabelSet.from_names(names)


def _classifier_keys(model: nn.Module) -> list[str]:
    """Names of the classifier's tensors: the last weight and bias whose first dimension is the class count."""
    k = model.cfg.num_classes
    keys = [name for name, p in model.named_parameters() if p.dim() >= 1 and p.shape[0] == k]
    weights = [n for n in keys if n.endswith("weight")]
    if not weights:
        raise ValueError(f"cannot find a classifier layer with {k} outputs in {type(model).__name__}")
    last = weights[-1].rsplit(".", 1)[0]
    return [n for n in keys if n.rsplit(".", 1)[0] == last]


@torch.no_grad()
def transfer_weights(source: nn.Module, target: nn.Module) -> dict[str, list[str]]:
    """Copy ``source``'s weights into ``target``; classifier rows are matched by label name.

    Returns:
        ``{"kept": [...labels copied], "new": [...labels initialised], "skipped": [...tensors not copied]}``.
    """
    src_names, dst_names = list(source.cfg.label_names), list(target.cfg.label_names)
    src_state, dst_state = source.state_dict(), target.state_dict()
    head = set(_classifier_keys(target))
    skipped = []
    for name, value in dst_state.items():
        if name in head:
            continue
        if name in src_state and src_state[name].shape == value.shape:
            value.copy_(src_state[name])
        else:
            skipped.append(name)
    pairs = [(dst_names.index(n), src_names.index(n)) for n in dst_names if n in src_names]
    for name in head:
        if name not in src_state or src_state[name].shape[1:] != dst_state[name].shape[1:]:
            skipped.append(name)
            continue
        for d, s in pairs:
            dst_state[name][d].copy_(src_state[name][s])
    kept = [dst_names[d] for d, _ in pairs]
    return {"kept": kept, "new": [n for n in dst_names if n not in kept], "skipped": sorted(skipped)}


def init_from_pretrained(name_or_path: str, label_names: Sequence[str] | None = None,
                         label_set: str | None = None, input_size: int | None = None) -> tuple[nn.Module, dict]:
    """A model built from published weights (pretrained name, folder or Hub repo), for a new label set and input
    size if given (the network's weights do not depend on the input size).

    Returns:
        ``(model, report)`` with ``report`` from :func:`transfer_weights` (empty lists when labels are unchanged).
    """
    from ..hub import from_pretrained

    source = from_pretrained(name_or_path, device="cpu")
    if input_size is not None:
        source.cfg = replace(source.cfg, input_size=input_size)  # checks the size against the encoder's stride
    if label_names is None or list(label_names) == list(source.cfg.label_names):
        source.train()
        return source, {"kept": list(source.cfg.label_names), "new": [], "skipped": []}
    cfg = replace(source.cfg, label_names=list(label_names), label_set=label_set or "custom")
    target = build_model(cfg)
    report = transfer_weights(source, target)
    return target, report


def freeze_encoder(model: nn.Module) -> int:
    """Stop gradients into ``model.encoder``; returns how many parameters were frozen."""
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        raise ValueError(f"--freeze-encoder: {type(model).__name__} has no 'encoder' to freeze")
    n = 0
    for p in encoder.parameters():
        p.requires_grad_(False)
        n += p.numel()
    return n
