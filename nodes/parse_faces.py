"""FP-LIIF Parse Faces: every frame of an IMAGE batch -> a parse of each face at any resolution, an overlay with
the faces numbered, a colour map, and the label map as an IMAGE and a MASK."""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import torch

from .common import (
    CATEGORY,
    PARSER_TYPE,
    PARSING_TYPE,
    FaceParsing,
    check_interrupted,
    demo,
    fpliif,
    frames_to_image,
    image_to_frames,
    io,
    label_legend,
    progress_bar,
)

__all__ = ["FACE_CHOICES", "VIEWS", "parse_faces", "ParseOutputs", "faces_table"]

# What the node shows -> the library's ``faces`` mode.
FACE_CHOICES = {
    "auto": "auto",
    "all faces": "all",
    "largest face": "largest",
    "whole image (no face detection)": "none",
}
VIEWS = ["colours", "outlines"]


class ParseOutputs(NamedTuple):
    """What Parse Faces gives."""

    parsing: FaceParsing
    overlay: torch.Tensor  # IMAGE B x H x W x 3: colours or class borders over the photo, faces numbered
    color_map: torch.Tensor  # IMAGE B x H x W x 3
    label_map: torch.Tensor  # IMAGE B x H x W x 3: class id / 255 in every channel (Save Image writes the ids)
    label_ids: torch.Tensor  # MASK B x H x W: the same values
    faces: str  # JSON: per frame, the faces found (number, box, crop box, score)


def parse_faces(parser: fpliif.FaceParser, image: torch.Tensor, longest_side: int = 0, faces: str = "auto",
                view: str = VIEWS[0], overlay_opacity: float = 0.5, number_faces: bool = True,
                min_face_score: float = 0.6) -> ParseOutputs:
    """Parse each frame of a ComfyUI IMAGE.

    Args:
        parser: the loaded model.
        image: ``B x H x W x C`` float in [0, 1]; every frame is parsed, one at a time.
        longest_side: output size of the longer side in pixels, aspect kept; 0 for the image's own size.
        faces: a key of :data:`FACE_CHOICES`: ``auto`` finds the faces and parses each aligned (a frame with no
            face found is parsed whole), ``all faces`` is the same, ``largest face`` parses only the largest,
            ``whole image`` parses the frame as it is (for pre-cropped faces).
        view: ``colours`` (the colour map blended over the photo) or ``outlines`` (class borders on the photo).
        overlay_opacity: opacity of the colours in the overlay.
        number_faces: draw each face's box and number (what Labels to Mask's ``faces`` refers to).
        min_face_score: detection confidence a face needs, in (0, 1).
    """
    if faces not in FACE_CHOICES:
        raise ValueError(f"faces must be one of {list(FACE_CHOICES)}, got {faces!r}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    frames = image_to_frames(image)
    size = int(longest_side) or None
    bar = progress_bar(len(frames))
    results, overlays, colors = [], [], []
    for frame in frames:
        check_interrupted()
        result = parser(frame, size=size, faces=FACE_CHOICES[faces], min_face_score=min_face_score)
        result.image = frame  # a view of the IMAGE ComfyUI holds anyway, not the library's float copy
        picture = result.overlay(overlay_opacity) if view == "colours" else result.outline(_line_width(result))
        overlays.append(demo.mark_faces(picture, result) if number_faces else picture)
        colors.append(result.color_map())
        results.append(result)
        bar.update(1)
    ids = torch.stack([torch.from_numpy(r.label_map()).float() / 255 for r in results])
    parsing = FaceParsing(results, parser.label_set)
    return ParseOutputs(parsing, frames_to_image(overlays), frames_to_image(colors),
                        ids[..., None].expand(-1, -1, -1, 3).clone(), ids, json.dumps(faces_table(parsing)))


def _line_width(result: fpliif.ParseResult) -> int:
    return max(1, round(max(result.size) / 700))


def faces_table(parsing: FaceParsing) -> list[dict]:
    """Per frame, the faces: ``{"frame", "face", "box", "crop_box", "score"}`` in output pixels (a frame parsed
    whole is face 0 with the whole frame as its box)."""
    rows = []
    for k, result in enumerate(parsing.results):
        out_h, out_w = result.size
        h, w = result.image.shape[-2:]
        scale = np.array([out_w / w, out_h / h] * 2)
        if not result.faces:
            rows.append({"frame": k, "face": 0, "box": [0, 0, out_w, out_h], "crop_box": [0, 0, out_w, out_h],
                         "score": None, "how": result.how})
        for i, face in enumerate(result.faces):
            rows.append({"frame": k, "face": i, "box": [round(float(v), 1) for v in np.array(face.box) * scale],
                         "crop_box": [round(float(v), 1) for v in np.array(face.crop_box) * scale],
                         "score": round(face.score, 3)})
    return rows


if io is not None:

    class ParseFaces(io.ComfyNode):
        """The ComfyUI node around :func:`parse_faces`."""

        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(
                node_id="FPLIIF_ParseFaces",
                display_name="FP-LIIF Parse Faces",
                category=CATEGORY,
                description="Find the faces in each frame and label every pixel of each (skin, eyes, brows, lips, "
                            "hair, ...) at the image's own resolution or any other.",
                inputs=[
                    PARSER_TYPE.Input("model", tooltip="the model from FP-LIIF Load Model"),
                    io.Image.Input("image", tooltip="one image or a batch (a video's frames): every frame is parsed"),
                    io.Int.Input("longest_side", default=0, min=0, max=fpliif.parser.MAX_SIDE, step=8,
                                 tooltip="output size of the longer side in pixels; 0: the image's own size "
                                         "(masks line up with the photo)"),
                    io.Combo.Input("faces", options=list(FACE_CHOICES), default="auto",
                                   tooltip="auto / all faces: find the faces and parse each at full detail (a frame "
                                           "with no face is parsed whole); largest face: only the largest; whole "
                                           "image: no face detection (pre-cropped faces)"),
                    io.Combo.Input("view", options=VIEWS, default=VIEWS[0],
                                   tooltip="overlay: label colours over the photo, or the borders between labels "
                                           "drawn on the photo (for checking edges)"),
                    io.Float.Input("overlay_opacity", default=0.5, min=0.0, max=1.0, step=0.05,
                                   tooltip="opacity of the label colours in the overlay (colours view)"),
                    io.Boolean.Input("number_faces", default=True,
                                     tooltip="draw each face's box and number on the overlay: the numbers that "
                                             "Labels to Mask's 'faces' takes"),
                    io.Float.Input("min_face_score", default=0.6, min=0.05, max=0.95, step=0.05,
                                   tooltip="detection confidence a face needs: lower it when a face is missed, "
                                           "raise it when something that is not a face gets parsed"),
                ],
                outputs=[
                    PARSING_TYPE.Output(display_name="parsing",
                                        tooltip="the parse of every frame, for Labels to Mask and Cut Out"),
                    io.Image.Output(display_name="overlay",
                                    tooltip="the photo with the labels' colours or borders, faces numbered"),
                    io.Image.Output(display_name="color_map", tooltip="each label in its colour"),
                    io.Image.Output(display_name="label_map",
                                    tooltip="class ids as grey levels (id / 255): Save Image writes the same "
                                            "index PNG as 'fpliif parse'"),
                    io.Mask.Output(display_name="label_ids", tooltip="the label map as a MASK batch (id / 255)"),
                    io.String.Output(display_name="faces",
                                     tooltip="JSON: per frame, each face's number, box, crop box and score"),
                ],
            )

        @classmethod
        def execute(cls, model, image, longest_side: int, faces: str, view: str, overlay_opacity: float,
                    number_faces: bool, min_face_score: float = 0.6) -> io.NodeOutput:
            out = parse_faces(model, image, longest_side, faces, view, overlay_opacity, number_faces,
                              min_face_score)
            counts = [len(r.faces) for r in out.parsing.results]
            return io.NodeOutput(*out, ui={"fpliif_legend": label_legend(out.parsing), "fpliif_faces": counts})
