"""Inputs the parser refuses with a message that names the value and the fix: NaN images, the wrong channel
layout, a batch size of 0 (``FaceParser.__call__`` and ``parse_frames``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import face_image, tiny_model

from fpliif import FaceParser


@pytest.fixture(scope="module")
def parser() -> FaceParser:
    return FaceParser(tiny_model(), device="cpu", faces="none")


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "4"])
def test_batch_size_must_be_a_whole_number(parser, batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be a whole number >= 1, got {batch_size!r}"):
        parser(face_image(), batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        next(parser.parse_frames([face_image()], batch_size=batch_size))


def test_nan_image_is_an_error_not_a_blank_result(parser):
    image = torch.rand(3, 32, 32)
    image[0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="1 NaN or infinite value"):
        parser(image)
    with pytest.raises(ValueError, match="NaN or infinite"):
        parser(torch.stack([torch.rand(3, 32, 32), image]))


def test_channels_last_tensor_says_which_layout(parser):
    with pytest.raises(ValueError, match=r"C x H x W \(channels first.*permute\(0, 3, 1, 2\)"):
        parser(torch.rand(2, 40, 40, 3))  # a B x H x W x C batch
    with pytest.raises(ValueError, match=r"H x W x C \(channels last\).*transpose\(1, 2, 0\)"):
        parser(np.zeros((3, 40, 40), np.uint8))
