"""The training config: one dataclass that defines a run, saved as ``RUN/train_config.json`` and in every
checkpoint, so a run can be read, repeated (``fpliif train --config RUN/train_config.json``) and resumed."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..data.augment import AUGMENTATIONS
from .schedule import SCHEDULES

__all__ = ["TrainConfig", "AMP_MODES", "RESUMABLE", "CONFIG_NAME", "FLAGS"]

AMP_MODES = ("auto", "bf16", "off")
FLAGS = {"input_size": "size"}  # fields whose command-line flag has another name
CONFIG_NAME = "train_config.json"
# Fields that may change when a run is resumed; the rest define the run. The learning-rate schedule is a
# function of the step, so a new schedule takes effect from the step the run resumes at (a constant-rate run
# can end in a cosine decay, say).
RESUMABLE = ("max_minutes", "max_steps", "workers", "threads", "device", "epochs", "log_every", "val_every",
             "schedule", "lr", "decay_epochs", "warmup_epochs", "checkpoint_minutes")


@dataclass
class TrainConfig:
    """How to train. Defaults follow the paper (section 4.2) where it says, and our measurements where not."""

    # --- data
    data: list[str] = field(default_factory=list)  # training set folders, concatenated
    val_data: str | None = None  # default: the val split of the first data folder
    layout: str = "auto"  # dataset layout of every folder (see fpliif.data.layouts)
    input_size: int = 256  # network input side
    label_size: int | None = None  # side of the label maps the loss sees; None = input_size
    augment: str = "face"  # "face", "paper" or "none" (fpliif.data.augment)
    # Samples that fpliif check-data flags (no mask, class ids out of range, a mask of another size) stop the run;
    # True trains without them and lists them in RUN/skipped_samples.txt.
    skip_bad_samples: bool = False
    # --- model
    model: str = "fpliif"  # registered architecture
    init: str | None = None  # start from published weights (folder, pretrained name or Hub repo)
    labels: str | None = None  # label set name or comma-separated names (default: the model's / dataset's)
    freeze_encoder: bool = False
    # --- optimisation
    epochs: int = 100
    batch_size: int = 8
    lr: float = 5e-4  # paper: Adam, 5e-4
    schedule: str = "step"  # the paper's x0.1 every decay_epochs; "cosine" and "constant" too
    warmup_epochs: float = 1.0  # cosine and constant only
    decay_epochs: int = 20
    gamma: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # max gradient norm; 0 turns it off
    lambda_edge: float = 10.0  # paper: 10 CelebAMask-HQ, 40 LaPa
    lambda_dice: float = 0.0  # soft Dice over the classes in a batch (fpliif.train.losses.dice_loss); 0 = paper
    sample_points: int = 0  # queries per image (half on edges); 0 = the full label grid, as in the paper
    ema: bool = False
    ema_decay: float = 0.999
    amp: str = "auto"  # "auto" = bf16 autocast where it is fast (CUDA, CPUs with AVX-512 BF16 or AMX)
    seed: int = 0
    # --- run
    device: str = "auto"
    workers: int = -1  # data-loader processes; -1 = the cores per process minus one, up to 8
    threads: int = 0  # torch CPU threads per process; 0 = torch's choice. Kept by --resume, as workers is
    val_every: int = 1  # epochs between validations
    val_batch_size: int = 0  # 0 = batch_size
    max_steps: int = 0  # stop (checkpointed, resumable) when the global step reaches this; 0 = no limit
    max_minutes: float = 0.0  # stop (checkpointed, resumable) before this much wall time; 0 = no limit
    checkpoint_minutes: float = 10.0  # also write last.pt this often within an epoch: a crash loses at most this
    log_every: int = 10
    preview_images: int = 4  # val images in the prediction grid
    # --- model card
    data_note: str = ""  # what the card says about the training data (default: the folder names)
    licence: str = "other"

    def __post_init__(self) -> None:
        self.data = [str(p) for p in self.data]
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.augment not in (*AUGMENTATIONS, "none"):
            raise ValueError(f"augment must be one of {', '.join([*AUGMENTATIONS, 'none'])}, got {self.augment!r}")
        for name in ("epochs", "batch_size", "input_size", "val_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.label_size is not None and self.label_size < 1:
            raise ValueError(f"label_size must be >= 1, got {self.label_size}")
        for name in ("lr", "ema_decay"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("lambda_edge", "lambda_dice", "weight_decay", "grad_clip"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.workers < -1 or min(self.sample_points, self.max_steps, self.max_minutes, self.threads) < 0:
            raise ValueError("sample_points, max_steps, max_minutes and threads must be >= 0, workers >= -1 (auto)")
        if not self.checkpoint_minutes >= 0:
            raise ValueError(f"checkpoint_minutes must be >= 0 (0: only at epoch ends), got {self.checkpoint_minutes}")

    def command(self) -> str:
        """The ``fpliif train`` command line that starts this run (fields left at their defaults are omitted)."""
        parts, default = ["fpliif", "train"], TrainConfig()
        for f in fields(self):
            value = getattr(self, f.name)
            machine = ("max_steps", "max_minutes", "workers", "threads", "device", "data_note", "checkpoint_minutes")
            if f.name in machine or value == getattr(default, f.name):
                continue
            flag = "--" + FLAGS.get(f.name, f.name).replace("_", "-")
            for v in value if isinstance(value, list) else [value]:
                parts += [flag] if v is True else [flag, shlex.quote(_shorter_path(v))]
        return " ".join(parts)

    @property
    def mask_size(self) -> int:
        """The label maps' side: ``label_size``, or the input size."""
        return self.label_size or self.input_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"training config has unknown keys {unknown}; names are those of `fpliif train --help`"
                             " with - as _ (input_size for --size)")
        return cls(**d)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_NAME
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError as e:
            raise FileNotFoundError(f"no training config at {path}; give a {CONFIG_NAME} from a run folder") from e
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e})") from e


def _shorter_path(value) -> str:
    """A value for the command line: paths under the working folder relative to it."""
    text = str(value)
    path = Path(text)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return text
