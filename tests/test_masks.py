"""Mask post-processing (fpliif/masks.py): grow, shrink, feather, largest region."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fpliif.masks import grow_mask


def test_large_grow_is_a_square_dilation_done_separably():
    mask = torch.zeros(2, 40, 50)
    mask[0, 20, 25] = 1
    mask[1, 5:9, 3:30] = torch.rand(4, 27)
    grown = grow_mask(mask, 7)
    assert torch.equal(grown, F.max_pool2d(mask[:, None], 15, stride=1, padding=7)[:, 0])
    assert grown[0].sum() == 15 * 15
    assert torch.equal(grow_mask(grown, -7)[0], grow_mask(grow_mask(mask, 7), -7)[0])
