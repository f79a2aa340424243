"""FP-LIIF Load Model: pretrained weights, a ``.safetensors`` in ``models/face_parsing/``, or a Hub repo id.

Finding, downloading and loading are :mod:`fpliif.hub`'s; this node adds ComfyUI's model folders, its device,
and a cache of loaded models keyed by (file, modification time, device, precision), so re-running a workflow
reuses them. Nothing is downloaded at import time; a Hub repo is fetched on first use into the
``face_parsing`` folder.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch

from .common import CATEGORY, PARSER_TYPE, fpliif, hub, io, pretrained
from .common import device as devices  # the module; `device` is the node's input

__all__ = ["FOLDER_NAME", "load_parser", "model_choices", "model_folders", "register_model_folder"]

FOLDER_NAME = "face_parsing"
PRECISIONS = ["auto", "fp32", "fp16", "bf16"]
_CACHE: OrderedDict[tuple, fpliif.FaceParser] = OrderedDict()
CACHE_SIZE = 3
TTA_MODES = fpliif.models.TTA_MODES


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
    """The pretrained weights (the default first), then every FP-LIIF ``.safetensors`` under the model folders
    (relative to their folder; other packs' models in ``face_parsing/`` are left out)."""
    found = set()
    for folder in model_folders() if folders is None else folders:
        if folder.is_dir():
            found.update(p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors")
                         if hub.is_fpliif_file(p))
    pretrained = fpliif.list_models(pretrained=True)
    pretrained.sort(key=lambda name: name != fpliif.DEFAULT_PRETRAINED)
    return [*pretrained, *sorted(found)]


def load_parser(model: str = fpliif.DEFAULT_PRETRAINED, repo_id: str = "", device: str = "auto",
                precision: str = "auto", folders: list[Path] | None = None, tta: str = "none") -> fpliif.FaceParser:
    """A cached :class:`fpliif.FaceParser` for the node's choices.

    Args:
        model: pretrained weights (e.g. ``"fpliif.celebamask-hq"``) or a ``.safetensors`` path relative to
            a ``face_parsing`` folder.
        repo_id: a Hugging Face repo id (``user/name`` or ``user/name@revision``); overrides ``model`` if given.
        device: ``auto`` (ComfyUI's device), ``cpu``, ``cuda`` or ``mps``.
        precision: ``auto`` (fp16 on CUDA, else fp32), ``fp32``, ``fp16`` or ``bf16``.
        folders: the model folders (default: the ones registered with ComfyUI).
        tta: test-time augmentation (``none`` or ``flip``: each face also parsed mirrored, probabilities averaged).
    """
    if tta not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {', '.join(TTA_MODES)}")
    folders = model_folders() if folders is None else folders
    torch_device = _comfy_device() if device == "auto" else devices.resolve_device(device)
    dtype = devices.resolve_dtype(precision, torch_device)
    files = _locate(model, repo_id.strip(), folders)
    key = (str(files.weights), files.weights.stat().st_mtime, str(torch_device), str(dtype), tta)
    if key not in _CACHE:
        _CACHE[key] = fpliif.FaceParser(hub.load_model(files), device=torch_device, dtype=dtype, tta=tta)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def _locate(model: str, repo_id: str, folders: list[Path]) -> hub.ModelFiles:
    where = folders[0] if folders else "ComfyUI/models/face_parsing"
    if repo_id:
        hub.parse_repo_id(repo_id)  # a ValueError that shows the expected form
        if not folders:
            raise FileNotFoundError("no face_parsing model folder is registered; run inside ComfyUI or pass folders")
        return hub.locate_model(repo_id, download_root=folders[0])
    if pretrained.is_pretrained_name(model):
        try:
            return hub.locate_model(model)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e}\nOr put a model (.safetensors + config.json) in {where} and pick it in "
                                    "'model', or give a Hugging Face repo id.") from e
    relative = Path(model)
    inside = not relative.is_absolute() and ".." not in relative.parts  # symlinked files are fine
    for folder in folders:
        path = folder / relative
        if inside and path.suffix == ".safetensors" and path.is_file():
            return hub.locate_model(path)
    raise FileNotFoundError(f"face parsing model {model!r} was not found in "
                            f"{', '.join(str(f) for f in folders) or where}; put the .safetensors file and its "
                            f"config.json in {where}")


def _comfy_device() -> torch.device:
    """ComfyUI's device for models, or the library's choice outside ComfyUI."""
    try:
        import comfy.model_management as mm
    except ImportError:
        return devices.resolve_device("auto")
    return mm.get_torch_device()


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
                    io.Combo.Input("model", options=model_choices(), default=fpliif.DEFAULT_PRETRAINED,
                                   tooltip="pretrained weights shipped with the pack, or a .safetensors in "
                                           "models/face_parsing/"),
                    io.String.Input("repo_id", default="",
                                    tooltip="Hugging Face repo id (user/name[@revision]); downloaded once into "
                                            "models/face_parsing/ and used instead of 'model'"),
                    io.Combo.Input("device", options=list(devices.DEVICE_CHOICES), default="auto",
                                   tooltip="auto: ComfyUI's device; or cpu, cuda, mps"),
                    io.Combo.Input("precision", options=PRECISIONS, default="auto",
                                   tooltip="auto: fp16 on CUDA, fp32 elsewhere"),
                    io.Combo.Input("tta", options=list(TTA_MODES), default="none",
                                   tooltip="test-time augmentation: flip also parses each face mirrored and averages "
                                           "the two (+0.2 to +0.5 val mean F1 measured, twice the network time)"),
                ],
                outputs=[PARSER_TYPE.Output(display_name="model", tooltip="the loaded parser, for Parse Faces")],
            )

        @classmethod
        def execute(cls, model: str, repo_id: str, device: str, precision: str, tta: str = "none") -> io.NodeOutput:
            return io.NodeOutput(load_parser(model, repo_id or "", device, precision, tta=tta))
