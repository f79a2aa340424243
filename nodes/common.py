"""What the FP-LIIF nodes share: the host hooks (guarded, so this imports without ComfyUI), tensor layout
conversion at the edge, and the ``FPLIIF_PARSING`` value passed between nodes.

ComfyUI images are ``B x H x W x C`` floats in [0, 1] and masks ``B x H x W``; the library works in
``C x H x W``. Conversion happens here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

try:  # the pack's own copy of the library, when ComfyUI loads the repository root as a package
    from .. import fpliif
    from ..fpliif import demo, device, hub, image, masks, pretrained
except ImportError:  # nodes/ imported on its own (tests, an installed fpliif)
    import fpliif
    from fpliif import demo, device, hub, image, masks, pretrained

try:  # the V3 node API exists only inside ComfyUI
    from comfy_api.latest import io
except ImportError:
    io = None

__all__ = [
    "fpliif", "demo", "device", "hub", "image", "masks", "pretrained", "io", "CATEGORY", "FaceParsing",
    "image_to_frames", "frames_to_image", "masks_to_image", "check_interrupted", "progress_bar", "label_legend",
    "picker_table", "labels_input", "PARSER_TYPE", "PARSING_TYPE", "SEGS_TYPE",
]

CATEGORY = "FP-LIIF"
PARSER_TYPE = io.Custom("FPLIIF_MODEL") if io is not None else None
PARSING_TYPE = io.Custom("FPLIIF_PARSING") if io is not None else None
SEGS_TYPE = io.Custom("SEGS") if io is not None else None  # Impact Pack's type name, so its detailers accept it


@dataclass
class FaceParsing:
    """The ``FPLIIF_PARSING`` value: the library's parse of each frame of an IMAGE batch.

    Each :class:`fpliif.ParseResult` keeps its label map (1 byte per output pixel), which face owns each pixel
    (1 byte) and each face's encoded state (a few hundred kB); soft masks are rendered from the states when a
    node asks. Its ``image`` is a view of the IMAGE that was parsed, not a copy. About 6 MB per 1080p frame
    with three faces, where 19 float16 logit maps were 79 MB.

    Attributes:
        results: one parse per frame.
        label_set: names, colours and groups of the classes.
    """

    results: list[fpliif.ParseResult]
    label_set: fpliif.LabelSet

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> fpliif.ParseResult:
        return self.results[index]

    @property
    def size(self) -> tuple[int, int]:
        """Output ``(H, W)`` of the frames (one IMAGE batch has one size)."""
        return self.results[0].size


def image_to_frames(image: torch.Tensor) -> list[torch.Tensor]:
    """ComfyUI IMAGE ``B x H x W x C`` (or one ``H x W x C``) -> list of ``3 x H x W`` float views (no copy of
    a float32 IMAGE; an alpha channel is left out)."""
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an IMAGE must be B x H x W x C with C = 1, 3 or 4, got shape {tuple(image.shape)}")
    frames = [frame.movedim(-1, 0).float().cpu() for frame in image]
    return [f.expand(3, -1, -1) if f.shape[0] == 1 else f[:3] for f in frames]


def frames_to_image(frames: list) -> torch.Tensor:
    """List of ``H x W x C`` uint8 arrays or PIL images -> ComfyUI IMAGE ``B x H x W x C`` float in [0, 1]."""
    return torch.stack([torch.from_numpy(np.asarray(f, dtype=np.float32) / 255) for f in frames])


def masks_to_image(masks_bhw: torch.Tensor) -> torch.Tensor:
    """MASK ``B x H x W`` -> grey IMAGE ``B x H x W x 3``."""
    return masks_bhw[..., None].expand(-1, -1, -1, 3).clone()


def check_interrupted() -> None:
    """Raise ComfyUI's interrupt exception if the user pressed cancel (no-op outside ComfyUI)."""
    try:
        import comfy.model_management as mm
    except ImportError:
        return
    mm.throw_exception_if_processing_interrupted()


class _NoProgress:
    def update(self, value: int) -> None:
        pass


def progress_bar(total: int):
    """ComfyUI's progress bar for ``total`` steps, or one that does nothing outside ComfyUI."""
    try:
        import comfy.utils
    except ImportError:
        return _NoProgress()
    return comfy.utils.ProgressBar(total)


def label_legend(parsing: FaceParsing) -> list[dict]:
    """Labels present in the parse, with display name, colour and share of pixels, for the parse node's legend."""
    label_set = parsing.label_set
    counts = np.zeros(len(label_set), dtype=np.float64)
    for result in parsing.results:
        counts += np.bincount(result.label_map().ravel(), minlength=len(counts))[:len(counts)]
    share = counts / max(counts.sum(), 1)
    return [
        {"id": i, "name": name, "display": display, "color": color, "share": round(float(s), 4)}
        for i, (name, display, color, s) in enumerate(zip(label_set.names, label_set.display_names,
                                                           label_set.hex_colors, share))
        if s > 0
    ]


def labels_input(default: str, tooltip: str):
    """The ``labels`` text input with the web picker's table attached (``extra_dict`` set after construction: not
    every ComfyUI version's ``String.Input`` takes it as an argument)."""
    widget = io.String.Input("labels", default=default, tooltip=tooltip)
    widget.extra_dict = {**(getattr(widget, "extra_dict", None) or {}), "fpliif_picker": picker_table()}
    return widget


def picker_table(label_set: fpliif.LabelSet = fpliif.CELEBAMASK_HQ) -> dict:
    """Names, display names, colours and groups for the web label picker (sent with the node definition)."""
    return {
        "labels": [{"id": i, "name": n, "display": d, "color": c}
                   for i, (n, d, c) in enumerate(zip(label_set.names, label_set.display_names, label_set.hex_colors))],
        "groups": {g: list(members) for g, members in label_set.groups.items()},
    }
