"""Training: the objective, the loop, checkpoints, schedules, DDP, fine-tuning and the run folder's plots.

>>> from fpliif.train import Trainer, TrainOptions
>>> trainer = Trainer(model, train_set, val_set, TrainOptions(epochs=10), "runs/demo")
>>> trainer.fit()
"""

from .checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from .distributed import DistInfo, ShardedSampler, init_distributed, shutdown_distributed
from .ema import ModelEMA
from .finetune import classifier_keys, freeze_encoder, init_from_pretrained, parse_labels, transfer_weights
from .loop import ParsingNet, Trainer
from .losses import edge_aware_loss, label_edges, parsing_loss, partial_label_loss, pixel_losses
from .options import TrainOptions
from .sampling import sample_queries
from .schedule import LRSchedule

__all__ = [
    "Trainer", "TrainOptions", "ParsingNet", "LRSchedule", "ModelEMA",
    "parsing_loss", "edge_aware_loss", "partial_label_loss", "pixel_losses", "label_edges", "sample_queries",
    "save_checkpoint", "load_checkpoint", "resolve_checkpoint",
    "DistInfo", "ShardedSampler", "init_distributed", "shutdown_distributed",
    "init_from_pretrained", "transfer_weights", "classifier_keys", "freeze_encoder", "parse_labels",
]
