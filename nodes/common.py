"""What the FP-LIIF nodes share: the host hooks (guarded, so this imports without ComfyUI), tensor layout
conversion at the edge, and the ``FPLIIF_PARSING`` value passed between nodes.

ComfyUI images are ``B x H x W x C`` floats in [0, 1] and masks ``B x H x W``; the library works in
``C x H x W``. Conversion happens here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

try:  # the pack's own copy of the library, when ComfyUI loads the repository root as a package
    from .. import fpliif
    from ..fpliif import device, hub, image, masks, pretrained
except ImportError:  # nodes/ imported on its own (tests, an installed fpliif)
    import fpliif
    from fpliif import device, hub, image, masks, pretrained

try:  # the V3 node API exists only inside ComfyUI
    from comfy_api.latest import io
except ImportError:
    io = None

__all__ = [
    "fpliif", "device", "hub", "image", "masks", "pretrained", "io", "CATEGORY", "FaceParsing",
    "image_to_frames", "frames_to_image", "check_interrupted", "progress_bar", "label_legend", "PARSER_TYPE",
    "PARSING_TYPE",
]

CATEGORY = "FP-LIIF"
PARSER_TYPE = io.Custom("FPLIIF_MODEL") if io is not None else None
PARSING_TYPE = io.Custom("FPLIIF_PARSING") if io is not None else None


@dataclass
class FaceParsing:
    """The ``FPLIIF_PARSING`` value: one parse per frame of an IMAGE batch.

    Logits are kept as float16 on the CPU (half the memory of float32, and far more than a mask needs),
    so a long video batch at full resolution still fits in RAM.

    Attributes:
        logits: per frame, ``K x H x W`` float16 class logits.
        label_set: names, colours and groups of the K classes.
        temperature: the model's softmax temperature.
    """

    logits: list[torch.Tensor]
    label_set: fpliif.LabelSet
    temperature: float

    def __len__(self) -> int:
        return len(self.logits)

    def result(self, index: int) -> fpliif.ParseResult:
        """Frame ``index`` as a library :class:`fpliif.ParseResult` (float32 logits)."""
        logits = self.logits[index].float()
        return fpliif.ParseResult.from_logits(logits, self.label_set, self.temperature)


def image_to_frames(image: torch.Tensor) -> list[torch.Tensor]:
    """ComfyUI IMAGE ``B x H x W x C`` (or one ``H x W x C``) -> list of ``3 x H x W`` float frames."""
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4:
        raise ValueError(f"an IMAGE must be B x H x W x C, got shape {tuple(image.shape)}")
    return [frame.movedim(-1, 0)[:3].float() for frame in image]


def frames_to_image(frames: list[torch.Tensor]) -> torch.Tensor:
    """List of ``3 x H x W`` frames in [0, 1] -> ComfyUI IMAGE ``B x H x W x 3``."""
    return torch.stack([f.movedim(0, -1) for f in frames]).float()


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
    """Labels present in the parse, with colour and share of pixels, for the parse node's legend."""
    counts = torch.zeros(len(parsing.label_set), dtype=torch.float64)
    for logits in parsing.logits:
        counts += torch.bincount(logits.argmax(0).flatten(), minlength=len(counts)).double()
    share = counts / counts.sum().clamp(min=1)
    return [
        {"id": i, "name": name, "color": color, "share": round(float(s), 4)}
        for i, (name, color, s) in enumerate(zip(parsing.label_set.names, parsing.label_set.hex_colors, share))
        if s > 0
    ]
