"""Training: the config, the entry point, the loop, the objective, checkpoints, schedules, DDP and fine-tuning.

>>> from fpliif.train import TrainConfig, train
>>> train(TrainConfig(data=["pack/celebamask-mini"], epochs=10), "runs/demo")
>>> train(resume="runs/demo", overrides={"epochs": 20})
"""

from .checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import DistInfo, ShardedSampler, init_distributed, shutdown_distributed
from .ema import weight_ema
from .finetune import freeze_encoder, init_from_pretrained, parse_labels, transfer_weights
from .loop import ParsingNet, Trainer
from .losses import dice_loss, edge_aware_loss, label_edges, parsing_loss, partial_label_loss, pixel_losses
from .run import build_trainer, train
from .sampling import sample_queries
from .schedule import LRSchedule

__all__ = [
    "train", "build_trainer", "TrainConfig", "Trainer", "ParsingNet", "LRSchedule", "weight_ema",
    "parsing_loss", "dice_loss", "edge_aware_loss", "partial_label_loss", "pixel_losses", "label_edges",
    "sample_queries",
    "save_checkpoint", "load_checkpoint", "resolve_checkpoint",
    "DistInfo", "ShardedSampler", "init_distributed", "shutdown_distributed",
    "init_from_pretrained", "transfer_weights", "freeze_encoder", "parse_labels",
]
