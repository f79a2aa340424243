"""Model cards: the ``README.md`` written beside the weights (Hugging Face Hub conventions).

The metadata block comes from ``huggingface_hub.ModelCardData``, so it is the YAML the Hub expects; the text
is written here rather than with ``ModelCard.from_template``, which needs jinja2 (not a dependency).
"""

from __future__ import annotations

from .config import FPLIIFConfig

__all__ = ["model_card"]


def model_card(cfg: FPLIIFConfig, data: str = "unspecified", licence: str = "other", metrics: str = "",
               command: str = "", notes: str = "") -> str:
    """A model card with YAML front matter, the labels, how to use the weights and what they were trained on."""
    from huggingface_hub import ModelCardData

    metadata = ModelCardData(library_name="fpliif", license=licence, pipeline_tag="image-segmentation",
                             tags=["face-parsing", "image-segmentation", "fpliif"])
    labels = "\n".join(f"| {i} | {n} |" for i, n in enumerate(cfg.label_names))
    sections = [
        "---",
        metadata.to_yaml(),
        "---",
        f"# FP-LIIF face parser ({cfg.model_type}, {cfg.num_classes} classes, {cfg.label_set})",
        "",
        "FP-LIIF (Sarkar et al., CVPR 2023): an EDSR-style encoder with instance norm and a LIIF decoder that",
        "predicts class logits at any continuous coordinate, so one "
        f"{cfg.input_size}x{cfg.input_size} input gives a label map at any size.",
        "",
        "## Use\n",
        "```python\nfrom fpliif import FaceParser\n\nparser = FaceParser.from_pretrained(\"PATH_OR_REPO\")\n"
        "result = parser(\"face.jpg\", size=1024)\nresult.color_map().save(\"parsing.png\")\n```",
        "",
        f"## Training data\n\n{data}",
        "",
        f"## Labels\n\n| id | name |\n|---|---|\n{labels}",
    ]
    if metrics:
        sections += ["", f"## Evaluation\n\n{metrics}"]
    if command:
        sections += ["", f"## Reproduce\n\n```bash\n{command}\n```"]
    if notes:
        sections += ["", f"## Limitations\n\n{notes}"]
    return "\n".join(sections) + "\n"
