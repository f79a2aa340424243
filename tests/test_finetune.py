"""Fine-tuning: classifier rows follow label names, everything else is copied, the encoder can be frozen."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from fpliif import create_model, save_pretrained
from fpliif.cli import main
from fpliif.train import TrainConfig, Trainer, freeze_encoder, init_from_pretrained, parse_labels
from fpliif.train.finetune import _classifier_keys as classifier_keys
from fpliif.train.finetune import transfer_weights
from fpliif.train.synthetic import SyntheticFaces

SOURCE = ["background", "skin", "hair", "nose", "l_eye"]
TARGET = ["background", "hair", "skin", "hat", "l_eye", "r_eye"]


def tiny(names, seed=0, name="fpliif"):
    torch.manual_seed(seed)
    return create_model(name, label_names=names, **TINY)


def test_classifier_keys_find_the_last_layer():
    assert classifier_keys(tiny(SOURCE)) == ["decoder.mlp.layers.2.weight", "decoder.mlp.layers.2.bias"]


def test_rows_are_copied_by_name():
    source, target = tiny(SOURCE, seed=1), tiny(TARGET, seed=2)
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    report = transfer_weights(source, target)
    assert report["kept"] == ["background", "hair", "skin", "l_eye"]
    assert report["new"] == ["hat", "r_eye"] and report["skipped"] == []
    s, t = source.state_dict(), target.state_dict()
    for key in classifier_keys(target):
        for name in report["kept"]:
            assert torch.equal(t[key][TARGET.index(name)], s[key][SOURCE.index(name)]), (key, name)
        for name in report["new"]:
            assert torch.equal(t[key][TARGET.index(name)], fresh[key][TARGET.index(name)])
    for key, value in t.items():
        if key not in classifier_keys(target):
            assert torch.equal(value, s[key]), key


def test_init_from_a_saved_folder_with_new_labels(tmp_path):
    save_pretrained(tiny(SOURCE, seed=1), tmp_path / "src")
    model, report = init_from_pretrained(str(tmp_path / "src"), TARGET, "custom")
    assert model.cfg.label_names == TARGET and report["new"] == ["hat", "r_eye"]
    same, _ = init_from_pretrained(str(tmp_path / "src"))
    assert same.cfg.label_names == SOURCE and same.training


def test_frozen_encoder_does_not_move(tmp_path):
    model = tiny(["background", "skin", "eye", "lip", "hair"])
    assert freeze_encoder(model) > 0
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head = model.decoder.mlp.layers[-1].weight.clone()
    opts = TrainConfig(epochs=1, batch_size=4, workers=0, lr=1e-2, freeze_encoder=True)
    Trainer(model, SyntheticFaces(8, 32), None, opts, tmp_path).fit()
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(head, model.decoder.mlp.layers[-1].weight)


def test_parse_labels():
    assert parse_labels("lapa").names[-1] == "hair"
    assert parse_labels("background, skin,Hair").names == ("background", "skin", "hair")
    with pytest.raises(ValueError):
        parse_labels("background,background")
    with pytest.raises(KeyError):
        parse_labels("no-such-set")


def test_cli_fine_tunes_onto_new_labels(tmp_path):
    from test_train import write_folder_dataset

    names = ["background", "skin", "eye", "lip", "hair"]
    save_pretrained(tiny(["background", "skin", "hair", "nose", "eye"], seed=3), tmp_path / "src")
    data = write_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--init", str(tmp_path / "src"), "--labels", ",".join(names),
            "--size", "32", "--epochs", "1", "--batch-size", "3", "--workers", "0", "--freeze-encoder",
            "--out", str(run)]
    assert main(args) == 0
    assert (run / "best" / "model.safetensors").is_file()
