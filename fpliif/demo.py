"""A Gradio demo: upload a face (or pick the example), choose the output size and labels, see the overlay,
colour map and mask, and download them as PNGs. Runs on loopback only and works offline.

Gradio is imported inside the functions, so ``import fpliif`` never needs it (it comes with
``pip install fpliif[demo]``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .image import to_pil, to_tensor
from .masks import refine_mask
from .parser import FaceParser

__all__ = ["build_demo", "launch", "parse_for_demo", "label_sections", "example_images", "DEFAULT_PORT"]

DEFAULT_PORT = 7860
MAX_DEMO_SIDE = 4096  # keeps one request from running for minutes on a CPU
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def example_images() -> list[str]:
    """Sample inputs shipped in a source checkout (none in an installed wheel)."""
    return [str(EXAMPLES_DIR / "astronaut.png")] if (EXAMPLES_DIR / "astronaut.png").is_file() else []


def parse_for_demo(parser: FaceParser, image, longest_side: int = 0, labels: list[str] | None = None,
                   soft: bool = True, zoom_to_face: bool = False, feather: float = 0.0):
    """One demo request: an image -> overlay, colour map, mask (PIL ``L``), the paths of the three PNGs and
    the per-label sections for ``gr.AnnotatedImage``.

    Args:
        parser: the loaded model.
        image: a numpy ``H x W x 3`` uint8 array, a PIL image or a path.
        longest_side: output size of the longer side in pixels; 0 keeps the image's size.
        labels: labels and groups for the mask; none gives an empty mask.
        soft: probabilities (smooth edges) or a hard 0/1 mask.
        zoom_to_face: crop to the largest face before parsing (crisper when the face is small).
        feather: soft edge in pixels added to the mask.
    """
    if image is None:
        raise ValueError("upload an image first")
    frame = to_tensor(image)
    size = int(longest_side) or None
    if size is None and max(frame.shape[-2:]) > MAX_DEMO_SIDE:
        size = MAX_DEMO_SIDE
    if size is not None and size > MAX_DEMO_SIDE:
        raise ValueError(f"output size {size} is over the demo's {MAX_DEMO_SIDE} px limit; choose a smaller one")
    result = parser(frame, size=size, faces="largest" if zoom_to_face else None)
    if labels:
        mask = refine_mask(result.mask(labels, soft=soft)[None], feather=float(feather))[0]
    else:
        mask = np.zeros(result.size, dtype=np.float32)
    mask_image = to_pil(mask)
    overlay, color_map = result.overlay(), result.color_map()
    folder = Path(tempfile.mkdtemp(prefix="fpliif-demo-"))
    files = []
    for name, picture in (("overlay", overlay), ("color_map", color_map), ("mask", mask_image)):
        path = folder / f"fpliif_{name}.png"
        picture.save(path)
        files.append(str(path))
    return overlay, color_map, mask_image, files, label_sections(result)


def label_sections(result, min_share: float = 1e-3) -> tuple[Image.Image, list[tuple[np.ndarray, str]]]:
    """The image and one ``H x W`` float mask per label present, for ``gr.AnnotatedImage`` (hover a label)."""
    image = Image.fromarray(result.picture())
    labels = result.labels.numpy()
    sections = []
    for index, name in enumerate(result.label_set.names[1:], start=1):
        region = labels == index
        if region.mean() >= min_share:
            sections.append((region.astype(np.float32), name))
    return image, sections


def build_demo(parser: FaceParser, examples: list[str] | None = None):
    """The Gradio Blocks app around ``parser``; ``examples`` defaults to :func:`example_images`."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    examples = example_images() if examples is None else examples
    choices = [*parser.label_set.groups, *parser.label_set.names[1:]]
    default_labels = ["hair"] if "hair" in choices else choices[:1]

    def run(image, longest_side, labels, soft, zoom, feather):
        try:
            return parse_for_demo(parser, image, longest_side, labels, soft, zoom, feather)
        except (ValueError, KeyError) as e:
            raise gr.Error(str(e.args[0] if isinstance(e, KeyError) else e)) from e

    with gr.Blocks(title="FP-LIIF face parsing", analytics_enabled=False) as demo:
        gr.Markdown("# FP-LIIF face parsing\nLabel every pixel of a face at any output resolution. "
                    "Pick labels or groups for the mask; everything runs on this machine.")
        with gr.Row():
            with gr.Column():
                image = gr.Image(label="face photo", type="numpy", image_mode="RGB", sources=["upload", "clipboard"],
                                 value=examples[0] if examples else None)
                longest_side = gr.Slider(0, MAX_DEMO_SIDE, value=0, step=64,
                                         label="output size, longer side in px (0 = the image's size)")
                labels = gr.CheckboxGroup(choices, value=default_labels, label="mask labels and groups")
                with gr.Row():
                    soft = gr.Checkbox(True, label="soft mask (probabilities)")
                    zoom = gr.Checkbox(False, label="zoom to the largest face")
                feather = gr.Slider(0, 32, value=0, step=0.5, label="feather (px)")
                button = gr.Button("Parse", variant="primary")
            with gr.Column():
                overlay = gr.Image(label="overlay", format="png", type="pil", interactive=False)
                color_map = gr.Image(label="colour map", format="png", type="pil", interactive=False)
                mask = gr.Image(label="mask", format="png", image_mode="L", type="pil", interactive=False)
                files = gr.File(label="download PNGs", file_count="multiple", interactive=False)
                colors = dict(zip(parser.label_set.names, parser.label_set.hex_colors))
                sections = gr.AnnotatedImage(label="labels (hover to highlight)", color_map=colors, height=360)
        inputs = [image, longest_side, labels, soft, zoom, feather]
        outputs = [overlay, color_map, mask, files, sections]
        if examples:
            gr.Examples([[e] for e in examples], inputs=[image])
        button.click(run, inputs, outputs, api_name="parse")
        if examples:  # show a result at once for the preloaded example
            demo.load(run, inputs, outputs, api_visibility="private")
    return demo


def launch(model: str | None = None, port: int = DEFAULT_PORT, device: str | None = "auto",
           block: bool = True, revision: str | None = None):
    """Load the model (as :meth:`FaceParser.from_pretrained`) and serve the demo on ``127.0.0.1:port``
    (never shared publicly)."""
    parser = FaceParser.from_pretrained(model, revision=revision, device=device)
    demo = build_demo(parser)
    demo.launch(server_name="127.0.0.1", server_port=port, share=False, prevent_thread_lock=not block)
    return demo
