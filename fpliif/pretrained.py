"""Named pretrained weights, ``architecture.tag`` as timm names them (``resnet50.a1_in1k``).

>>> list_models(pretrained=True)               # ['fpliif-small.celebamask-hq', 'fpliif.celebamask-hq']
>>> model = create_model("fpliif.celebamask-hq", pretrained=True)
>>> parser = FaceParser.from_pretrained("fpliif.celebamask-hq")   # also the default

Each entry says which registered architecture the weights are for, where they are (a folder with
``config.json`` and ``model.safetensors``), their input size and their label set. Weights trained later are
added with :func:`register_pretrained`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

__all__ = ["PretrainedModel", "DEFAULT_PRETRAINED", "register_pretrained", "list_pretrained", "get_pretrained",
           "is_pretrained_name", "create_pretrained"]

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class PretrainedModel:
    """One set of named weights.

    Attributes:
        name: ``architecture.tag``, e.g. ``"fpliif.celebamask-hq"``.
        folder: the model folder (``config.json``, ``model.safetensors``, ``README.md`` model card).
        input_size: the side images are resized to before the encoder.
        label_set: the classes' label set (see :mod:`fpliif.labels`).
        summary: one line for listings.
    """

    name: str
    folder: Path
    input_size: int
    label_set: str
    summary: str = ""

    @property
    def architecture(self) -> str:
        """The registered variant these weights are for (see ``list_models()``)."""
        return self.name.split(".", 1)[0]

    @property
    def available(self) -> bool:
        """Whether the weights file is in this install."""
        return (self.folder / "model.safetensors").is_file()


_PRETRAINED: dict[str, PretrainedModel] = {}
# Older scripts and the CLI before named weights said "default"; it stays an alias of the default weights.
ALIASES = {"default": "fpliif.celebamask-hq"}
DEFAULT_PRETRAINED = ALIASES["default"]


def register_pretrained(entry: PretrainedModel) -> PretrainedModel:
    """Add named weights; the architecture must be a registered model."""
    from .models.registry import list_models

    if entry.architecture not in list_models():
        raise ValueError(f"{entry.name}: unknown architecture {entry.architecture!r}; registered: "
                         f"{', '.join(list_models())}")
    _PRETRAINED[entry.name] = entry
    return entry


def list_pretrained(architecture: str | None = None) -> list[str]:
    """Names of the pretrained weights (of one architecture if given), sorted."""
    return sorted(n for n, e in _PRETRAINED.items() if architecture in (None, e.architecture))


def is_pretrained_name(name: str) -> bool:
    """Whether ``name`` names pretrained weights (or the ``"default"`` alias)."""
    return name in _PRETRAINED or name in ALIASES


def get_pretrained(name: str | None = None) -> PretrainedModel:
    """The entry for a pretrained name, the ``"default"`` alias, ``None`` (the default weights) or a bare
    architecture name (its first pretrained weights).

    Raises:
        KeyError: no such weights; the message lists the names there are.
    """
    name = DEFAULT_PRETRAINED if name is None else ALIASES.get(name, name)
    if name in _PRETRAINED:
        return _PRETRAINED[name]
    tagged = list_pretrained(name)
    if tagged:
        return _PRETRAINED[tagged[0]]
    raise KeyError(f"no pretrained weights named {name!r}; there are: {', '.join(list_pretrained())}")


def create_pretrained(name: str, pretrained: bool = True, **overrides) -> nn.Module:
    """The architecture of pretrained weights ``name``, with those weights or (``pretrained=False``) fresh ones.

    ``overrides`` replace config fields and need ``pretrained=False``: changing the network of trained weights
    is fine-tuning (``fpliif train --init NAME``).
    """
    from .config import FPLIIFConfig
    from .hub import from_pretrained
    from .models.registry import build_model

    entry = get_pretrained(name)
    if not pretrained:
        return build_model(replace(FPLIIFConfig.load(entry.folder), **overrides))
    if overrides:
        raise ValueError(f"pretrained weights {entry.name} cannot take config overrides {sorted(overrides)}; "
                         "use pretrained=False for fresh weights, or fine-tune with `fpliif train --init`")
    return from_pretrained(entry.name)


register_pretrained(PretrainedModel(
    "fpliif.celebamask-hq", WEIGHTS_DIR / "celebamask-hq", input_size=256, label_set="celebamask-hq",
    summary="the default: the paper's network, 19 CelebAMask-HQ classes, 256-px input, CPU-trained, val mean F1 74.6 "
            "at 256 px (non-commercial licence)",
))
register_pretrained(PretrainedModel(
    "fpliif.celebamask-hq-128", WEIGHTS_DIR / "celebamask-hq-128", input_size=128, label_set="celebamask-hq",
    summary="the default until round 7: the same network at 128-px input, val mean F1 73.9 at 256 px, about a "
            "third of the CPU time per face (non-commercial licence)",
))
register_pretrained(PretrainedModel(
    "fpliif-small.celebamask-hq", WEIGHTS_DIR / "celebamask-hq-small", input_size=128, label_set="celebamask-hq",
    summary="the first weights, 0.65 M parameters, no augmentation: val mean F1 62.6 at 256 px (non-commercial "
            "licence)",
))
