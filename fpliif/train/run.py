"""The training entry point: a :class:`TrainConfig` in, a trained run folder out. ``fpliif train`` calls it.

>>> from fpliif.train import TrainConfig, train
>>> train(TrainConfig(data=["pack/celebamask-mini"], model="fpliif", input_size=128, label_size=256), "runs/r1")
>>> train(resume="runs/r1", overrides={"max_minutes": 9})      # continue exactly where it stopped

Reading order: :func:`train` -> :func:`build_trainer` (config from the arguments or the checkpoint, then the
model from :func:`make_model` and the data from :func:`open_datasets`) -> :meth:`Trainer.fit`.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import load_checkpoint, resolve_checkpoint
from .config import RESUMABLE, TrainConfig
from .distributed import DistInfo, init_distributed, shutdown_distributed
from .loop import Trainer

__all__ = ["train", "build_trainer", "make_model", "open_datasets", "SKIPPED_NAME"]

SKIPPED_NAME = "skipped_samples.txt"


def train(config: TrainConfig | None = None, out_dir: str | Path | None = None, *, resume: str | Path | None = None,
          overrides: dict | None = None) -> dict:
    """Train a face parser as ``config`` says (or continue the run ``resume``); returns :meth:`Trainer.fit`'s
    summary. Runs as one process, or as one of several under ``torchrun``."""
    overrides = dict(overrides or {})
    device = overrides.get("device") or (config.device if config is not None else "auto")
    dist = init_distributed(device)
    try:
        return build_trainer(config, out_dir, resume=resume, overrides=overrides, dist=dist).fit()
    finally:
        shutdown_distributed()


def build_trainer(config: TrainConfig | None, out_dir: str | Path | None = None, *,
                  resume: str | Path | None = None, overrides: dict | None = None,
                  dist: DistInfo | None = None) -> Trainer:
    """The :class:`Trainer` of a new run (``config``) or of a saved one (``resume``: a run folder or a ``.pt``)."""
    overrides = dict(overrides or {})
    state = None
    if resume is not None:
        path = resolve_checkpoint(resume)
        state = load_checkpoint(path)
        if "train_config" not in state:
            raise ValueError(f"{path} was written by an older fpliif (no training config inside); resume it with "
                             "the fpliif version that started it")
        saved = TrainConfig.from_dict(state["train_config"])
        fixed = sorted(k for k, v in overrides.items() if k not in RESUMABLE and getattr(saved, k) != v)
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change when a run is resumed (only {', '.join(RESUMABLE)});"
                             " start a new run, e.g. with --init from this run's best/ folder")
        cfg = replace(saved, max_minutes=0.0, max_steps=0,  # a budget is for one invocation
                      **{k: v for k, v in overrides.items() if k in RESUMABLE})
        out = Path(out_dir) if out_dir else path.parent
    else:
        if config is None:
            raise ValueError("give a training config (at least --data), or resume=RUN_DIR to continue a run")
        cfg = replace(config, **overrides)
        if not cfg.data:
            raise ValueError("give --data PATH (a training set), or --resume RUN_DIR to continue a run")
        absolute = lambda p: str(Path(p).expanduser().resolve()) if p else p  # resume works from any folder
        cfg = replace(cfg, data=[absolute(p) for p in cfg.data], val_data=absolute(cfg.val_data))
        if not cfg.data_note:
            cfg.data_note = (f"Trained with `fpliif train` on {', '.join(Path(p).name for p in cfg.data)}; "
                             f"validated on the val split of {Path(cfg.val_data or cfg.data[0]).name}.")
        out = Path(out_dir) if out_dir else Path("runs") / f"{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    model = make_model(cfg, state)
    skipped: list[str] = []
    train_set, val_set = open_datasets(cfg, model.cfg.label_names, skipped)
    trainer = Trainer(model, train_set, val_set, cfg, out, dist)
    if skipped:
        log_skipped(trainer, skipped)
    if state is not None:
        trainer.load_state_dict(state)
    return trainer


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_model(cfg: TrainConfig, state: dict | None = None) -> nn.Module:
    """The network to train: rebuilt from a checkpoint, started from published weights, or fresh."""
    from ..config import FPLIIFConfig
    from ..models.registry import build_model, create_model, list_models
    from .finetune import freeze_encoder, init_from_pretrained, parse_labels

    labels = parse_labels(cfg.labels) if cfg.labels else None
    if state is not None:
        model = build_model(FPLIIFConfig.from_dict(state["config"]))
    elif cfg.init:
        model, report = init_from_pretrained(cfg.init, labels.names if labels else None,
                                             labels.name if labels else None, input_size=cfg.input_size)
        if report["new"]:
            print(f"fpliif train: fine-tuning {cfg.init}: kept classifier rows {report['kept']}, "
                  f"new {report['new']}", file=sys.stderr)
    else:
        name = {"unet": "unet-baseline"}.get(cfg.model, cfg.model)
        if name not in list_models():
            raise ValueError(f"unknown model {cfg.model!r}; registered: {', '.join(list_models())} (or unet)")
        extra = dict(label_names=list(labels.names), label_set=labels.name) if labels else {}
        model = create_model(name, input_size=cfg.input_size, **extra)
    if cfg.freeze_encoder:
        freeze_encoder(model)
    return model.train()


def open_datasets(cfg: TrainConfig, label_names, skipped: list[str] | None = None) -> tuple:
    """The concatenated training sets and the validation set (``None`` when there is none).

    Every sample is checked as ``fpliif check-data`` checks it (:func:`fpliif.data.check.drop_bad_samples`): a
    problem stops here, naming the file, or with ``cfg.skip_bad_samples`` the sample is left out and its problem
    appended to ``skipped``.
    """
    from ..data import open_dataset
    from ..data.check import drop_bad_samples
    from .loaders import concat_datasets

    skipped = [] if skipped is None else skipped
    sizes = dict(size=cfg.input_size, mask_size=cfg.mask_size, label_names=label_names, layout=cfg.layout)
    train_sets = [open_dataset(p, split="train", augment=cfg.augment, **sizes) for p in cfg.data]
    for dataset, path in zip(train_sets, cfg.data):
        skipped += drop_bad_samples(dataset, path, "train", cfg.skip_bad_samples)
    val_path = cfg.val_data or cfg.data[0]
    try:
        val = open_dataset(val_path, split="val", augment=False, **sizes)
    except ValueError as e:
        print(f"fpliif train: no validation ({e}); pass --val-data to validate", file=sys.stderr)
        val = None
    if val is not None:
        skipped += drop_bad_samples(val, val_path, "val", cfg.skip_bad_samples)
        check_disjoint(train_sets, cfg.data, val, val_path)
    return concat_datasets(train_sets), val


def log_skipped(trainer: Trainer, skipped: list[str]) -> None:
    """List the samples ``--skip-bad-samples`` left out in ``RUN/skipped_samples.txt`` and say so in the log."""
    if trainer.dist.is_main:
        (trainer.out_dir / SKIPPED_NAME).write_text("\n".join(skipped) + "\n")
    shown = "; ".join(skipped[:3]) + (f"; ... ({len(skipped) - 3} more)" if len(skipped) > 3 else "")
    trainer.report.info(f"--skip-bad-samples: left out {len(skipped)} sample(s) with problems, listed in "
                        f"{trainer.out_dir / SKIPPED_NAME}: {shown}")


def check_disjoint(train_sets: list, train_paths: list, val, val_path) -> None:
    """Refuse to validate on images that are also trained on (a layout without a split file gives them all)."""
    val_ids = {s.id for s in getattr(val, "samples", [])}
    for ds, path in zip(train_sets, train_paths):
        if Path(path).resolve() != Path(val_path).resolve():
            continue
        shared = val_ids & {s.id for s in getattr(ds, "samples", [])}
        if shared:
            raise ValueError(
                f"{path} gives the same {len(shared)} images for its train and val splits (no split file?); "
                "pass a separate --val-data folder so the model is never trained on its validation set"
            )
