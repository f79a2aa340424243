"""The decoder's query against an independent oracle: LIIF's ``query_rgb`` transcribed with ``grid_sample``.

The oracle shares nothing with :mod:`fpliif.models.decoder` but the weights: it unfolds and reduces the latent
grid with the decoder's modules, then follows LIIF (Chen et al., 2021, ``models/liif.py``) line by line —
nearest-neighbour ``grid_sample`` of the features and of the cell-centre grid for each of the four shifted
queries, relative coordinates in cell units, the full (unsplit) MLP on ``[feature, global feature, rel]``, and
the area weights swapped diagonally (``areas[0] <-> areas[3]``, ``areas[1] <-> areas[2]``). A bug in the index
arithmetic, the split first layer or the ensemble weights cannot be shared by both.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_model

from fpliif.models.decoder import make_coord


def liif_query(decoder, z: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
    """LIIF's query_rgb for FP-LIIF: ``z`` ``B x C x h x w`` latent grid, ``coord`` ``B x N x 2`` -> ``B x N x K``."""
    b, c, h, w = z.shape
    feat = F.unfold(z, 3, padding=1).view(b, c * 9, h, w) if decoder.cfg.unfold else z
    feat = decoder.reduce(feat)
    glob = z.mean(dim=(2, 3)) if decoder.cfg.global_feature else z.new_zeros(b, 0)
    shifts = [-1, 1] if decoder.cfg.local_ensemble else [0]
    rx, ry = 2 / feat.shape[-2] / 2, 2 / feat.shape[-1] / 2
    eps_shift = 1e-6
    feat_coord = make_coord(feat.shape[-2:], flatten=False).permute(2, 0, 1).unsqueeze(0).expand(b, 2, h, w)
    preds, areas = [], []
    for vx in shifts:
        for vy in shifts:
            coord_ = coord.clone()
            coord_[:, :, 0] += vx * rx + eps_shift
            coord_[:, :, 1] += vy * ry + eps_shift
            coord_.clamp_(-1 + 1e-6, 1 - 1e-6)
            grid = coord_.flip(-1).unsqueeze(1)
            q_feat = F.grid_sample(feat, grid, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            q_coord = F.grid_sample(feat_coord, grid, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            rel_coord = coord - q_coord
            rel_coord[:, :, 0] *= feat.shape[-2]
            rel_coord[:, :, 1] *= feat.shape[-1]
            inp = torch.cat([q_feat, glob.unsqueeze(1).expand(-1, coord.shape[1], -1), rel_coord], dim=-1)
            preds.append(decoder.mlp(inp))
            areas.append(torch.abs(rel_coord[:, :, 0] * rel_coord[:, :, 1]) + 1e-9)
    if len(preds) == 1:
        return preds[0]
    tot_area = torch.stack(areas).sum(dim=0)
    areas[0], areas[3] = areas[3], areas[0]
    areas[1], areas[2] = areas[2], areas[1]
    return sum(pred * (area / tot_area).unsqueeze(-1) for pred, area in zip(preds, areas))


@pytest.mark.parametrize("overrides", [{}, {"local_ensemble": False}, {"global_feature": False}, {"unfold": False}])
def test_query_equals_liif_oracle(overrides):
    model = tiny_model(seed=5, **overrides)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 32, 48, generator=g)  # a non-square latent grid: 8 x 12
    coords = torch.rand(2, 500, 2, generator=g) * 2.2 - 1.1  # inside, and past the border
    with torch.no_grad():
        z = model.encoder((images - model.mean) / model.std)
        want = liif_query(model.decoder, z, coords)
        got = model.decoder.query_logits(model.decoder.prepare(z), coords)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_oracle_catches_wrong_ensemble_weights(monkeypatch):
    """The comparison can fail: weighting each member by its own area (no diagonal swap) is caught."""
    from fpliif.models import decoder as decoder_module

    model = tiny_model(seed=5)
    coords = torch.rand(1, 200, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        z = model.encoder(torch.rand(1, 3, 32, 32))
        want = liif_query(model.decoder, z, coords)
        monkeypatch.setattr(decoder_module, "local_ensemble",
                            lambda preds, areas: (preds * (areas / areas.sum(0)).unsqueeze(-1)).sum(0))
        wrong = model.decoder.query_logits(model.decoder.prepare(z), coords)
    assert (wrong - want).abs().max() > 1e-3


def test_forward_is_the_query_on_pixel_centres():
    model = tiny_model(seed=2)
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        z = model.encoder((images - model.mean) / model.std)
        coords = make_coord((20, 28)).unsqueeze(0)
        want = liif_query(model.decoder, z, coords).transpose(1, 2).reshape(1, -1, 20, 28)
        torch.testing.assert_close(model(images, size=(20, 28)), want, atol=1e-5, rtol=1e-5)
