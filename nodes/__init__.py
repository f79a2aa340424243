"""ComfyUI nodes for FP-LIIF face parsing: thin V3 wrappers around the ``fpliif`` library.

The plain functions (``load_parser``, ``parse_faces``, ``labels_to_mask``, ``cut_out``) work without ComfyUI; the
node classes and :class:`FPLIIFExtension` exist only where ``comfy_api`` can be imported.
"""

from __future__ import annotations

from .common import FaceParsing, io
from .cut_out import cut_out
from .labels_to_mask import labels_to_mask
from .load_model import load_parser, register_model_folder
from .parse_faces import parse_faces

__all__ = ["FaceParsing", "labels_to_mask", "load_parser", "parse_faces", "cut_out", "NODES", "FPLIIFExtension"]

NODES: list = []

if io is not None:
    from comfy_api.latest import ComfyExtension

    from .cut_out import CutOut
    from .labels_to_mask import LabelsToMask
    from .load_model import LoadModel
    from .parse_faces import ParseFaces

    NODES = [LoadModel, ParseFaces, LabelsToMask, CutOut]

    class FPLIIFExtension(ComfyExtension):
        """The pack's nodes; registers ``models/face_parsing/`` when ComfyUI loads it."""

        async def on_load(self) -> None:
            register_model_folder()

        async def get_node_list(self) -> list[type[io.ComfyNode]]:
            register_model_folder()  # also here: get_node_list may run before on_load
            return list(NODES)
