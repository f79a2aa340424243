"""The coarse-to-fine renderer (fpliif/render.py) against the dense decoder: exactness, agreement, bounded work."""

from __future__ import annotations

import pytest
import torch
from conftest import face_image, tiny_model

from fpliif.image import PadBox
from fpliif.parser import FaceParser
from fpliif.render import OutputGrid, RenderOptions, RenderStats, render_grid


def _state(model, batch: int = 1, seed: int = 0):
    images = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.encode(images)


def _dense(model, state, box: PadBox, out_h: int, out_w: int) -> torch.Tensor:
    coords = box.query_coords(out_h, out_w).unsqueeze(0).expand(len(state), -1, -1)
    with torch.no_grad():
        logits = model.query(state, coords)
    return logits.transpose(1, 2).reshape(logits.shape[0], -1, out_h, out_w)


@pytest.mark.parametrize("out_hw", [(37, 50), (64, 64), (1, 1), (1, 9), (2, 3), (130, 17)])
def test_refining_everything_equals_dense(out_hw):
    model = tiny_model()
    state = _state(model)
    box = PadBox(3, 0, 26, 32, 32)
    opts = RenderOptions(margin=2.0, exact_px=None)  # every cell is "uncertain": every point is evaluated
    stats = RenderStats()
    got = render_grid(model.decoder, state, OutputGrid.from_box(box, *out_hw), *out_hw, opts, stats)
    torch.testing.assert_close(got, _dense(model, state, box, *out_hw), atol=1e-5, rtol=1e-5)
    assert bool(stats.exact.all())


def test_default_render_is_exact_where_refined_and_agrees():
    model = tiny_model(seed=3)
    state = _state(model, seed=3)
    box = PadBox(0, 0, 32, 32, 32)
    stats = RenderStats()
    opts = RenderOptions(exact_px=None)  # random weights give noisy labels: no bilinear-only levels here
    got = render_grid(model.decoder, state, OutputGrid.from_box(box, 96, 96), 96, 96, opts, stats)[0]
    dense = _dense(model, state, box, 96, 96)[0]
    exact = stats.exact
    assert exact.shape == (96, 96) and exact.any()
    torch.testing.assert_close(got[:, exact], dense[:, exact], atol=1e-5, rtol=1e-5)
    assert (got.argmax(0) == dense.argmax(0)).float().mean() >= 0.99


def test_soft_mode_refines_more():
    model = tiny_model(seed=3)
    state = _state(model, seed=3)
    axes = OutputGrid.full(64, 64)
    plain, soft = RenderStats(), RenderStats()
    render_grid(model.decoder, state, axes, 64, 64, RenderOptions(), plain)
    render_grid(model.decoder, state, axes, 64, 64, RenderOptions(soft=True), soft)
    assert soft.queries >= plain.queries


def test_big_output_bounded_work_and_chunks(monkeypatch):
    """Structure, not timing: a 1024x1024 map queries few points, never more than `chunk` at once."""
    model = tiny_model()
    state = _state(model)
    sizes = []
    real = model.decoder.query_logits

    def spy(state, coords):
        sizes.append(coords.shape[1])
        return real(state, coords)

    monkeypatch.setattr(model.decoder, "query_logits", spy)
    stats = RenderStats()
    out = render_grid(model.decoder, state, OutputGrid.full(1024, 1024), 1024, 1024, RenderOptions(chunk=512), stats)
    assert out.shape == (1, 19, 1024, 1024)
    assert max(sizes) <= 512
    assert stats.queries <= 0.01 * stats.dense_queries  # exact to one input pixel (32 px), bilinear finer


def test_parser_modes_agree_and_unknown_mode_is_named():
    model = tiny_model(seed=2)
    image = face_image(48, 40)
    dense = FaceParser(model, mode="dense", faces="none")(image, size=80)
    parser = FaceParser(model, mode="fast", faces="none")
    parser.render_options = RenderOptions(exact_px=None)
    result = parser(image, size=80)
    assert result.logits.shape == dense.logits.shape
    assert (result.labels == dense.labels).float().mean() >= 0.99
    with pytest.raises(ValueError, match="fast, dense"):
        FaceParser(model, mode="quick")
