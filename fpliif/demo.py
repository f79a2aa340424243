"""A Gradio demo: upload a photo (or pick an example), choose faces, output size and labels, see the overlay with the
faces numbered, the class borders, the colour map and the mask over the photo, and download them with the index map.
Runs on loopback only and works offline.

Gradio is imported inside the functions, so ``import fpliif`` never needs it (it comes with
``pip install fpliif[demo]``). :func:`mark_faces` and :func:`parse_face_numbers` are shared with the ComfyUI nodes.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .image import to_pil, to_tensor
from .masks import refine_mask
from .parser import FaceParser
from .result import ParseResult

__all__ = ["build_demo", "launch", "parse_for_demo", "label_sections", "example_images", "mark_faces", "mask_view",
           "parse_face_numbers", "weights_licence", "DemoOutputs", "DownloadFolder", "LastParse", "DEFAULT_PORT",
           "FACE_CHOICES"]

DEFAULT_PORT = 7860
MAX_DEMO_SIDE = 4096  # keeps one request from running for minutes on a CPU
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = ("astronaut.png", "astronauts_group.jpg")
FACE_CHOICES = {"auto": "auto", "all faces": "all", "largest face": "largest", "whole image": "none"}
MASK_TINT = np.array([255, 0, 200], dtype=np.float32)  # magenta: no skin or hair tone looks like it


def example_images() -> list[str]:
    """Sample inputs shipped in a source checkout (none in an installed wheel)."""
    return [str(EXAMPLES_DIR / name) for name in EXAMPLES if (EXAMPLES_DIR / name).is_file()]


class DemoOutputs(NamedTuple):
    """What one demo request shows and offers for download."""

    overlay: Image.Image  # the colour map over the photo, faces boxed and numbered
    outline: Image.Image  # the borders between classes drawn on the photo
    color_map: Image.Image
    mask_view: Image.Image  # the mask over the photo: the selection tinted, the rest darkened
    mask: Image.Image  # greyscale ``L``
    files: list[str]  # PNGs to download, the index map among them, and the label table
    sections: tuple  # ``(image, [(H x W mask, display name), ...])`` for ``gr.AnnotatedImage``
    info: str  # how the photo was parsed, in words


class DownloadFolder:
    """One temporary folder for a demo's downloads, removed at exit. Each request writes a new sub-folder and the
    oldest are deleted (Gradio has copied them into its own cache by then), so a long-running demo leaves nothing."""

    def __init__(self, keep: int = 8):
        self._root = tempfile.TemporaryDirectory(prefix="fpliif-demo-")
        self.path = Path(self._root.name)
        self.keep = keep
        self._count = itertools.count()

    def new(self) -> Path:
        folder = self.path / f"{next(self._count):08d}"
        folder.mkdir()
        for old in sorted(self.path.iterdir())[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def cleanup(self) -> None:
        self._root.cleanup()


class LastParse:
    """The last photo's parse, so that changing only the labels, face numbers or feather redraws the mask without
    parsing again (one entry: a demo shows one photo at a time)."""

    def __init__(self):
        self.key, self.result = None, None

    def get(self, parser: FaceParser, frame: torch.Tensor, size: int | None, faces: str) -> ParseResult:
        key = (id(parser), hash(frame.numpy().tobytes()), tuple(frame.shape), size, faces)
        if key != self.key:
            self.key, self.result = None, parser(frame, size=size, faces=FACE_CHOICES[faces])
            self.key = key
        return self.result


_DOWNLOADS: DownloadFolder | None = None


def _default_downloads() -> DownloadFolder:
    global _DOWNLOADS
    if _DOWNLOADS is None:
        _DOWNLOADS = DownloadFolder()
    return _DOWNLOADS


def parse_face_numbers(text: str | None) -> list[int] | None:
    """``"all"`` (or empty) -> ``None``; ``"largest"`` -> ``[0]``; ``"0, 2"`` -> ``[0, 2]`` (largest face first)."""
    words = [w.strip().lower() for w in str(text or "").replace(";", ",").split(",") if w.strip()]
    if not words or words == ["all"]:
        return None
    numbers = []
    for word in words:
        word = "0" if word == "largest" else word
        if not word.isdigit():
            raise ValueError(f"faces must be 'all', 'largest' or face numbers such as 0 or 0,2 (largest first, as "
                             f"numbered on the overlay), got {text!r}")
        numbers.append(int(word))
    return sorted(set(numbers))


def mark_faces(picture: Image.Image | np.ndarray, result: ParseResult) -> Image.Image:
    """``picture`` (at the result's output size) with each parsed face's box and number drawn on it."""
    picture = Image.fromarray(picture) if isinstance(picture, np.ndarray) else picture.copy()
    if not result.faces:
        return picture
    out_h, out_w = result.size
    h, w = result.image.shape[-2:]
    sx, sy = out_w / w, out_h / h
    width = max(2, round(max(out_h, out_w) / 400))
    draw = ImageDraw.Draw(picture)
    for number, face in enumerate(result.faces):
        x0, y0, x1, y1 = face.box
        box = (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
        size = max(14, round(0.28 * (box[3] - box[1])))
        font = ImageFont.load_default(size=size)
        draw.rectangle(box, outline=(255, 255, 255), width=width)
        draw.text((box[0] + width, box[1] - size - width), str(number), fill=(255, 255, 255), font=font,
                  stroke_width=max(1, size // 10), stroke_fill=(0, 0, 0))
    return picture


def mask_view(picture: np.ndarray, mask: torch.Tensor) -> Image.Image:
    """The mask over the photo: selected pixels tinted magenta, the rest darkened."""
    m = mask.numpy()[..., None]
    out = picture.astype(np.float32) * (0.35 + 0.65 * m)
    out = out * (1 - 0.4 * m) + MASK_TINT * 0.4 * m
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def _selection_mask(result: ParseResult, labels: list[str], soft: bool, faces: list[int] | None) -> torch.Tensor:
    if not labels:
        return torch.zeros(result.size)
    mask = result.mask(labels, soft=soft)
    if faces is None:
        return mask
    count = max(len(result.faces), 1)  # a photo parsed whole is one face
    if faces[-1] >= count:
        raise ValueError(f"no face {faces[-1]}: {count} face(s) here, numbered 0..{count - 1} on the overlay")
    if not result.faces:
        return mask
    return mask * sum(result.face_region(i) for i in faces)


def parse_for_demo(parser: FaceParser, image, longest_side: int = 0, labels: list[str] | None = None,
                   soft: bool = True, faces: str = "auto", face_numbers: str = "all", feather: float = 0.0,
                   downloads: DownloadFolder | None = None, last: LastParse | None = None) -> DemoOutputs:
    """One demo request.

    Args:
        parser: the loaded model.
        image: a numpy ``H x W x 3`` uint8 array, a PIL image or a path.
        longest_side: output size of the longer side in pixels; 0 keeps the image's size.
        labels: labels and groups for the mask; none gives an empty mask.
        soft: probabilities (smooth edges) or a hard 0/1 mask.
        faces: a key of :data:`FACE_CHOICES` (which faces to find and parse).
        face_numbers: the faces the mask covers: ``all`` or numbers as drawn on the overlay (``"0"``, ``"0,2"``).
        feather: soft edge in pixels added to the mask.
        downloads: where the PNGs go (default: one folder for the process, cleaned as it goes).
        last: reuse this photo's parse when only the mask choices changed.
    """
    if image is None:
        raise ValueError("upload an image first")
    if faces not in FACE_CHOICES:
        raise ValueError(f"faces must be one of {', '.join(FACE_CHOICES)}, got {faces!r}")
    frame = to_tensor(image)
    size = int(longest_side) or None
    if size is None and max(frame.shape[-2:]) > MAX_DEMO_SIDE:
        size = MAX_DEMO_SIDE
    if size is not None and size > MAX_DEMO_SIDE:
        raise ValueError(f"output size {size} is over the demo's {MAX_DEMO_SIDE} px limit; choose a smaller one")
    numbers = parse_face_numbers(face_numbers)
    result = (last or LastParse()).get(parser, frame, size, faces)
    mask = _selection_mask(result, list(labels or []), soft, numbers)
    if feather:
        mask = refine_mask(mask[None], feather=float(feather))[0]
    picture = result.picture()
    shown = DemoOutputs(mark_faces(result.overlay(), result), result.outline(max(1, round(max(result.size) / 700))),
                        result.color_map(), mask_view(picture, mask), to_pil(mask), [], label_sections(result),
                        _describe(result))
    folder = (downloads or _default_downloads()).new()
    pictures = {"overlay": shown.overlay, "outline": shown.outline, "color": shown.color_map, "mask": shown.mask,
                "index": Image.fromarray(result.label_map(), mode="L")}
    for kind, picture_out in pictures.items():
        picture_out.save(folder / f"fpliif_{kind}.png")
        shown.files.append(str(folder / f"fpliif_{kind}.png"))
    table = folder / "fpliif_labels.txt"
    table.write_text("id\tname\tdisplay name\tcolour\n" + "".join(
        f"{i}\t{n}\t{d}\t{c}\n" for i, (n, d, c) in enumerate(zip(result.label_set.names,
                                                                   result.label_set.display_names,
                                                                   result.label_set.hex_colors))))
    shown.files.append(str(table))
    return shown


def _describe(result: ParseResult) -> str:
    if result.faces:
        return (f"{len(result.faces)} face(s) found, numbered on the overlay (largest first); each was parsed "
                "aligned and painted back at the photo's resolution.")
    how = "parsed the whole image as it is (no face detection)" if result.how == "whole image" else result.how
    return f"{how[0].upper()}{how[1:]}; for the mask it counts as face 0."


def label_sections(result: ParseResult, min_share: float = 1e-3) -> tuple[Image.Image, list[tuple[np.ndarray, str]]]:
    """The image and one ``H x W`` float mask per label present, named by display name, for ``gr.AnnotatedImage``."""
    image = Image.fromarray(result.picture())
    labels = result.label_map()
    sections = []
    for index, name in enumerate(result.label_set.display_names[1:], start=1):
        region = labels == index
        if region.mean() >= min_share:
            sections.append((region.astype(np.float32), name))
    return image, sections


def weights_licence(model: str | None = None, revision: str | None = None) -> str:
    """The licence of a model's weights, in words, from its model card (``README.md`` beside the weights)."""
    from .hub import locate_model

    try:
        folder = locate_model(model, revision, local_files_only=True).weights.parent
    except (FileNotFoundError, ValueError, OSError):
        folder = None
    card = folder / "README.md" if folder is not None else None
    if card is None or not card.is_file():
        return "not stated in the files here: check the model's card where you got the weights."
    text = card.read_text(encoding="utf-8", errors="replace")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    sentence = next((p for p in paragraphs if "licence" in p.lower() and "**" in p), "")
    fields = dict(line.split(":", 1) for line in text.split("---")[1].splitlines() if ":" in line) \
        if text.startswith("---") else {}
    name = (fields.get("license_name") or fields.get("license") or "").strip()
    return " ".join(part for part in (f"`{name}`." if name else "", sentence.replace("**", "")) if part) or \
        "not stated in the model card."


def _chip_css(parser: FaceParser) -> str:
    """Colour chips before the label checkboxes (Gradio has no per-choice colours): one CSS rule per label."""
    rules = [f"#fpliif-labels label:nth-of-type({k}) span::before{{background:{color}}}"
             for k, color in enumerate(parser.label_set.hex_colors[1:], start=1)]
    return ("<style>#fpliif-labels label span::before{content:'';display:inline-block;width:.8em;height:.8em;"
            "border-radius:50%;margin-right:.35em;border:1px solid #0006;vertical-align:-.05em}"
            + "".join(rules) + "</style>")


def build_demo(parser: FaceParser, examples: list[str] | None = None, licence: str | None = None):
    """The Gradio Blocks app around ``parser``; ``examples`` defaults to :func:`example_images`, ``licence`` (the
    weights' licence, shown on the page) to the shipped weights' (:func:`weights_licence`)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    examples = example_images() if examples is None else examples
    licence = weights_licence() if licence is None else licence
    label_set = parser.label_set
    label_choices = list(zip(label_set.display_names[1:], label_set.names[1:]))
    groups = list(label_set.groups)
    downloads, last = DownloadFolder(), LastParse()

    def run(image, longest_side, chosen_groups, chosen_labels, soft, faces, face_numbers, feather):
        try:
            out = parse_for_demo(parser, image, longest_side, [*(chosen_groups or []), *(chosen_labels or [])], soft,
                                 faces, face_numbers, feather, downloads, last)
        except (ValueError, KeyError) as e:
            raise gr.Error(str(e.args[0] if isinstance(e, KeyError) else e)) from e
        return tuple(out)

    with gr.Blocks(title="FP-LIIF face parsing", analytics_enabled=False, delete_cache=(600, 600)) as demo:
        gr.HTML(_chip_css(parser))
        gr.Markdown("## FP-LIIF face parsing\nLabel every pixel of every face at any output resolution; everything "
                    f"runs on this machine. **Licence of the weights:** {licence}")
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(label="photo", type="numpy", image_mode="RGB", sources=["upload", "clipboard"],
                                 value=examples[0] if examples else None, height=300)
                if examples:
                    gr.Examples([[e] for e in examples], inputs=[image], label="examples (click one)",
                                elem_id="fpliif-examples")
                button = gr.Button("Parse", variant="primary")
                with gr.Row():
                    faces = gr.Radio(list(FACE_CHOICES), value="auto", label="faces to parse",
                                     info="auto finds every face; whole image is for photos already cropped to a face")
                    face_numbers = gr.Textbox("all", label="mask on faces", max_lines=1,
                                              info="all, or numbers from the overlay: 0 or 0,2")
                group_box = gr.CheckboxGroup(groups, value=["face"] if "face" in groups else [], label="groups",
                                             info="; ".join(f"{g}: {', '.join(label_set.display(n) for n in m)}"
                                                            for g, m in list(label_set.groups.items())[:3]) + "; ...")
                label_box = gr.CheckboxGroup(label_choices, value=["hair"] if "hair" in label_set.names else [],
                                             label="labels", elem_id="fpliif-labels")
                with gr.Row():
                    soft = gr.Checkbox(True, label="soft mask (probabilities)")
                    feather = gr.Slider(0, 32, value=0, step=0.5, label="feather (px)")
                longest_side = gr.Slider(0, MAX_DEMO_SIDE, value=0, step=64,
                                         label="output size, longer side in px (0 = the photo's size)")
            with gr.Column(scale=1):
                info = gr.Markdown()
                with gr.Tabs():
                    with gr.Tab("overlay"):
                        overlay = gr.Image(label="overlay (faces numbered)", format="png", type="pil",
                                           interactive=False, height=380)
                    with gr.Tab("outlines"):
                        outline = gr.Image(label="class borders", format="png", type="pil", interactive=False,
                                           height=380)
                    with gr.Tab("colour map"):
                        color_map = gr.Image(label="colour map", format="png", type="pil", interactive=False,
                                             height=380)
                    with gr.Tab("labels (hover)"):
                        colors = dict(zip(label_set.display_names, label_set.hex_colors))
                        sections = gr.AnnotatedImage(label="labels (hover to highlight)", color_map=colors,
                                                     height=380)
                with gr.Row():
                    mask_over = gr.Image(label="mask over the photo", format="png", type="pil", interactive=False,
                                         height=240)
                    mask = gr.Image(label="mask", format="png", image_mode="L", type="pil", interactive=False,
                                    height=240)
                files = gr.File(label="download: overlay, outline, colour map, mask, index map (pixel = class id), "
                                      "label table", file_count="multiple", interactive=False)
        inputs = [image, longest_side, group_box, label_box, soft, faces, face_numbers, feather]
        outputs = [overlay, outline, color_map, mask_over, mask, files, sections, info]
        button.click(run, inputs, outputs, api_name="parse")
        # The mask follows the mask choices at once; the photo's parse is reused (LastParse).
        for event in (group_box.change, label_box.change, soft.change, face_numbers.submit, face_numbers.blur,
                      feather.release):
            event(run, inputs, outputs, api_visibility="private", show_progress="hidden")
        if examples:  # show a result at once for the preloaded example
            demo.load(run, inputs, outputs, api_visibility="private")
    return demo


def launch(model: str | None = None, port: int = DEFAULT_PORT, device: str | None = "auto",
           block: bool = True, revision: str | None = None, tta: str = "none"):
    """Load the model (as :meth:`FaceParser.from_pretrained`, with test-time augmentation ``tta``) and serve the
    demo on ``127.0.0.1:port`` (never shared publicly)."""
    parser = FaceParser.from_pretrained(model, revision=revision, device=device, tta=tta)
    demo = build_demo(parser, licence=weights_licence(model, revision))
    demo.launch(server_name="127.0.0.1", server_port=port, share=False, prevent_thread_lock=True, quiet=True)
    print(f"FP-LIIF demo on http://127.0.0.1:{port} (this machine only). Press Ctrl+C to stop.", flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo
