"""Image helpers (fpliif/image.py) that the CLI, the demo, the nodes and the parser share."""

from __future__ import annotations

import numpy as np
import torch

from fpliif.image import to_pil, to_tensor, to_uint8


def test_to_uint8_rounds_and_clips():
    values = torch.tensor([-0.1, 0.0, 0.5 / 255, 0.5, 1.0, 1.2])
    assert to_uint8(values).tolist() == [0, 0, 1, 128, 255, 255]
    assert to_uint8(np.float64(0.2)).dtype == np.uint8


def test_to_pil_and_back():
    image = torch.rand(3, 6, 5)
    picture = to_pil(image)
    assert picture.mode == "RGB" and picture.size == (5, 6)
    assert (to_tensor(picture) - image).abs().max() <= 0.5 / 255 + 1e-6
    mask = to_pil(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    assert mask.mode == "L" and np.asarray(mask)[0, 0] == 0 and np.asarray(mask)[-1, -1] == 255
