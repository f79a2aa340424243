"""What a user sees during training: a progress bar, ``train.log`` and PNG plots in the run folder.

Only rank 0 writes. The bar shows loss, images/s and the learning rate; when stderr is not a terminal (a job
log), the bar is off and a log line every ``log_every`` steps takes its place. The report keeps no state of the
run: the :class:`~fpliif.train.loop.Trainer` passes it the values to show.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm.auto import tqdm

from .plots import line_plot, prediction_grid
from .validate import validation_table

__all__ = ["RunReport"]


class RunReport:
    """Progress bar, log file and plots for one run folder."""

    def __init__(self, out_dir: Path, is_main: bool):
        self.out_dir, self.is_main = Path(out_dir), is_main
        self.interactive = sys.stderr.isatty()
        self.log = self._logger("console", to_stderr=not self.interactive)
        self.file_log = self._logger("file", to_stderr=False)

    def _logger(self, kind: str, to_stderr: bool) -> logging.Logger:
        log = logging.getLogger(f"fpliif.train.{kind}.{id(self)}")
        log.propagate = False
        log.setLevel(logging.INFO)
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
            handlers = [logging.FileHandler(self.out_dir / "train.log")]
            if to_stderr:
                handlers.append(logging.StreamHandler(sys.stderr))
            for handler in handlers:
                handler.setFormatter(fmt)
                log.addHandler(handler)
        return log

    def info(self, message: str) -> None:
        if not self.is_main:
            return
        if self.interactive:
            tqdm.write(message, file=sys.stderr)
        self.log.info(message)

    def start(self, lines: list[str], resumed_at: tuple[int, int]) -> None:
        for line in lines:
            self.info(line)
        step, epoch = resumed_at
        if step:
            self.info(f"resumed at step {step} (epoch {epoch})")

    def epoch_bar(self, epoch: int, epochs: int, total: int, done: int):
        return tqdm(total=total, initial=done, desc=f"epoch {epoch + 1}/{epochs}",
                    disable=not (self.is_main and self.interactive), leave=False, dynamic_ncols=True)

    def train_row(self, epoch: int, row: dict, images_per_second: float, bar) -> None:
        """A training log line: the mean loss of the steps since the last line, the last step's parts."""
        bar.set_postfix(loss=f"{row['loss']:.4f}", img_s=f"{images_per_second:.1f}", lr=f"{row['lr']:.2e}")
        if not self.is_main:
            return
        dice = f" dice {row['dice']:.4f}" if "dice" in row else ""
        self.log.info(f"epoch {epoch} step {row['step']} loss {row['loss']:.4f} (ce {row['ce']:.4f} "
                      f"edge {row['edge']:.4f}{dice}) lr {row['lr']:.2e} {images_per_second:.1f} img/s")

    def validation(self, result: dict, model_cfg, seconds: float, samples: list, improved: bool) -> None:
        if not self.is_main:
            return
        mark = " (best so far: saved to best/)" if improved else ""
        self.info(f"epoch {result['epoch']} val mean F1 {result['mean_f1']:.4f} mIoU {result['miou']:.4f} "
                  f"loss {result['val_loss']:.4f} [{seconds:.0f}s]{mark}")
        self.file_log.info("\n" + validation_table(result, model_cfg.label_names))
        colors = model_cfg.labels.colors
        prediction_grid(samples, colors, self.out_dir / "val_predictions.png")

    def plots(self, history: dict) -> None:
        if not self.is_main:
            return
        train = history["train"]
        line_plot({"loss": [(r["step"], r["loss"]) for r in train], "ce": [(r["step"], r["ce"]) for r in train]},
                  self.out_dir / "loss.png", "training loss")
        val = history["val"]
        if val:
            line_plot({"mean F1": [(r["epoch"], r["mean_f1"]) for r in val],
                       "mIoU": [(r["epoch"], r["miou"]) for r in val]},
                      self.out_dir / "val.png", "validation (background ignored)", xlabel="epoch")
