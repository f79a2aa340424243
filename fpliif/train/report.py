"""What a user sees during training: a progress bar, ``train.log`` and PNG plots in the run folder.

Only rank 0 writes. The bar shows loss, images/s and the learning rate; when stderr is not a terminal (a job
log), the bar is off and a log line every ``log_every`` steps takes its place.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..labels import LabelSet
from .plots import line_plot, prediction_grid
from .validate import format_table

__all__ = ["RunReport"]


class RunReport:
    """Progress bar, log file and plots for one run folder."""

    def __init__(self, out_dir: Path, is_main: bool):
        self.out_dir, self.is_main = Path(out_dir), is_main
        self.step_seconds = 0.0  # moving average of one step's time, for the time budget
        self.val_seconds = 0.0
        self._window: list[float] = []
        self._images = 0
        self._tic = time.monotonic()
        self.log = logging.getLogger(f"fpliif.train.{id(self)}")
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        self.interactive = sys.stderr.isatty()
        self.file_log = logging.getLogger(f"fpliif.train.file.{id(self)}")
        self.file_log.propagate = False
        self.file_log.setLevel(logging.INFO)
        if is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
            handler = logging.FileHandler(self.out_dir / "train.log")
            handler.setFormatter(fmt)
            self.log.addHandler(handler)
            self.file_log.addHandler(handler)
            if not self.interactive:
                stream = logging.StreamHandler(sys.stderr)
                stream.setFormatter(fmt)
                self.log.addHandler(stream)

    def info(self, message: str) -> None:
        if not self.is_main:
            return
        if self.interactive:
            tqdm.write(message, file=sys.stderr)
        self.log.info(message)

    def start(self, trainer) -> None:
        n = sum(p.numel() for p in trainer.model.parameters())
        o = trainer.opts
        self.info(f"run folder {self.out_dir}; model {trainer.cfg.model_type} ({n / 1e6:.2f} M parameters, "
                  f"{trainer.cfg.num_classes} classes) on {trainer.device} x{trainer.dist.world_size}")
        self.info(f"{trainer.steps_per_epoch} steps/epoch of {o.batch_size} images per process; epochs {o.epochs}; "
                  f"lr {o.lr} ({o.schedule}); lambda_edge {o.lambda_edge}; tau {trainer.cfg.temperature}; "
                  f"query points {o.sample_points or 'full grid'}; ema {o.ema}; amp {o.amp}")
        if o.sample_points and not trainer.use_points:
            self.info("this model has no encode/query methods: --sample-points ignored, training on the full grid")
        if trainer.step:
            self.info(f"resumed at step {trainer.step} (epoch {trainer.epoch})")
        self._tic = time.monotonic()

    def epoch_bar(self, trainer, total: int, done: int):
        self._window, self._images, self._tic = [], 0, time.monotonic()
        return tqdm(total=total, initial=done, desc=f"epoch {trainer.epoch + 1}/{trainer.opts.epochs}",
                    disable=not (self.is_main and self.interactive), leave=False, dynamic_ncols=True)

    def step(self, trainer, bar, losses: dict, images: int, seconds: float) -> None:
        self.step_seconds = seconds if not self.step_seconds else 0.9 * self.step_seconds + 0.1 * seconds
        self._window.append(losses["loss"])
        self._images += images
        bar.update(1)
        if trainer.step % trainer.opts.log_every and trainer.step % trainer.steps_per_epoch:
            return
        rate = self._images / max(1e-9, time.monotonic() - self._tic)
        mean = sum(self._window) / len(self._window)
        trainer.history["train"].append({"step": trainer.step, "loss": mean, "ce": losses["ce"],
                                         "edge": losses["edge"], "lr": losses["lr"]})
        bar.set_postfix(loss=f"{mean:.4f}", img_s=f"{rate:.1f}", lr=f"{losses['lr']:.2e}")
        if not self.interactive and self.is_main:
            self.log.info(f"epoch {trainer.epoch + 1} step {trainer.step} loss {mean:.4f} (ce {losses['ce']:.4f} "
                          f"edge {losses['edge']:.4f}) lr {losses['lr']:.2e} {rate:.1f} img/s")
        elif self.is_main:
            self.log.info(f"step {trainer.step} loss {mean:.4f} {rate:.1f} img/s")
        self._window, self._images, self._tic = [], 0, time.monotonic()

    def validation(self, trainer, result: dict, samples: list, improved: bool) -> None:
        if not self.is_main:
            return
        mark = " (best so far: exported to best/)" if improved else ""
        self.info(f"epoch {trainer.epoch} val mean F1 {result['mean_f1']:.4f} mIoU {result['miou']:.4f} "
                  f"loss {result['val_loss']:.4f} [{self.val_seconds:.0f}s]{mark}")
        self.file_log.info("\n" + format_table(result, trainer.cfg.label_names))
        colors = LabelSet.from_names(trainer.cfg.label_names, trainer.cfg.label_set).colors
        prediction_grid(samples, colors, self.out_dir / "val_predictions.png")
        self.plots(trainer)

    def plots(self, trainer) -> None:
        if not self.is_main:
            return
        train = trainer.history["train"]
        line_plot({"loss": [(r["step"], r["loss"]) for r in train], "ce": [(r["step"], r["ce"]) for r in train]},
                  self.out_dir / "loss.png", "training loss")
        val = trainer.history["val"]
        if val:
            line_plot({"mean F1": [(r["epoch"], r["mean_f1"]) for r in val],
                       "mIoU": [(r["epoch"], r["miou"]) for r in val]},
                      self.out_dir / "val.png", "validation (background ignored)", xlabel="epoch")

    def finish(self, trainer) -> None:
        self.plots(trainer)
        best = trainer.best
        self.info(f"done: {trainer.step} steps; best val mean F1 {best['mean_f1']:.4f} at epoch {best['epoch']} "
                  f"-> {self.out_dir / 'best'}; last weights -> {self.out_dir / 'final'}")

    def summary(self, trainer, stopped: bool) -> dict:
        if stopped:
            self.plots(trainer)
            self.info(f"stopped at step {trainer.step} (budget); continue with --resume {self.out_dir}")
        return {"step": trainer.step, "epoch": trainer.epoch, "stopped": stopped,
                "best_mean_f1": trainer.best["mean_f1"], "best_epoch": trainer.best["epoch"]}
