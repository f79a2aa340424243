"""Resume continues bit-for-bit on the CPU: N steps straight equal N/2 steps, a stop, a resume and N/2 more."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from fpliif import create_model
from fpliif.train import TrainConfig, Trainer, load_checkpoint
from fpliif.train.synthetic import SyntheticFaces

TINY = dict(TINY, label_names=["background", "skin", "eye", "lip", "hair"])


def make_trainer(out, **opts) -> Trainer:
    torch.manual_seed(0)
    model = create_model("fpliif", **TINY)
    options = TrainConfig(**{"epochs": 3, "batch_size": 4, "workers": 0, "lr": 2e-3, "log_every": 1, **opts})
    train = SyntheticFaces(10, 32, 5, noise=0.1)  # 2 steps per epoch, one leftover image dropped
    val = SyntheticFaces(4, 32, 5, seed=1)
    return Trainer(model, train, val, options, out)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.parametrize("opts", [
    {},
    {"ema": True, "sample_points": 200, "schedule": "step", "decay_epochs": 1},
])
def test_resume_is_bit_for_bit(tmp_path, opts):
    straight = make_trainer(tmp_path / "a", **opts)
    straight.fit()

    first = make_trainer(tmp_path / "b", max_steps=3, **opts)  # stops in the middle of epoch 2
    summary = first.fit()
    assert summary["stopped"] and summary["step"] == 3
    second = make_trainer(tmp_path / "b", **opts)
    second.resume(tmp_path / "b")
    assert second.step == 3 and second.epoch == 1
    second.fit()

    a, b = weights(straight), weights(second)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    if opts.get("ema"):
        for k, v in straight.ema.module.state_dict().items():
            assert torch.equal(v, second.ema.module.state_dict()[k]), k
    assert straight.history["val"] == second.history["val"]


def test_checkpoint_holds_everything(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=1, ema=True)
    trainer.fit()
    state = load_checkpoint(tmp_path)
    for key in ("config", "train_config", "model", "optimizer", "step", "epoch", "rng", "ema", "history", "timing"):
        assert key in state, key
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_refuses_other_batch_size(tmp_path):
    make_trainer(tmp_path, max_steps=1).fit()
    other = make_trainer(tmp_path / "x", batch_size=2)
    with pytest.raises(ValueError, match="steps per epoch"):
        other.resume(tmp_path)
