"""Weights I/O, the one place that finds, loads, downloads and uploads models.

A model folder holds ``config.json``, ``model.safetensors`` and a model card ``README.md``; a folder of several
models may instead hold ``NAME.safetensors`` with ``NAME.json`` beside it. A model is named by a pretrained name
(:mod:`fpliif.pretrained`), a folder, a ``.safetensors`` file, or a Hugging Face Hub repo id ``user/name`` (or
``user/name@revision``). Only safetensors are ever read, with strict keys, so a downloaded file can never run code.

Why not ``huggingface_hub.PyTorchModelHubMixin`` and ``ModelCard.from_template`` (checked against
huggingface_hub 2.4): the mixin loads with ``strict=False`` by default and falls back to ``pytorch_model.bin``
through ``torch.load``, where this project wants strict keys, errors that name each mismatching tensor, and
safetensors only; it does not know the shipped weights, pretrained names or the ``NAME.json`` layout, so this
module would stay; and one class per model type does not fit the config's ``model_type`` dispatch.
``ModelCard.from_template`` needs jinja2, which is not a dependency. What is used from huggingface_hub:
``hf_hub_download`` (cache, revisions, offline mode; wrapped in :mod:`fpliif.hub_download` so a dead network
fails fast), ``HfApi`` for uploads and ``ModelCardData`` for the card's metadata (:mod:`fpliif.card`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .config import CONFIG_NAME, FPLIIFConfig
from .hub_download import transport_errors
from .models.registry import build_model
from .pretrained import DEFAULT_PRETRAINED, get_pretrained, is_pretrained_name
from .text import first_few

__all__ = ["save_pretrained", "from_pretrained", "push_to_hub", "load_state_dict", "load_model", "locate_model",
           "parse_repo_id", "config_for", "is_fpliif_file", "ModelFiles", "PushResult", "MODEL_FILES", "UPLOAD_FILES"]

WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME)  # what a model folder holds
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # "user/name"; anything else is a path
TRAIN_CONFIG_NAME = "train_config.json"  # written beside the weights by fpliif train: what they were trained with
UPLOAD_FILES = (*MODEL_FILES, TRAIN_CONFIG_NAME)  # all that is uploaded (the recipe when there is one)
WEIGHT_PICKLES = (".pt", ".pth", ".bin", ".ckpt", ".pkl")
LOGIN_HINT = ("run `hf auth login` (`huggingface-cli login` with an older huggingface_hub) or set HF_TOKEN "
              "to a token with write access (https://huggingface.co/settings/tokens)")


@dataclass(frozen=True)
class ModelFiles:
    """Where one model's config and weights are on disk."""

    config: Path
    weights: Path


def save_pretrained(model: nn.Module, directory: str | Path, card: str | None = None,
                    extra: dict[str, str] | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors``, a model card and ``extra`` files (name -> text) into
    ``directory``.

    The folder is written whole beside its target and then renamed into place, so a kill leaves either the old
    folder or the new one, never weights beside another model's config. Other files in an existing folder are kept.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    if directory.is_dir():
        shutil.copytree(directory, staging)
    staging.mkdir(exist_ok=True)
    model.cfg.save(staging)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(staging / WEIGHTS_NAME), metadata={"format": "pt"})
    if card is None and not (staging / CARD_NAME).exists():
        from .card import model_card

        card = model_card(model.cfg)
    if card is not None:
        (staging / CARD_NAME).write_text(card)
    for name, text in (extra or {}).items():
        (staging / name).write_text(text)
    old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    if directory.exists():
        os.replace(directory, old)
    os.replace(staging, directory)
    shutil.rmtree(old, ignore_errors=True)
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
            lines.append(f"  missing tensors: {first_few(missing)}")
        if unexpected:
            lines.append(f"  unexpected tensors: {first_few(unexpected)}")
        for k in wrong[:8]:
            lines.append(f"  {k}: file has {tuple(tensors[k].shape)}, config expects {tuple(expected[k].shape)}")
        if len(wrong) > 8:
            lines.append(f"  (+{len(wrong) - 8} more tensors whose shapes differ)")
        lines.append("Use the config.json that was saved with these weights.")
        raise ValueError("\n".join(lines))
    model.load_state_dict(tensors, strict=True)
    return model


def parse_repo_id(text: str) -> tuple[str, str | None]:
    """``"user/name@revision"`` -> ``("user/name", "revision")``; ``"user/name"`` -> ``("user/name", None)``.

    Raises:
        ValueError: ``text`` is not a Hub repo id.
    """
    repo_id, _, revision = text.strip().partition("@")
    if not REPO_ID.match(repo_id):
        raise ValueError(f"{text!r} is not a Hugging Face repo id; write it as user/name or user/name@revision")
    return repo_id, revision or None


def config_for(weights: Path) -> Path:
    """The config of a ``.safetensors`` file: ``NAME.json`` beside ``NAME.safetensors``, else ``config.json``."""
    for candidate in (weights.with_suffix(".json"), weights.parent / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{weights} has no config: put the config.json saved with it in {weights.parent} "
        f"(as {CONFIG_NAME}, or as {weights.stem}.json when several models share the folder)")


def is_fpliif_file(weights: Path) -> bool:
    """Whether a ``.safetensors`` file may be an fpliif model: False only when its config is another library's
    (other ComfyUI packs keep SegFormer or BiSeNet weights in the same folder). A file with no config counts,
    so that loading it explains the fix."""
    try:
        d = json.loads(config_for(weights).read_text())
    except (OSError, ValueError):  # no config (FileNotFoundError is an OSError) or not JSON
        return True
    return isinstance(d, dict) and d.get("model_type", "fpliif") in ("fpliif", "unet") and "label_names" in d


def locate_model(
    name_or_path: str | Path | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    download_root: str | Path | None = None,
) -> ModelFiles:
    """The config and weights files of a model, downloading them from the Hub if needed.

    Args:
        name_or_path: ``None`` (the default pretrained weights), a pretrained name such as
            ``"fpliif.celebamask-hq"`` (``"default"`` is an alias), a model folder, a ``.safetensors``
            file, or a Hub repo id ``"user/name"`` / ``"user/name@revision"``.
        revision: Hub branch, tag or commit (or give it after ``@``); pin a commit for reproducible results.
        cache_dir: Hub cache folder (default: the standard ``HF_HUB_CACHE``).
        local_files_only: never touch the network (also implied by ``HF_HUB_OFFLINE=1``).
        download_root: download Hub repos into ``download_root/user--name`` (``user--name@revision`` when
            pinned) instead of the cache; a complete copy there is used without any network call.

    Raises:
        FileNotFoundError: nothing usable there; the message says what is missing and where to put it.
        ValueError: a revision given twice.
    """
    name = DEFAULT_PRETRAINED if name_or_path is None else str(name_or_path)
    if is_pretrained_name(name):
        entry = get_pretrained(name)
        if not entry.available:
            raise FileNotFoundError(
                f"the weights {entry.name} are not in this install ({entry.folder / WEIGHTS_NAME} is missing). "
                "Reinstall fpliif, or pass a model folder or a Hugging Face repo id (--model PATH_OR_REPO).")
        return ModelFiles(entry.folder / CONFIG_NAME, entry.folder / WEIGHTS_NAME)
    path = Path(name).expanduser()
    if path.exists() or not REPO_ID.match(name.partition("@")[0]):
        return _local_files(path)
    repo_id, pinned = parse_repo_id(name)
    if pinned and revision and pinned != revision:
        raise ValueError(f"{name!r} pins revision {pinned!r} but revision={revision!r} was also given")
    revision = pinned or revision
    try:
        if download_root is not None:
            return _download_into(repo_id, revision, Path(download_root) / _folder_name(repo_id, revision))
        return _download(repo_id, revision, cache_dir=cache_dir, local_files_only=local_files_only)
    except FileNotFoundError as e:  # "user/name" may also be a mistyped local folder
        raise FileNotFoundError(f"{e}\n(No local folder {path} exists either.)") from e


def _local_files(path: Path) -> ModelFiles:
    if path.is_file() and path.suffix == ".safetensors":
        return ModelFiles(config_for(path), path)
    if path.is_file():
        kind = "a training checkpoint or pickled weights" if path.suffix in WEIGHT_PICKLES else "not a weights file"
        raise ValueError(
            f"{path} is {kind}: fpliif loads only .safetensors weights (pickled .pt/.bin/.ckpt files can run code "
            "when loaded). Give a model folder with config.json and model.safetensors (a training run's best/ or "
            "final/ folder), or a .safetensors file with its config")
    if not path.is_dir():
        raise FileNotFoundError(
            f"model path {path} does not exist; give a folder with config.json and model.safetensors")
    for needed in (CONFIG_NAME, WEIGHTS_NAME):
        if not (path / needed).is_file():
            raise FileNotFoundError(f"model folder {path} has no {needed}; it needs config.json and model.safetensors")
    return ModelFiles(path / CONFIG_NAME, path / WEIGHTS_NAME)


def _folder_name(repo_id: str, revision: str | None) -> str:
    return repo_id.replace("/", "--") + (f"@{revision}" if revision else "")


def _download(repo_id: str, revision: str | None, local_dir: Path | None = None, **kwargs) -> ModelFiles:
    """``config.json`` and ``model.safetensors`` of a Hub repo, through the cache or into ``local_dir``."""
    from .hub_download import download_files

    return ModelFiles(*download_files(repo_id, revision, (CONFIG_NAME, WEIGHTS_NAME), local_dir, **kwargs))


def _download_into(repo_id: str, revision: str | None, folder: Path) -> ModelFiles:
    files = ModelFiles(folder / CONFIG_NAME, folder / WEIGHTS_NAME)
    if files.config.is_file() and files.weights.is_file():
        return files
    return _download(repo_id, revision, local_dir=folder)


def load_model(files: ModelFiles) -> nn.Module:
    """The network ``files`` describe, with their weights, on the CPU in eval mode.

    Warns when the config's ``input_size`` differs from the one the weights were trained at (``train_config.json``
    beside them, written by ``fpliif train``): the network still runs, but parses worse.
    """
    cfg = FPLIIFConfig.load(files.config)
    trained = _trained_input_size(files.config.parent / TRAIN_CONFIG_NAME)
    if trained is not None and trained != cfg.input_size:
        warnings.warn(f"{files.config} sets input_size {cfg.input_size}, but these weights were trained at {trained} "
                      f"px ({TRAIN_CONFIG_NAME} beside them); masks are usually worse at another size: set "
                      f"input_size back to {trained}", stacklevel=2)
    model = build_model(cfg)
    load_state_dict(model, files.weights)
    return model.eval()


def _trained_input_size(path: Path) -> int | None:
    """The ``input_size`` a ``train_config.json`` records (``None`` when there is no readable one)."""
    try:
        value = json.loads(path.read_text()).get("input_size")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


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
        name_or_path, revision, cache_dir, local_files_only: which model, as for :func:`locate_model`
            (default: the default pretrained weights, shipped inside the package).
        device, dtype: where and in what precision the model runs (default: CPU, float32).
    """
    model = load_model(locate_model(name_or_path, revision, cache_dir, local_files_only))
    return model.to(device=device, dtype=dtype)


@dataclass
class PushResult:
    """What :func:`push_to_hub` did."""

    repo_url: str
    commit_url: str | None = None
    commit: str | None = None  # the commit hash: pin it with --revision
    card_written: bool = False  # the folder had no model card; one was written from config.json
    skipped: list[str] = field(default_factory=list)  # files in the folder that were not uploaded


def push_to_hub(model_or_folder: nn.Module | str | Path, repo_id: str, card: str | None = None,
                private: bool = False, token: str | None = None,
                commit_message: str = "Upload FP-LIIF weights") -> PushResult:
    """Upload a model, or a saved model folder, as a Hub model repo (created if needed).

    Only :data:`UPLOAD_FILES` are uploaded, in one commit. A folder is first loaded exactly as users will
    load it, and refused if that fails; a folder without a model card gets one written from its config.

    Raises:
        ValueError: a bad repo id, or a folder that does not load (nothing is uploaded).
        FileNotFoundError: the folder does not exist.
        PermissionError: no token, or the Hub refused it; the message says how to log in.
        ConnectionError: the Hub could not be reached.
    """
    parse_repo_id(repo_id)
    if isinstance(model_or_folder, nn.Module):
        with tempfile.TemporaryDirectory() as tmp:
            save_pretrained(model_or_folder, tmp, card=card)
            return _upload(Path(tmp), repo_id, private, commit_message, token)
    directory = Path(model_or_folder).expanduser()
    model = _check_folder(directory)
    card_written = card is not None or not (directory / CARD_NAME).is_file()
    if card_written:
        from .card import model_card

        (directory / CARD_NAME).write_text(card if card is not None else model_card(model.cfg))
    result = _upload(directory, repo_id, private, commit_message, token)
    result.card_written = card_written
    result.skipped = sorted(p.name for p in directory.iterdir() if p.name not in UPLOAD_FILES)
    return result


def _check_folder(directory: Path) -> nn.Module:
    if not directory.is_dir():
        raise FileNotFoundError(f"model folder {directory} does not exist; give the folder holding config.json "
                                "and model.safetensors")
    try:
        return from_pretrained(directory, local_files_only=True)
    except (FileNotFoundError, ValueError, KeyError, TypeError, RuntimeError, OSError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise ValueError(f"{directory} does not load as an fpliif model, so nothing was uploaded:\n{message}") from e


def _upload(directory: Path, repo_id: str, private: bool, message: str, token: str | None) -> PushResult:
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    token = token or get_token()
    if not token:
        raise PermissionError(f"no Hugging Face token found, so nothing was uploaded: {LOGIN_HINT}")
    api = HfApi(token=token)
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(directory), repo_type="model",
                                   allow_patterns=list(UPLOAD_FILES), commit_message=message)
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status == 401:
            raise PermissionError(f"the Hub did not accept the token (401 Unauthorized): {LOGIN_HINT}") from e
        if status == 403:
            raise PermissionError(f"the token may not write to {repo_id} (403 Forbidden): use a token with write "
                                  "access, and a user or organisation name you belong to") from e
        raise ConnectionError(f"uploading to {repo_id} failed: {e}") from e
    except transport_errors() as e:
        raise ConnectionError(f"could not reach the Hugging Face Hub to upload {repo_id} ({e}); check the network "
                              "(and HF_ENDPOINT if set), then try again") from e
    return PushResult(str(repo_url), getattr(commit, "commit_url", None), getattr(commit, "oid", None))
