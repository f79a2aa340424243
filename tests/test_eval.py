"""Evaluation: a perfect stub model scores 1 in every row; the CLI prints the tables and writes JSON."""

from __future__ import annotations

import argparse
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from layouts_util import SHARED_DATA, make_folder
from PIL import Image
from torch import nn

from fpliif.cli import main
from fpliif.cli.eval import parse_sides
from fpliif.evaluate import evaluate_dataset
from fpliif.models.unet import LogitGrid


class RedIsSkin(nn.Module):
    """Labels red pixels as class 1 (skin) and the rest as background, at any output size (nearest)."""

    def __init__(self):
        super().__init__()
        self.cfg = SimpleNamespace(label_names=["background", "skin", "hair"], input_size=16)
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the model a device

    def encode(self, images: torch.Tensor) -> LogitGrid:
        skin = (images[:, :1] > 0.5).float()
        logits = torch.cat([1 - skin, skin, torch.zeros_like(skin)], dim=1)
        return LogitGrid(logits)

    def query(self, state: LogitGrid, coords: torch.Tensor, chunk=None) -> torch.Tensor:
        grid = coords.flip(-1).unsqueeze(1)
        return F.grid_sample(state.logits, grid, mode="nearest", align_corners=False)[:, :, 0].transpose(1, 2)


def _red_left_half(root, count: int = 3, side: int = 32, mask_side: int = 64):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        image = np.zeros((side, side, 3), dtype=np.uint8)
        image[:, : side // 2, 0] = 255
        Image.fromarray(image).save(root / "images" / f"{i}.png")
        mask = np.zeros((mask_side, mask_side), dtype=np.uint8)
        mask[:, : mask_side // 2] = 1
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
    (root / "labels.txt").write_text("background\nskin\nhair\n")
    return root


def test_perfect_model_scores_one_in_every_row(tmp_path):
    report = evaluate_dataset(RedIsSkin(), _red_left_half(tmp_path / "d"), split=None, size=16, output_size=64,
                      low_res=(8,), batch_size=2)
    assert list(report.rows) == ["16", "64", "8->16"] and report.num_images == 3
    for scores in report.rows.values():
        assert scores.f1[1] == 1.0 and scores.f1[2] is None and scores.mean_f1 == 1.0 and scores.mean_iou == 1.0
    d = report.to_dict()
    assert d["rows"]["64"]["f1"]["skin"] == 1.0 and d["rows"]["64"]["f1"]["hair"] is None


def test_input_size_row_does_not_depend_on_output_size(tmp_path):
    # A 64-px mask with skin only in columns 4j+2: resized nearest straight to 16 it is all skin; through 32 first
    # (columns 2i+1, then 2j+1) it would have none. The 16-px row must score the same with any --output-size.
    root = _red_left_half(tmp_path / "d", count=2, side=16, mask_side=64)
    for i in range(2):
        Image.fromarray(np.full((16, 16, 3), 255, np.uint8)).save(root / "images" / f"{i}.png")
        mask = np.zeros((64, 64), np.uint8)
        mask[:, 2::4] = 1
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
    rows = [evaluate_dataset(RedIsSkin(), root, split=None, size=16, output_size=out).rows["16"] for out in (16, 32)]
    assert rows[0].f1[1] == rows[1].f1[1] == 1.0


def test_wrong_model_scores_zero(tmp_path):
    class Inverted(RedIsSkin):
        def encode(self, images):
            return super().encode(1 - images)

    report = evaluate_dataset(Inverted(), _red_left_half(tmp_path / "d"), split=None, size=16)
    assert report.rows["16"].f1[1] == 0.0 and report.rows["16"].mean_f1 == 0.0


def test_eval_cli_prints_tables_and_writes_json(tmp_path, tiny_model_dir, capsys):
    data = make_folder(tmp_path / "d", splits={"train": ["a"], "val": ["b", "c"]}, mask_side=64)
    out = tmp_path / "scores.json"
    code = main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-size", "64",
                 "--low-res", "16", "--device", "cpu", "--json", str(out), "-q"])
    assert code == 0
    text = capsys.readouterr().out
    assert "F1 32" in text and "F1 64" in text and "F1 16->32" in text and "mean (F1, mIoU)" in text
    scores = json.loads(out.read_text())
    assert scores["num_images"] == 2 and set(scores["rows"]) == {"32", "64", "16->32"}
    assert 0 <= scores["rows"]["32"]["mean_f1"] <= 1
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--limit", "1", "-q"]) == 0
    assert "1 images" in capsys.readouterr().out


def test_eval_cli_errors(tmp_path, tiny_model_dir, capsys):
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(argparse.ArgumentTypeError, match="64,96"):
        parse_sides("64;x")


@pytest.mark.skipif(not (SHARED_DATA / "celebamask-mini" / "splits.json").is_file(),
                    reason="../shared/data/celebamask-mini is not on this machine")
def test_eval_on_shared_val_subset(tiny_model_dir):
    from torch.utils.data import Subset

    from fpliif import from_pretrained
    from fpliif.data import open_dataset

    val = open_dataset(SHARED_DATA / "celebamask-mini", "val", size=32, mask_size=32)
    report = evaluate_dataset(from_pretrained(tiny_model_dir), Subset(val, range(2)), size=32)
    assert report.num_images == 2 and report.rows["32"].pixels[0] > 0
