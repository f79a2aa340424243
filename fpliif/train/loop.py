"""The training loop: one explicit ``fit`` with small helpers, checkpointed and resumable bit-for-bit.

Reading order: :class:`Trainer.__init__` builds the optimiser, schedule, EMA and loaders;
:meth:`Trainer.fit` runs epochs of :meth:`Trainer.train_step`, validates, saves the best weights and writes
``last.pt`` after each epoch, every ``checkpoint_minutes`` within an epoch, and whenever a ``max_steps`` /
``max_minutes`` budget stops the run early. The
trainer owns the history and the timings; :class:`RunReport` only shows and plots the values it is given.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .distributed import DistInfo, ShardedSampler, seed_for
from .ema import weight_ema
from .loaders import SeededItems, train_loader, val_loader
from .losses import label_edges, parsing_loss
from .report import RunReport
from .sampling import sample_queries
from .schedule import LRSchedule
from .validate import validate

__all__ = ["Trainer", "ParsingNet", "bf16_is_fast"]


class ParsingNet(nn.Module):
    """What DDP wraps: logits on the mask's grid, or at sampled ``coords`` for models with ``encode``/``query``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, size: tuple[int, int], coords: torch.Tensor | None = None):
        if coords is None:
            return self.model(images, size=size)  # B x K x H x W
        return self.model.query(self.model.encode(images), coords).transpose(1, 2)  # B x K x N


class Trainer:
    """Trains ``model`` on ``train_set``, validating on ``val_set``, writing everything under ``out_dir``.

    Args:
        model: any network with ``forward(images, size) -> B x K x H x W`` logits and a ``cfg``.
        train_set, val_set: datasets of item dicts (``val_set`` may be ``None``).
        cfg: the :class:`TrainConfig` (its optimisation and run fields are used here).
        out_dir: the run folder (``last.pt``, ``best/``, ``final/``, ``train.log``, plots).
        dist: this process's place in a ``torchrun`` job (default: one process on the CPU).
    """

    def __init__(self, model: nn.Module, train_set, val_set, cfg: TrainConfig, out_dir: str | Path,
                 dist: DistInfo | None = None):
        self.tc, self.dist = cfg, dist or DistInfo()
        self.out_dir = Path(out_dir)
        self.device = self.dist.device
        # steps run under bf16 autocast with --amp bf16, or auto where bf16 is fast here (decided once)
        self.uses_bf16 = self.tc.amp == "bf16" or (self.tc.amp == "auto" and bf16_is_fast(self.device))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.model = model.to(self.device)
        self.cfg = model.cfg
        self.use_points = cfg.sample_points > 0 and hasattr(model, "encode") and hasattr(model, "query")
        self.net = self._wrap(ParsingNet(self.model))
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.ema = weight_ema(self.model, cfg.ema_decay) if cfg.ema else None
        self._make_loaders(train_set, val_set)
        total = self.steps_per_epoch * cfg.epochs
        warmup = int(round(cfg.warmup_epochs * self.steps_per_epoch)) if cfg.schedule != "step" else 0
        self.schedule = LRSchedule(cfg.schedule, cfg.lr, total, self.steps_per_epoch, warmup,
                                   cfg.decay_epochs, cfg.gamma)
        self.step, self.epoch, self.best = 0, 0, {"mean_f1": -1.0, "epoch": -1}
        self.history: dict[str, list] = {"train": [], "val": []}
        self.timing = {"step_seconds": 0.0, "val_seconds": 0.0}  # moving average of a step; the last validation
        self.report = RunReport(self.out_dir, self.dist.is_main)

    # ----------------------------------------------------------------------------------------- setup
    def _wrap(self, net: nn.Module) -> nn.Module:
        if not self.dist.distributed:
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids)

    def _make_loaders(self, train_set, val_set) -> None:
        c, d = self.tc, self.dist
        pin = self.device.type == "cuda"
        k = self.cfg.num_classes
        self.sampler = ShardedSampler(len(train_set), c.seed, d.rank, d.world_size)
        self.steps_per_epoch = self.sampler.per_rank // c.batch_size
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"batch size {c.batch_size} is larger than the {self.sampler.per_rank} training images per "
                f"process; lower --batch-size"
            )
        workers = c.workers if c.workers >= 0 else auto_workers(d.world_size)
        self.loader = train_loader(SeededItems(train_set, c.seed, k), self.sampler, c.batch_size, workers, pin)
        self.val_loader = None
        if val_set is not None and len(val_set) > 0 and d.is_main:
            self.val_loader = val_loader(val_set, c.val_batch_size or c.batch_size, k, workers, pin)

    def autocast(self):
        if self.uses_bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def precision(self) -> str:
        """``--amp`` and what it chose, for the log: ``auto`` says why it kept fp32."""
        chosen = "bf16 autocast" if self.uses_bf16 else "fp32"
        if self.tc.amp == "auto" and not self.uses_bf16:
            why = "no AVX-512 BF16 or AMX on this CPU" if self.device.type == "cpu" else "no bf16 on this device"
            chosen = f"fp32: {why}"
        return f"{self.tc.amp} ({chosen})"

    # ----------------------------------------------------------------------------------------- step
    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimiser step on one batch; returns the loss parts as floats."""
        lr = self.schedule.apply(self.optimizer, self.step)
        images = batch["image"].to(self.device, non_blocking=True)
        mask = batch["mask"].to(self.device, non_blocking=True)
        annotated = batch["annotated"].to(self.device, non_blocking=True)
        edges = label_edges(mask)
        with self.autocast():
            if self.use_points:
                g = torch.Generator().manual_seed(seed_for(self.tc.seed, self.step, self.dist.rank, 7))
                q = sample_queries(mask, edges, self.tc.sample_points, g)
                logits = self.net(images, tuple(mask.shape[-2:]), q.coords)
                mask, edges, weight = q.mask, q.edges, q.weight
            else:
                logits, weight = self.net(images, tuple(mask.shape[-2:])), None
        losses = parsing_loss(logits.float(), mask, annotated, self.cfg.temperature, self.tc.lambda_edge,
                              edges, weight, self.tc.lambda_dice)
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if self.tc.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        parts = {k: float(v.detach()) for k, v in losses.items()}
        if not math.isfinite(parts["loss"]):
            raise ValueError(
                f"the loss became {parts['loss']} at step {self.step}; lower --lr, set --grad-clip 1 or --amp off, "
                f"and continue from the last good checkpoint with --resume {self.out_dir}"
            )
        return {**parts, "lr": lr}

    # ----------------------------------------------------------------------------------------- loop
    def fit(self) -> dict:
        """Train until ``epochs`` (or the step/time budget); returns a summary dict."""
        c = self.tc
        self.save_config()
        self.report.start(self.describe(), resumed_at=(self.step, self.epoch))
        t0 = self._saved_at = time.monotonic()
        stopped = False
        while self.epoch < c.epochs and not stopped:
            done = self.step - self.epoch * self.steps_per_epoch
            self.sampler.set_epoch(self.epoch, done * c.batch_size)
            bar = self.report.epoch_bar(self.epoch, c.epochs, self.steps_per_epoch, done)
            last = window_start = time.monotonic()
            window, images = [], 0
            for batch in self.loader:
                if self._out_of_budget(t0):
                    stopped = True
                    break
                losses = self._guarded_step(batch)
                now = time.monotonic()  # a step's time includes waiting for the loader
                self._time_step(now - last)
                window.append(losses)
                images += len(batch["image"]) * self.dist.world_size
                bar.update(1)
                if self.step % c.log_every == 0 or self.step % self.steps_per_epoch == 0:
                    self._log_train(window, images / max(1e-9, now - window_start), bar)
                    window, images, window_start = [], 0, now
                if c.checkpoint_minutes and now - self._saved_at >= c.checkpoint_minutes * 60:
                    self.save()  # mid-epoch: a crash loses at most checkpoint_minutes of training
                last = now
            bar.close()
            if not stopped:
                self.epoch += 1
                self._end_epoch()
            self.save()
        if not stopped:
            self._finish()
        return self.summary(stopped)

    def _time_step(self, seconds: float) -> None:
        old = self.timing["step_seconds"]
        self.timing["step_seconds"] = seconds if not old else 0.9 * old + 0.1 * seconds

    def _log_train(self, window: list[dict], images_per_second: float, bar) -> None:
        row = {"step": self.step, "loss": sum(w["loss"] for w in window) / len(window),
               "ce": window[-1]["ce"], "edge": window[-1]["edge"], "lr": window[-1]["lr"]}
        if "dice" in window[-1]:
            row["dice"] = window[-1]["dice"]
        self.history["train"].append(row)
        self.report.train_row(self.epoch + 1, row, images_per_second, bar)

    def _guarded_step(self, batch: dict) -> dict[str, float]:
        try:
            return self.train_step(batch)
        except torch.OutOfMemoryError as e:
            raise ValueError(
                f"out of {self.device.type} memory at batch size {self.tc.batch_size} ({e}). The decoder keeps "
                "activations for every queried pixel: lower --batch-size, or query fewer pixels with "
                "--sample-points 16384"
            ) from e

    def _out_of_budget(self, t0: float) -> bool:
        """Whether to stop before the next step; every process takes rank 0's decision."""
        c = self.tc
        if c.max_steps and self.step >= c.max_steps:
            return True
        if not c.max_minutes:
            return False
        spare = 2 * self.timing["step_seconds"] + (self.timing["val_seconds"] if self._val_after_this_step() else 0)
        stop = time.monotonic() - t0 + spare > c.max_minutes * 60
        if self.dist.distributed:
            flag = torch.tensor([float(stop)], device=self.device)
            torch.distributed.broadcast(flag, src=0)
            stop = bool(flag.item())
        return stop

    def _val_after_this_step(self) -> bool:
        if (self.step + 1) % self.steps_per_epoch:
            return False
        return self._val_due((self.step + 1) // self.steps_per_epoch)

    def _val_due(self, epoch: int) -> bool:
        return self.val_loader is not None and (epoch % self.tc.val_every == 0 or epoch == self.tc.epochs)

    def _end_epoch(self) -> None:
        if not self._val_due(self.epoch):
            return
        tic = time.monotonic()
        result, samples = validate(self.eval_model(), self.val_loader, self.device, self.cfg.num_classes,
                                   self.cfg.temperature, self.tc.lambda_edge, self.autocast, self.tc.preview_images)
        self.timing["val_seconds"] = time.monotonic() - tic
        result.update(epoch=self.epoch, step=self.step)
        self.history["val"].append({k: result[k] for k in ("epoch", "step", "mean_f1", "miou", "val_loss")})
        improved = result["mean_f1"] > self.best["mean_f1"]
        if improved:
            self.best = {"mean_f1": result["mean_f1"], "epoch": self.epoch, "result": result}
            self.save_weights(self.out_dir / "best", result)
        self.report.validation(result, self.cfg, self.timing["val_seconds"], samples, improved)
        self.report.plots(self.history)

    def _finish(self) -> None:
        result = self.best.get("result") if self.best["epoch"] == self.epoch else None
        self.save_weights(self.out_dir / "final", result)
        self.report.plots(self.history)
        self.report.info(f"done: {self.step} steps; best val mean F1 {self.best['mean_f1']:.4f} at epoch "
                         f"{self.best['epoch']} -> {self.out_dir / 'best'}; last weights -> {self.out_dir / 'final'}")

    def summary(self, stopped: bool) -> dict:
        if stopped:
            self.report.plots(self.history)
            self.report.info(f"stopped at step {self.step} (budget); continue with --resume {self.out_dir}")
        return {"step": self.step, "epoch": self.epoch, "stopped": stopped,
                "best_mean_f1": self.best["mean_f1"], "best_epoch": self.best["epoch"]}

    def describe(self) -> list[str]:
        """The run in two lines, for the log."""
        c, n = self.tc, sum(p.numel() for p in self.model.parameters())
        lines = [f"run folder {self.out_dir}; model {self.cfg.model_type} ({n / 1e6:.2f} M parameters, "
                 f"{self.cfg.num_classes} classes) on {self.device} x{self.dist.world_size}",
                 f"{self.steps_per_epoch} steps/epoch of {c.batch_size} images per process; epochs {c.epochs}; "
                 f"lr {c.lr} ({c.schedule}); lambda_edge {c.lambda_edge}; lambda_dice {c.lambda_dice}; "
                 f"tau {self.cfg.temperature}; input {self.cfg.input_size} px, labels {c.mask_size} px; "
                 f"augment {c.augment}; query points {c.sample_points or 'full grid'}; ema {c.ema}; "
                 f"amp {self.precision()}"]
        if c.sample_points and not self.use_points:
            lines.append("this model has no encode/query methods: --sample-points ignored, training on the full grid")
        return lines

    # ----------------------------------------------------------------------------------------- outputs
    def eval_model(self) -> nn.Module:
        """The weights to validate and export: the EMA when it is on, else the trained model."""
        return self.ema.module if self.ema is not None else self.model

    def save_weights(self, directory: Path, result: dict | None) -> None:
        """``save_pretrained`` the eval model to ``directory`` with a model card holding the val table."""
        if not self.dist.is_main:
            return
        from ..card import model_card
        from ..hub import save_pretrained
        from .validate import validation_table

        metrics = ""
        if result is not None:
            metrics = (f"Validation after epoch {result['epoch']} (step {result['step']}), output at the label "
                       f"size ({self.tc.mask_size} px) from a {self.tc.input_size} px input, counts over the whole "
                       f"split, background ignored.\n\n" + validation_table(result, self.cfg.label_names))
        card = model_card(self.cfg, data=self.tc.data_note, licence=self.tc.licence, metrics=metrics,
                          command=self.tc.command())
        recipe = json.dumps(self.tc.to_dict(), indent=2) + "\n"  # fpliif train --config train_config.json
        save_pretrained(self.eval_model(), directory, card=card, extra={"train_config.json": recipe})

    def save_config(self) -> None:
        if self.dist.is_main:
            self.tc.save(self.out_dir)

    def state_dict(self) -> dict:
        return {
            "format": "fpliif-train-2",
            "config": self.cfg.to_dict(),
            "train_config": self.tc.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.dist.world_size,
            "rng": rng_state(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "best": {k: v for k, v in self.best.items() if k != "result"},
            "best_result": self.best.get("result"),
            "history": self.history,
            "timing": dict(self.timing),
        }

    def save(self) -> Path | None:
        """Write ``RUN_DIR/last.pt`` atomically (rank 0 only) and the metrics history as JSON."""
        self._saved_at = time.monotonic()
        if not self.dist.is_main:
            return None
        path = save_checkpoint(self.state_dict(), self.out_dir / CHECKPOINT_NAME)
        (self.out_dir / "metrics.json").write_text(json.dumps(_finite(self.history), indent=1) + "\n")
        return path

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint written by :meth:`save` (same data, batch size and process count)."""
        if state.get("steps_per_epoch") != self.steps_per_epoch:
            raise ValueError(
                f"the checkpoint has {state.get('steps_per_epoch')} steps per epoch but this run has "
                f"{self.steps_per_epoch}; resume with the same --data, --batch-size and number of processes"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise ValueError("--ema is on but the checkpoint was trained without it; resume without --ema")
            self.ema.load_state_dict(state["ema"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.best = dict(state["best"])
        if state.get("best_result") is not None:
            self.best["result"] = state["best_result"]
        self.history = state["history"]
        self.timing.update(state.get("timing") or {})
        set_rng_state(state["rng"])

    def resume(self, run_dir_or_ckpt: str | Path) -> None:
        self.load_state_dict(load_checkpoint(run_dir_or_ckpt))


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 autocast speeds training up on ``device``: CUDA with bf16 support, or a CPU with AVX-512 BF16
    or AMX instructions (measured on such a CPU: 2.5x faster than fp32; on AVX-512 without BF16 it is 2.2x
    *slower*, so ``--amp auto`` leaves it off there)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def auto_workers(world_size: int = 1) -> int:
    """Data-loader processes when ``workers`` is -1: the machine's cores shared by the local processes, up to 8."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(8, cores // max(1, world_size) - 1))


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
