"""ParseResult over regions: tiles change nothing, soft masks are exact, overlapping faces get one owner per pixel."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from fpliif.labels import CELEBAMASK_HQ
from fpliif.render import OutputGrid, RenderOptions, render_dense
from fpliif.result import ParseResult, decoder_region


def _encoded(seed: int = 0):
    model = tiny_model(seed=seed)
    with torch.no_grad():
        state = model.encode(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed)))
    return model, state


def _whole(model, state, h: int, w: int, tile: int = 1024, mode: str = "fast") -> ParseResult:
    opts = RenderOptions(exact_px=None)  # random weights give noisy labels: no bilinear-only levels here
    region = decoder_region(model, state, OutputGrid.full(h, w), (0, 0, h, w), opts, mode)
    return ParseResult((h, w), CELEBAMASK_HQ, 0.5, torch.zeros(3, h, w), [region], tile=tile)


def test_tiles_change_nothing_and_soft_masks_are_exact():
    model, state = _encoded()
    dense = render_dense(model.decoder, state, OutputGrid.full(70, 90), 70, 90)[0]
    whole = _whole(model, state, 70, 90)
    tiled = _whole(model, state, 70, 90, tile=32)
    assert torch.equal(whole.labels, tiled.labels)
    assert (whole.labels == dense.argmax(0)).float().mean() > 0.99
    want = torch.softmax(dense / 0.5, 0)[[13, 1]].sum(0)
    for result in (whole, tiled):
        torch.testing.assert_close(result.mask("hair,skin"), want, atol=1e-4, rtol=0)
    assert torch.equal(whole.mask("hair", soft=False), (whole.labels == 13).float())
    torch.testing.assert_close(whole.probs.sum(0), torch.ones(70, 90))


def test_from_logits_round_trip():
    logits = torch.randn(19, 12, 10)
    result = ParseResult.from_logits(logits, CELEBAMASK_HQ, 0.5)
    assert torch.equal(result.labels, logits.argmax(0))
    torch.testing.assert_close(result.logits, logits)
    assert result.label_map().dtype.name == "uint8" and result.color_map().size == (10, 12)


def test_overlapping_faces_one_owner_and_background_outside():
    """Two face crops side by side, overlapping in the middle; the rest of the photo belongs to nobody."""
    model, state = _encoded(seed=1)
    h, w = 40, 100
    regions = []
    for left in (10, 40):  # crop squares of 40 px: columns 10-50 and 40-80
        grid = OutputGrid(((2 / 40, 0.0, -1.0), (0.0, 2 / 40, -1.0)))  # region pixel (i, j) -> the crop's [-1, 1]
        regions.append(decoder_region(model, state, grid, (0, left, h, left + 40), RenderOptions(), clip=True))
    result = ParseResult((h, w), CELEBAMASK_HQ, 0.5, torch.zeros(3, h, w), regions)
    owner = result.owner
    assert (owner[:, :10] == 255).all() and (owner[:, 80:] == 255).all() and (result.labels[:, 80:] == 0).all()
    assert (owner[:, 12:38] == 0).all() and (owner[:, 52:78] == 1).all()
    assert set(owner[:, 40:50].unique().tolist()) <= {0, 1}
    assert result.mask("background")[:, 85:].eq(1).all()  # a sure background outside the faces
    # each owned pixel carries its own face's labels
    alone = ParseResult((h, w), CELEBAMASK_HQ, 0.5, torch.zeros(3, h, w), regions[1:])
    mine = owner == 1
    assert torch.equal(result.labels[mine], alone.labels[mine])


@pytest.mark.parametrize("mode", ["fast", "dense"])
def test_modes_agree(mode):
    model, state = _encoded(seed=2)
    ref = _whole(model, state, 50, 50, mode="dense")
    got = _whole(model, state, 50, 50, mode=mode)
    assert (got.labels == ref.labels).float().mean() > 0.99
    torch.testing.assert_close(got.mask("skin"), ref.mask("skin"), atol=1e-4, rtol=0)
