"""Pseudo-labels: thresholding, partial labels overriding predictions, and a folder dataset as output."""

from __future__ import annotations

import json

import numpy as np
import torch
from layouts_util import make_hair
from PIL import Image

from fpliif import FaceParser, from_pretrained
from fpliif.cli import main
from fpliif.data import open_dataset
from fpliif.data.pseudo import apply_partial, confident_labels, pseudo_label
from fpliif.labels import CELEBAMASK_HQ

HAIR = CELEBAMASK_HQ.index("hair")


def test_confident_labels_threshold():
    logits = torch.tensor([[[4.0, 0.1]], [[0.0, 0.0]]])  # K=2, H=1, W=2
    labels = confident_labels(logits, temperature=1.0, threshold=0.7)
    assert labels.tolist() == [[0, 255]]
    assert confident_labels(logits, 1.0, 0.0).tolist() == [[0, 0]]


def test_partial_labels_override_predictions():
    annotated = torch.tensor([False, False, True])  # class 2 (hair) is what the partial label knows
    labels = torch.tensor([2, 2, 1, 255, 1])
    partial = torch.tensor([2, 254, 254, 2, 255])
    # known hair wins; predicted hair outside the hair mask is unknown; other predictions stay
    assert apply_partial(labels, partial, annotated).tolist() == [2, 255, 1, 2, 1]


def test_pseudo_label_writes_a_folder_dataset(tmp_path, tiny_model_dir):
    hair = make_hair(tmp_path / "hair", ids=("h1", "h2", "h3"))
    parser = FaceParser(from_pretrained(tiny_model_dir), device="cpu")
    partial = open_dataset(hair, split=None, size=None, label_names=parser.label_set.names, layout="hair")
    out = tmp_path / "pseudo"
    stats = pseudo_label(parser, hair / "images", out, partial=partial, threshold=1.0, batch_size=2)
    assert stats.images == 3
    mask = np.asarray(Image.open(out / "masks" / "h1.png"))
    assert mask.shape == (32, 32)
    assert (mask[:8] == HAIR).all() and (mask[8:] == 255).all()  # threshold 1: only the known hair survives
    assert (out / "labels.txt").read_text().split() == list(CELEBAMASK_HQ.names)
    dataset = open_dataset(out, split="train", size=16)
    assert len(dataset) == 3 and dataset[0]["annotated"].all()
    assert json.loads((out / "pseudo_label.json").read_text())["images"] == 3


def test_pseudo_label_threshold_zero_labels_everything_but_ruled_out_hair(tmp_path, tiny_model_dir):
    hair = make_hair(tmp_path / "hair", ids=("h1",))
    parser = FaceParser(from_pretrained(tiny_model_dir), device="cpu")
    partial = open_dataset(hair, split=None, size=None, label_names=parser.label_set.names, layout="hair")
    pseudo_label(parser, hair / "images", tmp_path / "o", partial=partial, threshold=0.0)
    mask = np.asarray(Image.open(tmp_path / "o" / "masks" / "h1.png"))
    assert (mask[:8] == HAIR).all() and not (mask[8:] == HAIR).any()
    assert ((mask[8:] < 19) | (mask[8:] == 255)).all()


def test_pseudo_label_cli(tmp_path, tiny_model_dir, images_dir, capsys):
    out = tmp_path / "out"
    assert main(["pseudo-label", "--model", str(tiny_model_dir), "--images", str(images_dir), "--out", str(out),
                 "--threshold", "0.5", "--device", "cpu"]) == 0
    assert "wrote 3 masks" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["a.png", "b.png", "sub_c.png"]
    assert main(["check-data", str(out)]) == 0
    assert main(["pseudo-label", "--model", str(tiny_model_dir), "--images", str(images_dir),
                 "--out", str(images_dir)]) == 2
