"""A small registry of named variants, as in timm: ``list_models()`` and ``create_model(name, **overrides)``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..config import FPLIIFConfig

__all__ = ["register_model", "list_models", "create_model", "model_config", "build_model"]

_CONFIGS: dict[str, Callable[..., FPLIIFConfig]] = {}


def register_model(fn: Callable[..., FPLIIFConfig]) -> Callable[..., FPLIIFConfig]:
    """Register a function returning the variant's config; its name, with ``_`` as ``-``, is the model name."""
    _CONFIGS[fn.__name__.replace("_", "-")] = fn
    return fn


def list_models(pretrained: bool = False) -> list[str]:
    """Names of the registered variants; ``pretrained=True``: of the pretrained weights (``"arch.tag"``)."""
    if pretrained:
        from ..pretrained import list_pretrained

        return list_pretrained()
    return sorted(_CONFIGS)


def model_config(name: str, **overrides) -> FPLIIFConfig:
    """The config of variant ``name`` with fields replaced by ``overrides``."""
    if name not in _CONFIGS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return _CONFIGS[name](**overrides)


def build_model(cfg: FPLIIFConfig) -> nn.Module:
    """The network a config describes, with fresh weights."""
    if cfg.model_type == "unet":
        from .unet import UNetBaseline

        return UNetBaseline(cfg)
    from .fpliif import FPLIIF

    return FPLIIF(cfg)


def create_model(name: str, pretrained: bool = False, **overrides) -> nn.Module:
    """A registered variant with fresh weights, e.g. ``create_model("fpliif", label_names=[...])``; with
    ``pretrained=True`` or a pretrained name, see :func:`fpliif.pretrained.create_pretrained`."""
    if pretrained or "." in name:
        from ..pretrained import create_pretrained

        return create_pretrained(name, pretrained, **overrides)
    return build_model(model_config(name, **overrides))


@register_model
def fpliif(**kw) -> FPLIIFConfig:
    """The paper's network: 2+6+16 resblocks of 64 channels, 4x256 MLP; 2.25 M parameters for 19 classes."""
    return FPLIIFConfig(**kw)


@register_model
def fpliif_small(**kw) -> FPLIIFConfig:
    """A quarter of the paper's compute: 1+3+8 resblocks of 48 channels, 3x128 MLP; 0.65 M parameters."""
    small = dict(width=48, blocks=(1, 3, 8), reduce_hidden=128, feature_dim=48, mlp_hidden=(128, 128, 128))
    return FPLIIFConfig(**{**small, **kw})


@register_model
def unet_baseline(**kw) -> FPLIIFConfig:
    """The paper's ablation: FP-LIIF's encoder with a conv U-Net decoder instead of LIIF; 2.15 M parameters."""
    return FPLIIFConfig(**{"model_type": "unet", **kw})


@register_model
def unet_small(**kw) -> FPLIIFConfig:
    """The U-Net baseline at fpliif-small's size (its encoder, 48 channels): 0.71 M parameters."""
    return FPLIIFConfig(**{"model_type": "unet", "width": 48, "blocks": (1, 3, 8), **kw})
