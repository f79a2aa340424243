"""The objective on hand-made cases: edges, temperature, ignore and partial labels, sampling, schedules."""

from __future__ import annotations

import math

import pytest
import torch

from fpliif.train import (
    LRSchedule,
    TrainConfig,
    dice_loss,
    label_edges,
    parsing_loss,
    partial_label_loss,
    pixel_losses,
    sample_queries,
)


def halves() -> torch.Tensor:
    """A 1 x 4 x 4 map: class 0 on the left half, class 1 on the right."""
    return torch.tensor([[0, 0, 1, 1]] * 4).unsqueeze(0)


def test_label_edges_marks_both_sides_of_a_boundary():
    edges = label_edges(halves())
    assert edges[0].tolist() == [[False, True, True, False]] * 4
    assert not label_edges(torch.zeros(1, 5, 5, dtype=torch.long)).any()


def test_cross_entropy_uses_the_temperature():
    logits = torch.tensor([2.0, 0.0, -1.0]).view(1, 3, 1, 1)
    mask = torch.tensor([[[1]]])
    loss, valid = pixel_losses(logits, mask, temperature=0.5)
    z = torch.tensor([4.0, 0.0, -2.0])
    assert valid.all()
    assert loss.item() == pytest.approx(float(torch.logsumexp(z, 0) - z[1]), rel=1e-6)


def test_ignored_pixels_have_no_loss():
    logits = torch.randn(1, 3, 2, 2)
    mask = torch.tensor([[[255, 1], [255, 255]]])
    loss, valid = pixel_losses(logits, mask)
    assert valid.tolist() == [[[False, True], [False, False]]]
    assert loss[~valid].eq(0).all()


def test_partial_label_loss_is_minus_log_of_the_rest():
    logits = torch.tensor([1.0, 2.0, 0.5, -1.0]).view(1, 4, 1)
    annotated = torch.tensor([[False, True, True, False]])
    p = logits.view(-1).softmax(0)
    expected = -math.log(1 - float(p[1] + p[2]))
    assert partial_label_loss(logits, annotated).item() == pytest.approx(expected, rel=1e-6)
    # a sample with every class annotated has no "none of them" pixels: 0, never inf
    assert partial_label_loss(logits, torch.ones(1, 4, dtype=torch.bool)).item() == 0


def test_partial_label_pixels_in_the_total():
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]).view(1, 3, 1, 2)  # K=3, 1x2 pixels
    mask = torch.tensor([[[2, 254]]])
    annotated = torch.tensor([[False, False, True]])
    out = parsing_loss(logits, mask, annotated, temperature=1.0, lambda_edge=0.0)
    z0, z1 = logits[0, :, 0, 0], logits[0, :, 0, 1]
    ce = float(torch.logsumexp(z0, 0) - z0[2])
    partial = -math.log(1 - float(z1.softmax(0)[2]))
    assert out["loss"].item() == pytest.approx((ce + partial) / 2, rel=1e-6)


def test_edge_term_averages_over_edge_pixels_only():
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 4, 4)
    mask = halves()
    out = parsing_loss(logits, mask, temperature=1.0, lambda_edge=10.0)
    per_pixel = torch.nn.functional.cross_entropy(logits, mask, reduction="none")
    edge = per_pixel[label_edges(mask)].mean()
    assert out["ce"].item() == pytest.approx(per_pixel.mean().item(), rel=1e-6)
    assert out["edge"].item() == pytest.approx(edge.item(), rel=1e-6)
    assert out["loss"].item() == pytest.approx(per_pixel.mean().item() + 10 * edge.item(), rel=1e-6)


def confident(mask: torch.Tensor, k: int) -> torch.Tensor:
    """Logits that put (almost) all probability on ``mask``'s class at every position (class 0 where >= k)."""
    m = torch.where(mask < k, mask, torch.zeros_like(mask))
    return torch.nn.functional.one_hot(m, k).movedim(-1, 1).float() * 40.0


def test_dice_is_zero_for_a_perfect_prediction_and_weighs_a_tiny_class_like_a_big_one():
    mask = torch.ones(1, 100, dtype=torch.long)
    mask[0, 0] = 2  # one pixel of a rare class
    assert dice_loss(confident(mask, 3), mask).item() == pytest.approx(0.0, abs=1e-6)
    missed = confident(torch.ones_like(mask), 3)  # the rare pixel called class 1
    # class 1: 2*99 / (100 + 99); class 2: eps / (1 + eps) with eps 1. Cross-entropy would barely notice.
    expected = 1 - (2 * 99 / 199 + 0.5) / 2
    assert dice_loss(missed, mask).item() == pytest.approx(expected, rel=1e-4)
    ce = torch.nn.functional.cross_entropy(missed, mask)
    assert dice_loss(missed, mask).item() > 2 * ce.item() / 100  # the miss costs ~1/4, not 1/100 of a pixel loss


def test_dice_leaves_out_ignored_partial_and_unannotated_positions():
    mask = torch.tensor([[1, 1, 255, 254], [2, 2, 2, 2]])
    logits = confident(torch.tensor([[1, 1, 2, 2], [2, 2, 1, 1]]), 3)
    annotated = torch.tensor([[True, True, True], [True, False, True]])
    # sample 1 does not annotate class 1, so its two "class 1" predictions are no false positives of class 1;
    # sample 0's ignored and partial positions do not count either. Class 1 is perfect; class 2: 2*2 / (4 + 2).
    got = dice_loss(logits, mask, annotated).item()
    assert got == pytest.approx(1 - (1.0 + (2 * 2 + 1) / (4 + 2 + 1)) / 2, rel=1e-4)
    assert dice_loss(logits, torch.full_like(mask, 255)).item() == 0.0


def test_dice_term_is_off_by_default_and_added_with_its_weight():
    torch.manual_seed(0)
    logits, mask = torch.randn(2, 3, 4, 4, requires_grad=True), torch.randint(0, 3, (2, 4, 4))
    plain = parsing_loss(logits, mask)
    assert "dice" not in plain
    both = parsing_loss(logits, mask, lambda_dice=2.0)
    assert both["dice"].item() == pytest.approx(dice_loss(logits, mask, temperature=0.5).item(), rel=1e-6)
    assert both["loss"].item() == pytest.approx(plain["loss"].item() + 2 * both["dice"].item(), rel=1e-6)
    both["loss"].backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="lambda_dice"):
        TrainConfig(lambda_dice=-1)


def test_loss_on_sampled_points_needs_edges():
    with pytest.raises(ValueError, match="edges"):
        parsing_loss(torch.randn(1, 2, 5), torch.zeros(1, 5, dtype=torch.long))


def test_sampling_is_half_edges_and_weights_cover_the_image():
    mask = halves().repeat(2, 1, 1)
    edges = label_edges(mask)
    q = sample_queries(mask, edges, 10, torch.Generator().manual_seed(0))
    assert q.coords.shape == (2, 10, 2) and q.mask.shape == (2, 10)
    assert q.edges.sum(1).tolist() == [5, 5]  # half of the points from the 8 edge pixels, half from the other 8
    assert len(set(map(tuple, q.coords[0].tolist()))) == 10  # no pixel twice
    assert q.weight.sum(1).tolist() == pytest.approx([16.0, 16.0])
    # the class at each sampled coordinate is the class of that pixel
    col = ((q.coords[..., 1] + 1) * 2 - 0.5).round().long()
    assert torch.equal(q.mask, (col >= 2).long())
    few = sample_queries(mask, edges, 14, torch.Generator().manual_seed(1))  # 7 wanted from each stratum of 8
    assert few.edges.sum(1).tolist() == [7, 7]
    most = sample_queries(mask[:1], torch.ones_like(edges[:1]), 12, torch.Generator().manual_seed(2))  # all edges
    assert most.edges.all() and most.weight.sum().item() == pytest.approx(16.0)


def test_step_schedule_is_the_papers():
    s = LRSchedule("step", lr=5e-4, steps_per_epoch=10, decay_epochs=20, gamma=0.1)
    assert s.lr_at(0) == pytest.approx(5e-4)
    assert s.lr_at(199) == pytest.approx(5e-4)
    assert s.lr_at(200) == pytest.approx(5e-5)
    assert s.lr_at(400) == pytest.approx(5e-6)


def test_cosine_schedule_warms_up_and_decays():
    s = LRSchedule("cosine", lr=1.0, total_steps=100, warmup_steps=10, min_ratio=0.01)
    assert s.lr_at(0) < 0.2 and s.lr_at(9) == pytest.approx(1.0)
    assert s.lr_at(10) == pytest.approx(1.0)
    assert s.lr_at(55) == pytest.approx(0.505, rel=1e-3)
    assert s.lr_at(100) == pytest.approx(0.01)
    assert LRSchedule("constant", lr=0.3).lr_at(1000) == 0.3
    with pytest.raises(ValueError, match="schedule"):
        LRSchedule("linear")
