"""Mask post-processing (fpliif/masks.py): grow, shrink, feather, largest region."""

from __future__ import annotations

import torch

from fpliif.masks import _largest_component, _largest_component_torch, feather_mask, grow_mask, largest_region


def test_large_grow_is_round_not_square():
    mask = torch.zeros(2, 61, 61)
    mask[0, 30, 30] = 1
    mask[1, 5:9, 3:30] = torch.rand(4, 27)
    grown = grow_mask(mask, 20)
    area = grown[0].sum().item()
    assert 0.95 * 3.1416 * 400 < area < 1.15 * 3.1416 * 400  # about a disc of radius 20 (a square: 1681)
    assert grown[0, 30, 10] == 1 and grown[0, 30, 9] == 0  # reaches 20 px along the axes
    assert grown[0, 30 - 15, 30 - 15] == 0  # but not 21 px along the diagonal, as a square would
    assert grown[1].max() == mask[1].max() and grown[1].min() == 0  # grey dilation: soft values are kept
    assert torch.equal(grow_mask(grown, -20)[0], mask[0])  # shrinking by the same shape undoes it here


def test_grow_shrink_feather():
    mask = torch.zeros(1, 21, 21)
    mask[0, 8:13, 8:13] = 1
    assert grow_mask(mask, 2).sum() > mask.sum() > grow_mask(mask, -1).sum()
    assert grow_mask(mask, 6).sum() > grow_mask(mask, 2).sum()
    assert grow_mask(mask, -3).sum() == 0
    soft = feather_mask(mask, 3)
    assert soft.shape == mask.shape and 0 < soft[0, 10, 13] < 1 and abs(soft.sum() - mask.sum()) < 1


def test_largest_region_keeps_biggest_blob():
    region = torch.zeros(1, 30, 30, dtype=torch.bool)
    region[0, 2:5, 2:5] = True
    region[0, 10:25, 10:25] = True
    kept = largest_region(region)
    assert kept[0, 15, 15] and not kept[0, 3, 3]


def test_largest_component_without_scipy_matches():
    torch.manual_seed(0)
    region = torch.rand(40, 60) > 0.45
    assert torch.equal(_largest_component_torch(region), _largest_component(region))
    snake = torch.zeros(24, 24, dtype=torch.bool)
    snake[::4] = True
    for row in range(0, 20, 4):
        snake[row:row + 5, 23 if row % 8 == 0 else 0] = True
    assert torch.equal(_largest_component_torch(snake), snake)
