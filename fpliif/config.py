"""Model configuration: one dataclass, saved as ``config.json`` beside the weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .labels import CELEBAMASK_HQ, LabelSet, label_set_for

__all__ = ["FPLIIFConfig"]

CONFIG_NAME = "config.json"


@dataclass
class FPLIIFConfig:
    """Everything needed to rebuild an FP-LIIF network and use it on new images.

    The defaults are the paper's network (Sarkar et al., CVPR 2023, section 3) for the 19
    CelebAMask-HQ classes: about 2.25 M parameters.
    """

    model_type: str = "fpliif"  # "fpliif" (LIIF decoder) or "unet" (the paper's conv-decoder ablation)
    label_set: str = CELEBAMASK_HQ.name
    label_names: list[str] = field(default_factory=lambda: list(CELEBAMASK_HQ.names))
    in_channels: int = 3
    width: int = 64  # channels of every encoder conv, and so of the latent grid Z
    blocks: tuple[int, ...] = (2, 6, 16)  # resblocks per group; a stride-2 conv sits between groups
    norm: str = "instance"  # "instance" (the paper), "batch" or "none" (plain EDSR)
    unfold: bool = True  # 3x3 feature unfolding before the reduce-channel MLP
    reduce_hidden: int = 256  # reduce-channel MLP: 9*width -> reduce_hidden -> feature_dim
    feature_dim: int = 64
    global_feature: bool = True  # concatenate the average-pooled Z to every query
    mlp_hidden: tuple[int, ...] = (256, 256, 256, 256)
    local_ensemble: bool = True
    temperature: float = 0.5  # softmax temperature tau; the paper trains and predicts with 0.5
    input_size: int = 256  # images are resized (after padding to square) to this before the encoder
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        self.blocks = tuple(int(b) for b in self.blocks)
        self.mlp_hidden = tuple(int(h) for h in self.mlp_hidden)
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        self.label_names = [str(n) for n in self.label_names]
        if self.model_type not in ("fpliif", "unet"):
            raise ValueError(f"model_type must be 'fpliif' or 'unet', got {self.model_type!r}")
        if len(self.label_names) < 2:
            raise ValueError(f"label_names needs at least 2 labels, got {self.label_names!r}")
        if len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"label_names has duplicates: {self.label_names!r}")
        if not self.blocks or any(b < 0 for b in self.blocks):
            raise ValueError(f"blocks must be a non-empty list of counts >= 0, got {self.blocks!r}")
        if self.norm not in ("instance", "batch", "none"):
            raise ValueError(f"norm must be 'instance', 'batch' or 'none', got {self.norm!r}")
        for name in ("width", "reduce_hidden", "feature_dim", "in_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if self.input_size % self.scale != 0:
            raise ValueError(
                f"input_size {self.input_size} must be a multiple of the encoder's downsampling {self.scale}"
            )
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(f"mean and std need {self.in_channels} values, got {self.mean!r}, {self.std!r}")

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def labels(self) -> LabelSet:
        """The classes as a :class:`~fpliif.labels.LabelSet` (the built-in set when the names match it)."""
        return label_set_for(self.label_names, self.label_set)

    @property
    def scale(self) -> int:
        """How much smaller the latent grid is than the input (4 for the paper's three groups)."""
        return 2 ** (len(self.blocks) - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["num_classes"] = self.num_classes  # for readers of the JSON; recomputed on load
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FPLIIFConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - {"num_classes", "fpliif_version"})
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}; is it from a newer fpliif? Upgrade fpliif.")
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, directory: str | Path) -> Path:
        from . import __version__

        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps({**self.to_dict(), "fpliif_version": __version__}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> FPLIIFConfig:
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"no {CONFIG_NAME} at {path}: a model folder holds config.json and model.safetensors"
            )
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); re-download or re-export the model") from e
        return cls.from_dict(d)
