"""Weights I/O: ``save_pretrained``, ``from_pretrained`` (local folder, shipped default or Hub repo), ``push_to_hub``.

A model folder holds ``config.json``, ``model.safetensors`` and a model card ``README.md``. Only safetensors are
ever read, with strict keys, so a downloaded file can never run code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .config import CONFIG_NAME, FPLIIFConfig
from .models.registry import build_model

__all__ = ["save_pretrained", "from_pretrained", "push_to_hub", "load_state_dict", "DEFAULT_MODEL", "default_model_dir"]

WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
DEFAULT_MODEL = "default"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # "user/name"; anything else is a path


def default_model_dir() -> Path:
    """Where the package's own weights live (19 CelebAMask-HQ classes)."""
    return Path(__file__).parent / "weights" / "celebamask-hq"


def save_pretrained(model: nn.Module, directory: str | Path, card: str | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors`` and a model card into ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.cfg.save(directory)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = directory / (WEIGHTS_NAME + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, directory / WEIGHTS_NAME)
    if card is None and not (directory / CARD_NAME).exists():
        from .card import model_card

        card = model_card(model.cfg)
    if card is not None:
        (directory / CARD_NAME).write_text(card)
    return directory


def load_state_dict(model: nn.Module, weights: str | Path) -> nn.Module:
    """Load a safetensors file into ``model`` with strict keys and shapes; errors name every mismatch."""
    weights = Path(weights)
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{weights} is not a readable safetensors file ({e}); re-download or re-export it") from e
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        lines = [f"{weights} does not match its config.json:"]
        if missing:
            lines.append(f"  missing tensors: {_some(missing)}")
        if unexpected:
            lines.append(f"  unexpected tensors: {_some(unexpected)}")
        for k in wrong[:8]:
            lines.append(f"  {k}: file has {tuple(tensors[k].shape)}, config expects {tuple(expected[k].shape)}")
        if len(wrong) > 8:
            lines.append(f"  (+{len(wrong) - 8} more tensors whose shapes differ)")
        lines.append("Use the config.json that was saved with these weights.")
        raise ValueError("\n".join(lines))
    model.load_state_dict(tensors, strict=True)
    return model


def _some(keys: list[str], n: int = 8) -> str:
    return ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def resolve_model_dir(
    name_or_path: str | Path | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
) -> Path:
    """A local folder holding ``config.json`` and ``model.safetensors`` for a path, ``"default"`` or a Hub repo id."""
    name = str(name_or_path) if name_or_path is not None else DEFAULT_MODEL
    if name == DEFAULT_MODEL:
        directory = default_model_dir()
        if not (directory / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(
                f"the default weights are not in this install ({directory / WEIGHTS_NAME} is missing). "
                "Reinstall fpliif, or pass a model folder or a Hugging Face repo id (--model PATH_OR_REPO)."
            )
        return directory
    path = Path(name).expanduser()
    if path.exists() or not REPO_ID.match(name):
        return _check_local(path)
    try:
        return _download(name, revision, cache_dir, local_files_only)
    except FileNotFoundError as e:  # "user/name" may also be a mistyped local folder
        raise FileNotFoundError(f"{e}\n(No local folder {path} exists either.)") from e


def _check_local(path: Path) -> Path:
    if path.is_file() and path.suffix == ".safetensors":
        directory = path.parent
        if not (directory / CONFIG_NAME).is_file():
            raise FileNotFoundError(
                f"{path} has no {CONFIG_NAME} beside it; put the config.json saved with these weights in {directory}"
            )
        return path
    if not path.is_dir():
        raise FileNotFoundError(
            f"model path {path} does not exist; give a folder with config.json and model.safetensors"
        )
    for needed in (CONFIG_NAME, WEIGHTS_NAME):
        if not (path / needed).is_file():
            raise FileNotFoundError(f"model folder {path} has no {needed}; it needs config.json and model.safetensors")
    return path


def _download(repo_id: str, revision: str | None, cache_dir, local_files_only: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        config = hf_hub_download(repo_id, CONFIG_NAME, revision=revision, cache_dir=cache_dir,
                                 local_files_only=local_files_only)
        hf_hub_download(repo_id, WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
                        local_files_only=local_files_only)
    except LocalEntryNotFoundError as e:
        raise FileNotFoundError(
            f"{repo_id!r} is not in the local Hugging Face cache and downloads are off (offline mode or no "
            f"network). Run once with network access, or unset HF_HUB_OFFLINE, or pass a local folder. ({e})"
        ) from e
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise FileNotFoundError(
            f"{repo_id!r} (revision {revision or 'main'}) was not found on the Hugging Face Hub; "
            "check the repo id and revision, or pass a local model folder"
        ) from e
    except EntryNotFoundError as e:  # after LocalEntryNotFoundError, its subclass
        raise FileNotFoundError(
            f"{repo_id!r} (revision {revision or 'main'}) has no {CONFIG_NAME} or {WEIGHTS_NAME}; "
            "an fpliif model repo holds both (upload with fpliif.push_to_hub)"
        ) from e
    return Path(config).parent


def from_pretrained(
    name_or_path: str | Path | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Load a model in eval mode.

    Args:
        name_or_path: ``None`` or ``"default"`` for the shipped weights, a folder (or its ``.safetensors`` file),
            or a Hugging Face Hub repo id such as ``"user/fpliif-celebamask"``.
        revision: Hub branch, tag or commit; pin a commit for reproducible results.
        cache_dir: Hub cache folder (default: the standard ``HF_HUB_CACHE``).
        local_files_only: never touch the network (also implied by ``HF_HUB_OFFLINE=1``).
        device, dtype: where and in what precision the model runs.
    """
    location = resolve_model_dir(name_or_path, revision, cache_dir, local_files_only)
    weights = location if location.is_file() else location / WEIGHTS_NAME
    cfg = FPLIIFConfig.load(weights.parent / CONFIG_NAME)
    model = build_model(cfg)
    load_state_dict(model, weights)
    model.eval()
    return model.to(device=device, dtype=dtype)


def push_to_hub(model: nn.Module, repo_id: str, card: str | None = None, private: bool = False,
                token: str | None = None, commit_message: str = "Upload FP-LIIF weights") -> str:
    """Save the model to a temporary folder and upload it as a Hub model repo; returns the commit URL."""
    import tempfile

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, card=card)
        info = api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=commit_message)
    return str(info)
