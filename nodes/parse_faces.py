"""FP-LIIF Parse Faces: every frame of an IMAGE batch -> a parse at any resolution, a colour map and an overlay."""

from __future__ import annotations

import torch

from .common import (
    CATEGORY,
    PARSER_TYPE,
    PARSING_TYPE,
    FaceParsing,
    check_interrupted,
    fpliif,
    frames_to_image,
    image_to_frames,
    io,
    label_legend,
    progress_bar,
)
from .common import image as image_module  # `image` is the node's input

__all__ = ["FACE_MODES", "parse_faces"]

FACE_MODES = ["all faces", "largest face (zoom in)"]


def parse_faces(parser: fpliif.FaceParser, image: torch.Tensor, longest_side: int = 0,
                face: str = FACE_MODES[0], overlay_opacity: float = 0.5
                ) -> tuple[FaceParsing, torch.Tensor, torch.Tensor]:
    """Parse each frame of a ComfyUI IMAGE.

    Args:
        parser: the loaded model.
        image: ``B x H x W x C`` float in [0, 1]; every frame is parsed, one at a time.
        longest_side: output size of the longer side in pixels, aspect kept; 0 for the image's own size.
        face: ``"all faces"`` parses the whole frame; ``"largest face (zoom in)"`` crops to the largest
            head first (crisper on photos where the face is small; other faces become background).
        overlay_opacity: opacity of the colour map over the image in the overlay.

    Returns:
        The parsing (one ``K x h x w`` float16 logit map per frame), the colour map and the overlay,
        both IMAGE ``B x h x w x 3``.
    """
    if face not in FACE_MODES:
        raise ValueError(f"face must be one of {FACE_MODES}, got {face!r}")
    frames = image_to_frames(image)
    size = int(longest_side) or None
    bar = progress_bar(len(frames))
    logits, colors, overlays = [], [], []
    for frame in frames:
        check_interrupted()
        if face == FACE_MODES[1]:
            result = parser(frame, size=size, faces="largest")
        else:
            result = parser(frame, size=size)
        logits.append(result.logits.half())
        colors.append(image_module.to_tensor(result.color_map()))
        overlays.append(image_module.to_tensor(result.overlay(overlay_opacity)))
        bar.update(1)
    parsing = FaceParsing(logits, parser.label_set, parser.cfg.temperature)
    return parsing, frames_to_image(colors), frames_to_image(overlays)


if io is not None:

    class ParseFaces(io.ComfyNode):
        """The ComfyUI node around :func:`parse_faces`."""

        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(
                node_id="FPLIIF_ParseFaces",
                display_name="FP-LIIF Parse Faces",
                category=CATEGORY,
                description="Label every pixel of the face (skin, eyes, brows, lips, hair, ...) for each frame, "
                            "at the image's own resolution or any other.",
                inputs=[
                    PARSER_TYPE.Input("model"),
                    io.Image.Input("image", tooltip="one image or a batch (every frame is parsed)"),
                    io.Int.Input("longest_side", default=0, min=0, max=fpliif.parser.MAX_SIDE, step=8,
                                 tooltip="output size of the longer side; 0 = the image's own size"),
                    io.Combo.Input("face", options=FACE_MODES, default=FACE_MODES[0],
                                   tooltip="zoom in on the largest face: crisper when the face is small in the "
                                           "photo; other faces become background"),
                    io.Float.Input("overlay_opacity", default=0.5, min=0.0, max=1.0, step=0.05),
                ],
                outputs=[
                    PARSING_TYPE.Output(display_name="parsing"),
                    io.Image.Output(display_name="color_map"),
                    io.Image.Output(display_name="overlay"),
                ],
            )

        @classmethod
        def execute(cls, model, image, longest_side: int, face: str, overlay_opacity: float) -> io.NodeOutput:
            parsing, color_map, overlay = parse_faces(model, image, longest_side, face, overlay_opacity)
            return io.NodeOutput(parsing, color_map, overlay, ui={"fpliif_legend": label_legend(parsing)})
