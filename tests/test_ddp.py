"""Two CPU processes with the gloo backend (as ``torchrun --nproc_per_node 2`` would start them) train a tiny
model for a few steps; the replicas must stay identical and only rank 0 writes the run folder."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fpliif import create_model
from fpliif.train import TrainConfig, Trainer, init_distributed, shutdown_distributed
from fpliif.train.synthetic import SyntheticFaces

TINY = dict(width=8, blocks=(1, 1, 1), reduce_hidden=16, feature_dim=8, mlp_hidden=(16, 16), input_size=32,
            label_names=["background", "skin", "eye", "lip", "hair"])
WORLD = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    info = init_distributed("cpu")
    assert info.distributed and dist.get_backend() == "gloo"
    torch.manual_seed(0)
    model = create_model("fpliif", **TINY)
    opts = TrainConfig(epochs=2, batch_size=2, workers=0, lr=5e-3, ema=True, log_every=1)
    trainer = Trainer(model, SyntheticFaces(8, 32, noise=0.1), SyntheticFaces(2, 32), opts, out, info)
    trainer.fit()
    torch.save({"model": model.state_dict(), "ema": trainer.ema.module.state_dict(), "step": trainer.step},
               os.path.join(out, f"rank{rank}.pt"))
    shutdown_distributed()


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch built without gloo")
def test_two_gloo_processes_stay_identical(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    mp.spawn(worker, args=(free_port(), str(out)), nprocs=WORLD, join=True)
    r0 = torch.load(out / "rank0.pt", weights_only=True)
    r1 = torch.load(out / "rank1.pt", weights_only=True)
    assert r0["step"] == r1["step"] == 4  # 8 images / 2 ranks / batch 2 = 2 steps per epoch
    for part in ("model", "ema"):
        for k, v in r0[part].items():
            assert torch.equal(v, r1[part][k]), (part, k)
    start = TrainConfig().seed  # the weights moved from their (shared) initialisation
    torch.manual_seed(start)
    init = create_model("fpliif", **TINY).state_dict()
    assert any(not torch.equal(init[k], r0["model"][k]) for k in init)
    assert (out / "best" / "model.safetensors").is_file() and (out / "last.pt").is_file()
    assert (out / "train.log").read_text().count("run folder") == 1  # one writer


def test_sharded_sampler_splits_and_resumes():
    from fpliif.train import ShardedSampler

    shards = [ShardedSampler(10, seed=3, rank=r, world_size=2) for r in range(2)]
    for s in shards:
        s.set_epoch(1)
    seen = [i for s in shards for _, i in s]
    assert sorted(seen) == list(range(10))  # every index once across ranks
    whole = list(shards[0])
    shards[0].set_epoch(1, start=2)
    assert list(shards[0]) == whole[2:] and len(shards[0]) == 3
    shards[0].set_epoch(2)
    assert [i for _, i in shards[0]] != [i for _, i in whole]  # a new order each epoch
