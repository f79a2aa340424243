"""Where and in what precision a model runs: one resolver for the CLI, the nodes, the demo and the parser.

>>> resolve_device("auto")                  # CUDA if present, then Apple's MPS, else the CPU
>>> resolve_dtype("auto", torch.device("cuda"))   # float16 on CUDA, float32 elsewhere
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["DEVICE_CHOICES", "DTYPE_CHOICES", "resolve_device", "resolve_dtype"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # also accepted: "cuda:1" and torch.device objects
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16")
_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}


def resolve_device(name: str | torch.device | None = "auto", local_rank: int | None = None) -> torch.device:
    """A usable ``torch.device`` for a user's choice.

    Args:
        name: ``"auto"`` or ``None`` (CUDA if present, then MPS, else the CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"``, ``"mps"`` or a ``torch.device``.
        local_rank: for ``torchrun``: a bare ``"cuda"`` becomes ``cuda:local_rank``.

    Raises:
        ValueError: the device is unknown or not available on this machine; the message says what to use.
    """
    if name is None or str(name) == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {name!r}; use one of {', '.join(DEVICE_CHOICES)} or cuda:N") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for but torch sees no CUDA GPU; use cpu or auto")
        if device.index is None and local_rank is not None:
            device = torch.device("cuda", local_rank)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {device} was asked for but there are only {torch.cuda.device_count()} "
                             "CUDA GPU(s); use cuda:0 .. cuda:N-1")
    elif device.type == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} was asked for but MPS (Apple GPU) is not available; use cpu or auto")
    return device


def resolve_dtype(name: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The network's precision for a user's choice on ``device``.

    ``"auto"`` or ``None`` is float16 on CUDA (half the memory, the same labels) and float32 elsewhere.
    float16 on the CPU falls back to float32 with a warning: PyTorch runs it, but about eight times slower
    than float32 (measured on the shipped model); bfloat16 stays, as it is a reasonable CPU choice.

    Raises:
        ValueError: an unknown precision name.
    """
    if name is None or name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    dtype = name if isinstance(name, torch.dtype) else _DTYPES.get(str(name).lower())
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"unknown precision {name!r}; use one of {', '.join(DTYPE_CHOICES)} (or fp32, fp16, bf16)")
    if dtype == torch.float16 and device.type == "cpu":
        warnings.warn("float16 on the CPU is much slower than float32; running in float32 instead", stacklevel=2)
        return torch.float32
    return dtype


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
