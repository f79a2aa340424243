"""Metrics against hand-computed cases: counts over the whole set, background and absent classes left out."""

from __future__ import annotations

import math

import pytest
import torch

from fpliif.metrics import ConfusionMatrix, scores_from_confusion, scores_table


def test_hand_computed_f1_and_iou():
    # Class 1: TP 2, FP 1 (a 2 predicted as 1), FN 1 (a 1 predicted as 0). Class 2: TP 1, FP 0, FN 1.
    target = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    prediction = torch.tensor([0, 0, 1, 1, 0, 2, 1])
    cm = ConfusionMatrix(4)
    cm.update(prediction, target)
    s = cm.scores(["bg", "a", "b", "c"])
    assert s.f1[1] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1)) and s.iou[1] == pytest.approx(2 / 4)
    assert s.f1[2] == pytest.approx(2 / 3) and s.iou[2] == pytest.approx(1 / 2)
    assert s.f1[3] is None and s.iou[3] is None  # absent from ground truth and prediction: n/a
    assert s.mean_f1 == pytest.approx((2 / 3 + 2 / 3) / 2) and s.mean_iou == pytest.approx(0.5)
    assert s.pixels == [2, 3, 2, 0]


def test_counts_accumulate_over_the_set_not_per_image():
    cm = ConfusionMatrix(2)
    cm.update(torch.tensor([1]), torch.tensor([1]))  # image 1: F1 of class 1 is 1
    cm.update(torch.tensor([0, 0, 0]), torch.tensor([1, 1, 1]))  # image 2: F1 of class 1 is 0
    assert cm.scores().f1[1] == pytest.approx(2 * 1 / (2 * 1 + 0 + 3))  # 0.4, not the per-image mean 0.5


def test_ignored_pixels_and_predicted_only_classes():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([[1, 2], [2, 0]]), torch.tensor([[1, 255], [254, 0]]))
    s = cm.scores()
    assert int(cm.matrix.sum()) == 2 and s.f1[2] is None
    cm.update(torch.tensor([2]), torch.tensor([0]))  # class 2 only predicted: present, F1 0
    assert cm.scores().f1[2] == 0.0 and cm.scores().mean_f1 == pytest.approx(0.5)


def test_background_ignored_in_mean_and_empty_mean_is_nan():
    s = scores_from_confusion(torch.tensor([[5, 0], [0, 0]]))
    assert s.f1[0] == 1.0 and math.isnan(s.mean_f1)
    assert scores_from_confusion(torch.tensor([[5, 0], [0, 0]]), ignore=()).mean_f1 == 1.0


def test_updates_accumulate_and_shape_errors():
    a = ConfusionMatrix(2)
    a.update(torch.tensor([1]), torch.tensor([1]))
    a.update(torch.tensor([0]), torch.tensor([1]))
    assert a.matrix.tolist() == [[0, 0], [1, 1]]
    with pytest.raises(ValueError, match="shape"):
        a.update(torch.zeros(2), torch.zeros(3))


def test_table_and_dict():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
    s = cm.scores(["background", "skin", "hat"])
    table = scores_table({"256": s, "64->256": s})
    assert "F1 64->256" in table and "n/a" in table and "100.0" in table and "background" not in table
    markdown = scores_table({"val": s}, markdown=True, digits=2).splitlines()
    assert markdown[:2] == ["| class | F1 val | IoU val |", "| --- | ---: | ---: |"]
    assert markdown[2] == "| skin | 100.00 | 100.00 |" and markdown[-1].startswith("| mean (F1, mIoU) | 100.000 |")
    d = s.to_dict()
    assert d["f1"]["skin"] == 1.0 and d["f1"]["hat"] is None and d["ignored"] == ["background"]
