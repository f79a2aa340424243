"""One render policy: the ComfyUI nodes, the demo and ``fpliif parse --soft`` give the same soft mask, and it is
the dense decoder's (the labels-only refinement, which the nodes and the demo once used, is off by 0.3 here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import example_photo
from PIL import Image

import fpliif
from fpliif.cli import main
from fpliif.image import to_tensor
from nodes import labels_to_mask, load_parser, parse_faces

SIZE = 256  # output side; the face is 128 px, the shipped weights' input size
LEVEL = 1 / 255


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> Path:
    """The example photo at 128 px: real hair edges, where soft masks are not 0 or 1."""
    return example_photo(tmp_path_factory.mktemp("soft") / "face.png", 128)


@pytest.fixture(scope="module")
def dense_hair(face) -> torch.Tensor:
    """The reference: the decoder evaluated at every output pixel."""
    parser = fpliif.FaceParser(fpliif.from_pretrained(), device="cpu", mode="dense")
    return parser(face, size=SIZE).mask("hair")


def test_node_demo_and_cli_soft_masks_are_the_same_and_right(face, dense_hair, tmp_path):
    pytest.importorskip("gradio")
    from fpliif.demo import parse_for_demo

    out = tmp_path / "out"
    assert main(["parse", str(face), "--out", str(out), "--labels", "hair", "--save", "mask", "--soft",
                 "--size", str(SIZE), "--quiet"]) == 0
    cli = np.asarray(Image.open(out / "face_mask_hair.png"), dtype=np.float32) / 255

    parser = load_parser(fpliif.DEFAULT_PRETRAINED, device="cpu", folders=[])
    image = to_tensor(Image.open(face)).movedim(0, -1)[None]  # ComfyUI IMAGE, B x H x W x C
    parsing = parse_faces(parser, image, longest_side=SIZE).parsing
    node = labels_to_mask(parsing, "hair", mode="soft").mask[0].numpy()

    demo_parser = fpliif.FaceParser.from_pretrained(device="cpu")  # as `fpliif demo` loads it
    demo_mask = parse_for_demo(demo_parser, str(face), SIZE, ["hair"], soft=True).mask
    demo = np.asarray(demo_mask, dtype=np.float32) / 255

    assert cli.shape == node.shape == demo.shape == tuple(dense_hair.shape)
    assert np.array_equal(cli, demo)
    assert np.abs(node - cli).max() <= LEVEL / 2 + 1e-6  # the PNG's rounding only: the node keeps no logits
    assert 0.02 < cli.mean() < 0.98 and len(np.unique(cli)) > 50  # a real, soft hair mask
    assert np.abs(cli - dense_hair.numpy()).max() < 0.1


def test_labels_only_rendering_would_be_caught(face):
    """Guards the test above: rendering soft masks with the label map's refinement (as the nodes and the demo once
    did) is far from the dense decoder on this face, so the comparison there can fail."""
    parser = fpliif.FaceParser(fpliif.from_pretrained(), device="cpu", faces="none")
    dense_hair = fpliif.FaceParser(fpliif.from_pretrained(), device="cpu", mode="dense", faces="none")(
        face, size=SIZE).mask("hair")
    result = parser(face, size=SIZE)
    region = result.regions[0]
    labels_only = torch.softmax(region.render(0, 0, SIZE, SIZE, False) / result.temperature, 0)[13]
    assert (labels_only - dense_hair).abs().max() > 0.2
    assert (result.mask("hair") - dense_hair).abs().max() < 0.1
