"""Training stops on what ``fpliif check-data`` finds (or, asked to, leaves those samples out and lists them),
keeps its budget across a resume, and checkpoints on a time interval so a kill mid-epoch loses little."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch
from PIL import Image
from test_resume import TINY, weights
from test_train import NAMES, write_folder_dataset

from fpliif import create_model
from fpliif.cli import main
from fpliif.train import TrainConfig, Trainer, load_checkpoint
from fpliif.train import loop as loop_module
from fpliif.train.synthetic import SyntheticFaces


def train_args(data, run, *extra) -> list[str]:
    return ["train", "--data", str(data), "--model", "fpliif-small", "--labels", ",".join(NAMES), "--size", "32",
            "--epochs", "1", "--batch-size", "2", "--workers", "0", "--out", str(run), *extra]


def break_mask(data, problem: str, sid: str = "001") -> str:
    """Give sample ``sid`` one problem; returns the words the error must contain."""
    mask = data / "masks" / f"{sid}.png"
    if problem == "missing mask":
        mask.unlink()
        return f"{sid}.png: image without a mask"
    if problem == "class id 99":
        values = np.asarray(Image.open(mask)).copy()
        values[:4, :4] = 99
        Image.fromarray(values).save(mask)
        return "mask values 99 are outside the 5 classes 0..4"
    if problem == "smaller mask":
        Image.open(mask).resize((16, 16), Image.Resampling.NEAREST).save(mask)
        return f"{sid}.png: mask is 16x16 but its image {sid}.png is 32x32"
    if problem == "unreadable mask":
        mask.write_bytes(b"not a png")
        return f"{sid}.png is not a readable mask image"
    raise AssertionError(problem)


PROBLEMS = ["missing mask", "class id 99", "smaller mask", "unreadable mask"]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("sid", ["001", "007"])  # a training sample, a validation sample
def test_bad_samples_stop_training_by_name(tmp_path, capsys, problem, sid):
    data = write_folder_dataset(tmp_path / "data")
    words = break_mask(data, problem, sid)
    assert main(train_args(data, tmp_path / "run")) == 2
    err = capsys.readouterr().err
    split = "train" if sid == "001" else "val"
    assert words in err and f"({split} split)" in err and "--skip-bad-samples" in err and "check-data" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize("problem", PROBLEMS)
def test_skip_bad_samples_leaves_them_out_and_lists_them(tmp_path, problem):
    data = write_folder_dataset(tmp_path / "data")
    words = break_mask(data, problem)
    run = tmp_path / "run"
    assert main(train_args(data, run, "--skip-bad-samples")) == 0
    listed = (run / "skipped_samples.txt").read_text()
    assert words in listed and len(listed.strip().splitlines()) == 1
    assert "--skip-bad-samples: left out 1 sample(s)" in (run / "train.log").read_text()
    state = load_checkpoint(run)
    assert state["steps_per_epoch"] == 2  # 5 usable training images of 6, batches of 2
    assert TrainConfig.load(run).skip_bad_samples
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0  # the same samples are left out again


def test_resume_keeps_the_runs_epochs(tmp_path):
    """``--resume`` without budget options continues to the run's own epochs (was: the default 100)."""
    data = write_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    assert main(train_args(data, run, "--epochs", "2", "--max-steps", "1")) == 0
    assert load_checkpoint(run)["step"] == 1
    assert main(["train", "--resume", str(run)]) == 0
    state = load_checkpoint(run)
    assert state["epoch"] == 2 and state["step"] == 2 * state["steps_per_epoch"]
    assert TrainConfig.from_dict(state["train_config"]).epochs == 2


def test_checkpoint_interval_is_a_resumable_option(tmp_path, capsys):
    with pytest.raises(ValueError, match="checkpoint_minutes must be >= 0"):
        TrainConfig(checkpoint_minutes=-1)
    data = write_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    assert main(train_args(data, run, "--max-steps", "1", "--checkpoint-minutes", "5")) == 0
    assert TrainConfig.load(run).checkpoint_minutes == 5
    assert main(["train", "--resume", str(run), "--checkpoint-minutes", "1"]) == 0
    assert main(["train", "--resume", str(run), "--skip-bad-samples"]) == 2
    assert "skip_bad_samples cannot change" in capsys.readouterr().err


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no checkpoint on the way out)."""


def one_long_epoch(out, **opts) -> Trainer:
    """6 steps in one epoch, no validation."""
    torch.manual_seed(0)
    options = TrainConfig(epochs=1, batch_size=4, workers=0, lr=2e-3, log_every=1, **opts)
    return Trainer(create_model("fpliif", **TINY), SyntheticFaces(26, 32, 5, noise=0.1), None, options, out)


def test_a_kill_mid_epoch_loses_at_most_the_interval(tmp_path, monkeypatch):
    clock = types.SimpleNamespace(now=0.0)  # each step takes one minute of this clock
    monkeypatch.setattr(loop_module, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    reference = one_long_epoch(tmp_path / "reference", checkpoint_minutes=2)
    reference.fit()

    victim = one_long_epoch(tmp_path / "victim", checkpoint_minutes=2)
    real_step = victim.train_step

    def step(batch):
        if victim.step == 5:
            raise Killed()  # during the sixth step of the epoch
        clock.now += 60
        return real_step(batch)

    victim.train_step = step
    with pytest.raises(Killed):
        victim.fit()
    saved = load_checkpoint(tmp_path / "victim")
    assert saved["epoch"] == 0 and 5 - 2 <= saved["step"] < 5  # at most 2 minutes (2 steps) lost

    resumed = one_long_epoch(tmp_path / "victim", checkpoint_minutes=2)
    resumed.resume(tmp_path / "victim")
    resumed.fit()
    a, b = weights(reference), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)  # and the run ends as if it had never been killed


def test_run_folder_records_what_the_weights_were_trained_with(tmp_path):
    data = write_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    assert main(train_args(data, run)) == 0
    recipe = json.loads((run / "best" / "train_config.json").read_text())
    assert recipe["input_size"] == 32 and json.loads((run / "best" / "config.json").read_text())["input_size"] == 32
