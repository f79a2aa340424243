"""Training on tiny synthetic data: the loss falls, partial labels train, any registered model trains, the CLI
writes a complete run folder."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import TINY
from PIL import Image
from torch.utils.data import ConcatDataset

from fpliif import create_model, from_pretrained
from fpliif.cli import main
from fpliif.train import TrainConfig, Trainer
from fpliif.train.synthetic import SyntheticFaces

NAMES = ["background", "skin", "eye", "lip", "hair"]
TINY = dict(TINY, label_names=NAMES)


def tiny(name: str = "fpliif", **kw):
    torch.manual_seed(0)
    return create_model(name, **{**TINY, **kw})


def options(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 4, "batch_size": 4, "input_size": 32, "workers": 0, "lr": 5e-3, "log_every": 1,
                          **kw})


def test_loss_falls_and_val_improves(tmp_path):
    trainer = Trainer(tiny(), SyntheticFaces(16, 32), SyntheticFaces(4, 32, seed=1), options(epochs=5), tmp_path)
    summary = trainer.fit()
    losses = [r["loss"] for r in trainer.history["train"]]
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])
    val = [r["mean_f1"] for r in trainer.history["val"]]
    assert val[-1] > val[0] and summary["best_mean_f1"] == max(val)
    for name in ("train.log", "loss.png", "val.png", "val_predictions.png", "metrics.json", "last.pt"):
        assert (tmp_path / name).is_file(), name
    best = from_pretrained(tmp_path / "best")
    assert best.cfg.label_names == NAMES
    assert "mean (F1, mIoU)" in (tmp_path / "best" / "README.md").read_text()
    assert (tmp_path / "final" / "model.safetensors").is_file()


def test_partial_labels_and_sampled_points_train(tmp_path):
    data = ConcatDataset([SyntheticFaces(8, 32), SyntheticFaces(8, 32, partial_class=4, seed=3)])
    trainer = Trainer(tiny(), data, None, options(epochs=2, sample_points=300, ema=True), tmp_path)
    trainer.fit()
    losses = [r["loss"] for r in trainer.history["train"]]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert (tmp_path / "final" / "model.safetensors").is_file()


def test_any_registered_model_trains(tmp_path):
    model = tiny("unet-baseline")
    trainer = Trainer(model, SyntheticFaces(8, 32), SyntheticFaces(2, 32), options(epochs=1), tmp_path)
    assert trainer.fit()["step"] == 2


def write_folder_dataset(root, n_train=6, n_val=2, size=32):
    """A ``folder`` layout: images/, masks/ (index PNGs), splits.json and labels.txt."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    faces = SyntheticFaces(n_train + n_val, size)
    ids = [f"{i:03d}" for i in range(len(faces))]
    for i, sid in enumerate(ids):
        item = faces[i]
        rgb = (item["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(rgb).save(root / "images" / f"{sid}.png")
        Image.fromarray(item["mask"].numpy().astype(np.uint8)).save(root / "masks" / f"{sid}.png")
    (root / "splits.json").write_text(json.dumps({"train": ids[:n_train], "val": ids[n_train:]}))
    (root / "labels.txt").write_text("\n".join(NAMES) + "\n")
    return root


def test_cli_trains_resumes_and_exports(tmp_path):
    data = write_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--model", "fpliif-small", "--labels", ",".join(NAMES), "--size", "32",
            "--epochs", "2", "--batch-size", "3", "--workers", "0", "--threads", "1", "--out", str(run),
            "--max-steps", "3"]
    assert main(args) == 0
    assert (run / "last.pt").is_file() and not (run / "final").exists()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:  # data, model and options come from the checkpoint, and so do the machine's threads
        assert main(["train", "--resume", str(run)]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert (run / "final" / "config.json").is_file() and (run / "best" / "model.safetensors").is_file()
    log = (run / "train.log").read_text()
    assert "resumed at step 3" in log and "val mean F1" in log
    assert from_pretrained(run / "best").cfg.label_names == NAMES
    card = (run / "final" / "README.md").read_text()
    assert f"fpliif train --data {data}" in card and "--resume" not in card


def test_run_recipe_is_saved_and_replayable(tmp_path, capsys):
    data = write_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--labels", ",".join(NAMES), "--size", "32", "--label-size", "64",
            "--augment", "none", "--model", "fpliif-small", "--epochs", "1", "--batch-size", "3", "--workers", "0",
            "--sample-points", "200", "--lambda-dice", "1", "--out", str(run)]
    assert main(args) == 0
    saved = TrainConfig.load(run)
    assert (saved.input_size, saved.label_size, saved.augment, saved.sample_points) == (32, 64, "none", 200)
    assert saved.lambda_dice == 1 and " dice " in (run / "train.log").read_text()
    assert TrainConfig.load(run / "best" / "train_config.json") == saved  # the recipe travels with the weights
    # the card's command is the same recipe
    from fpliif.cli import build_parser
    from fpliif.cli.train import config_values

    command = saved.command()
    assert "--size 32 --label-size 64" in command and "--lambda-dice 1" in command and "--max-steps" not in command
    parsed = config_values(build_parser().parse_args(command.split()[1:]))
    assert TrainConfig(**parsed) == replace(saved, workers=-1, data_note="")  # the machine's part is left out
    # --config replays it, flags override
    assert main(["train", "--config", str(run / "train_config.json"), "--epochs", "2", "--max-steps", "1",
                 "--out", str(tmp_path / "again")]) == 0
    again = TrainConfig.load(tmp_path / "again")
    assert again.epochs == 2 and again.label_size == 64 and again.data == saved.data
    # a resumed run keeps what defines it
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "again"), "--size", "64"]) == 2
    assert "input_size cannot change when a run is resumed" in capsys.readouterr().err


def test_cli_refuses_to_validate_on_training_images(tmp_path):
    data = write_folder_dataset(tmp_path / "data")
    (data / "splits.json").unlink()  # every split is now every image
    args = ["train", "--data", str(data), "--labels", ",".join(NAMES), "--size", "32", "--workers", "0",
            "--out", str(tmp_path / "run")]
    assert main(args) == 2


def test_cli_names_bad_input(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path), "--model", "nope"]) == 2


@pytest.mark.parametrize("name", ["fpliif", "unet-baseline"])
def test_bf16_autocast_step(tmp_path, name):
    trainer = Trainer(tiny(name), SyntheticFaces(4, 32), None, options(epochs=1, amp="bf16", sample_points=100),
                      tmp_path)
    losses = trainer.train_step(next(iter(trainer.loader)))
    assert math.isfinite(losses["loss"])


def test_log_says_which_precision_amp_chose(tmp_path, monkeypatch):
    import fpliif.train.loop as loop

    def describe(amp):
        return Trainer(tiny(), SyntheticFaces(4, 32), None, options(epochs=1, amp=amp), tmp_path).describe()[1]

    monkeypatch.setattr(loop, "bf16_is_fast", lambda device: False)
    assert "amp auto (fp32: no AVX-512 BF16 or AMX on this CPU)" in describe("auto")
    assert "amp bf16 (bf16 autocast)" in describe("bf16")
    monkeypatch.setattr(loop, "bf16_is_fast", lambda device: True)
    assert "amp auto (bf16 autocast)" in describe("auto")
    assert "amp off (fp32)" in describe("off")


def test_non_finite_loss_stops_with_advice(tmp_path):
    model = tiny()
    with torch.no_grad():
        model.decoder.mlp.layers[-1].bias.fill_(float("nan"))
    trainer = Trainer(model, SyntheticFaces(4, 32), None, options(epochs=1), tmp_path)
    with pytest.raises(ValueError, match="--resume"):
        trainer.fit()
