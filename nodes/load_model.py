"""FP-LIIF Load Model: the shipped weights, a ``.safetensors`` in ``models/face_parsing/``, or a Hub repo id.

Loaded models are cached by (file, modification time, device, precision), so re-running a workflow reuses them.
Nothing is downloaded at import time; a Hub repo is fetched on first use into the ``face_parsing`` folder.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import torch

from .common import CATEGORY, PARSER_TYPE, fpliif, io

__all__ = ["DEFAULT_CHOICE", "FOLDER_NAME", "load_parser", "model_choices", "model_folders", "register_model_folder"]

FOLDER_NAME = "face_parsing"
DEFAULT_CHOICE = "default (shipped CelebAMask-HQ)"
DEVICES = ["auto", "cpu", "cuda", "mps"]
PRECISIONS = ["auto", "fp32", "fp16", "bf16"]
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_CACHE: OrderedDict[tuple, fpliif.FaceParser] = OrderedDict()
CACHE_SIZE = 3


def register_model_folder() -> None:
    """Register ``models/face_parsing/`` with ComfyUI (it also honours ``face_parsing:`` in extra_model_paths)."""
    import folder_paths

    folder_paths.add_model_folder_path(FOLDER_NAME, os.path.join(folder_paths.models_dir, FOLDER_NAME), is_default=True)


def model_folders() -> list[Path]:
    """The registered ``face_parsing`` folders (none outside ComfyUI)."""
    try:
        import folder_paths
    except ImportError:
        return []
    register_model_folder()  # idempotent; makes the list right even if asked before the extension loaded
    return [Path(p) for p in folder_paths.get_folder_paths(FOLDER_NAME)]


def model_choices(folders: list[Path] | None = None) -> list[str]:
    """The default, then every FP-LIIF ``.safetensors`` under the model folders (relative to their folder).

    Other packs also keep models in ``face_parsing/`` (SegFormer, BiSeNet); files whose config is not an
    FP-LIIF config are left out, while files with no config at all stay, so that loading one explains the fix.
    """
    found = set()
    for folder in model_folders() if folders is None else folders:
        if folder.is_dir():
            found.update(p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors") if _ours(p))
    return [DEFAULT_CHOICE, *sorted(found)]


def _ours(weights: Path) -> bool:
    try:
        config = _config_for(weights)
    except FileNotFoundError:
        return True
    try:
        d = json.loads(config.read_text())
    except (OSError, ValueError):
        return True
    return isinstance(d, dict) and d.get("model_type", "fpliif") in ("fpliif", "unet") and "label_names" in d


def load_parser(model: str = DEFAULT_CHOICE, repo_id: str = "", device: str = "auto", precision: str = "auto",
                folders: list[Path] | None = None) -> fpliif.FaceParser:
    """A cached :class:`fpliif.FaceParser` for the node's choices.

    Args:
        model: ``DEFAULT_CHOICE`` or a ``.safetensors`` path relative to a ``face_parsing`` folder.
        repo_id: a Hugging Face repo id (``user/name`` or ``user/name@revision``); overrides ``model`` if given.
        device: ``auto`` (ComfyUI's device), ``cpu``, ``cuda`` or ``mps``.
        precision: ``auto`` (fp16 on CUDA, else fp32), ``fp32``, ``fp16`` or ``bf16``.
        folders: the model folders (default: the ones registered with ComfyUI).
    """
    folders = model_folders() if folders is None else folders
    torch_device = _device(device)
    dtype = _dtype(precision, torch_device)
    weights = _download(repo_id.strip(), folders) if repo_id.strip() else _weights(model, folders)
    key = (str(weights), weights.stat().st_mtime if weights else 0.0, str(torch_device), str(dtype))
    if key not in _CACHE:
        net = _load_default(folders) if weights is None else _load_file(weights)
        _CACHE[key] = fpliif.FaceParser(net, device=torch_device, dtype=dtype)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def _weights(model: str, folders: list[Path]) -> Path | None:
    if model == DEFAULT_CHOICE:
        return None
    relative = Path(model)
    inside = not relative.is_absolute() and ".." not in relative.parts  # symlinked files are fine
    for folder in folders:
        path = folder / relative
        if inside and path.suffix == ".safetensors" and path.is_file():
            return path
    where = ", ".join(str(f) for f in folders) or "ComfyUI/models/face_parsing"
    raise FileNotFoundError(f"face parsing model {model!r} was not found in {where}; put the .safetensors file "
                            f"and its config.json in {folders[0] if folders else where}")


def _load_default(folders: list[Path]) -> torch.nn.Module:
    try:
        return fpliif.from_pretrained()
    except FileNotFoundError as e:
        where = folders[0] if folders else "ComfyUI/models/face_parsing"
        raise FileNotFoundError(f"{e}\nOr put a model (.safetensors + config.json) in {where} and pick it in "
                                "'model', or give a Hugging Face repo id.") from e


def _config_for(weights: Path) -> Path:
    for candidate in (weights.with_suffix(".json"), weights.parent / "config.json"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{weights.name} has no config: put the config.json saved with it in {weights.parent} "
        f"(as config.json, or as {weights.stem}.json when several models share the folder)")


def _load_file(weights: Path) -> torch.nn.Module:
    cfg = fpliif.FPLIIFConfig.load(_config_for(weights))
    net = fpliif.build_model(cfg)
    try:
        fpliif.hub.load_state_dict(net, weights)
    except ValueError as e:
        raise ValueError(f"{e}\nReplace {weights.name} in {weights.parent} with a complete copy.") from e
    return net.eval()


def _download(repo: str, folders: list[Path]) -> Path:
    repo_id, _, revision = repo.partition("@")
    if not fpliif.hub.REPO_ID.match(repo_id):
        raise ValueError(f"{repo!r} is not a Hugging Face repo id; write it as user/name or user/name@revision")
    if not folders:
        raise FileNotFoundError("no face_parsing model folder is registered; run inside ComfyUI or pass folders")
    target = folders[0] / repo_id.replace("/", "--")
    weights = target / fpliif.hub.WEIGHTS_NAME
    if weights.is_file() and (target / "config.json").is_file():
        return weights
    from huggingface_hub import hf_hub_download

    try:
        for name in ("config.json", fpliif.hub.WEIGHTS_NAME):
            hf_hub_download(repo_id, name, revision=revision or None, local_dir=target)
    except Exception as e:  # offline, unknown repo, network: all end in the same manual fix
        raise FileNotFoundError(
            f"could not download {repo_id!r} from the Hugging Face Hub ({type(e).__name__}: {e}). Download "
            f"config.json and model.safetensors by hand into {target}") from e
    return weights


def _device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    try:
        import comfy.model_management as mm
    except ImportError:
        return fpliif.parser.default_device()
    return mm.get_torch_device()


def _dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if precision not in _DTYPES:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return _DTYPES[precision]


if io is not None:

    class LoadModel(io.ComfyNode):
        """The ComfyUI node around :func:`load_parser`."""

        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(
                node_id="FPLIIF_LoadModel",
                display_name="FP-LIIF Load Model",
                category=CATEGORY,
                description="Load an FP-LIIF face parsing model (19 CelebAMask-HQ labels by default). Put other "
                            "models (.safetensors + config.json) in ComfyUI/models/face_parsing/.",
                inputs=[
                    io.Combo.Input("model", options=model_choices(), default=DEFAULT_CHOICE,
                                   tooltip="the shipped weights or a .safetensors in models/face_parsing/"),
                    io.String.Input("repo_id", default="",
                                    tooltip="Hugging Face repo id (user/name[@revision]); downloaded once into "
                                            "models/face_parsing/ and used instead of 'model'"),
                    io.Combo.Input("device", options=DEVICES, default="auto"),
                    io.Combo.Input("precision", options=PRECISIONS, default="auto",
                                   tooltip="auto: fp16 on CUDA, fp32 elsewhere"),
                ],
                outputs=[PARSER_TYPE.Output(display_name="model")],
            )

        @classmethod
        def execute(cls, model: str, repo_id: str, device: str, precision: str) -> io.NodeOutput:
            return io.NodeOutput(load_parser(model, repo_id or "", device, precision))
