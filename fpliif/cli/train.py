"""``fpliif train``: train or fine-tune a face parser; one process, or several through ``torchrun``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_command

__all__ = ["add_parser", "run"]

EPILOG = """\
run folder (--out): train_config.json (the whole recipe), train.log, last.pt (resume point), best/ and final/
(save_pretrained folders with a model card and the recipe), loss.png, val.png, val_predictions.png, metrics.json.

examples:
  fpliif train --data ../shared/data/celebamask-mini --model fpliif --epochs 200 --out runs/celeba
  fpliif train --data mini --size 128 --label-size 256 --sample-points 4096 --ema --out runs/cpu   # on a CPU
  fpliif train --config runs/celeba/train_config.json --out runs/again    # the same recipe (flags override)
  fpliif train --data mini --data hair-pseudo --val-data mini --model fpliif-small --ema --out runs/small
  fpliif train --resume runs/celeba --max-minutes 9          # continue exactly where it stopped
  fpliif train --data lapa/ --init user/fpliif-celebamask --labels lapa --lambda-edge 40 --out runs/lapa
  torchrun --nproc_per_node 4 -m fpliif train --data mini --batch-size 8 --out runs/ddp   # 4 GPUs
"""

def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "train", run, help="train or fine-tune a face-parsing model",
                    description="Train FP-LIIF (or a registered baseline) with the paper's loss: cross-entropy plus "
                                "lambda x edge-aware cross-entropy, softmax temperature from the model config.",
                    epilog=EPILOG)
    p.add_argument("--config", type=Path, metavar="JSON",
                   help="a train_config.json (from a run folder) to start from; flags given here override it")
    d = p.add_argument_group("data")
    d.add_argument("--data", action="append", metavar="PATH", help="training set folder; repeat to concatenate")
    d.add_argument("--val-data", metavar="PATH", help="validation set (default: the val split of the first --data)")
    d.add_argument("--layout", default=None, help="dataset layout for every --data (default: detect)")
    d.add_argument("--size", type=int, default=None, help="network input side in pixels (default 256)")
    d.add_argument("--label-size", type=int, default=None,
                   help="side of the label maps the loss is computed on (default --size); the decoder is queried at "
                        "their pixel centres, so a small input can learn from sharp labels (e.g. --size 128 "
                        "--label-size 256)")
    d.add_argument("--augment", choices=("face", "paper", "none"), default=None,
                   help="face (default: rotation +-20, scale 0.75-1.35, mild colour, flips that swap left/right "
                        "labels), paper (the paper's: rotation 30, shear 20, scale 0.5-3, strong colour), none")
    d.add_argument("--no-augment", action="store_true", help="the same as --augment none")
    d.add_argument("--skip-bad-samples", action="store_true", default=None,
                   help="train without the samples fpliif check-data flags (no mask, class ids out of range, a mask "
                        "of another size), listed in RUN/skipped_samples.txt; default: stop at the first, by name")
    m = p.add_argument_group("model")
    m.add_argument("--model", default=None,
                   help="registered model: fpliif (default), fpliif-small, unet-baseline (or unet), unet-small")
    m.add_argument("--init", metavar="NAME|PATH|REPO",
                   help="start from published weights: a pretrained name (see fpliif parse --help), a model folder "
                        "or a Hub repo id")
    m.add_argument("--labels", metavar="SET|NAMES", help="label set name (lapa, celebamask-hq) or comma list")
    m.add_argument("--freeze-encoder", action="store_true", help="train only the decoder")
    o = p.add_argument_group("optimisation")
    o.add_argument("--epochs", type=int, default=None, help="default 100")
    o.add_argument("--batch-size", type=int, default=None, help="images per process per step (default 8)")
    o.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 5e-4, the paper's)")
    o.add_argument("--schedule", choices=("step", "cosine", "constant"), default=None,
                   help="step (default, the paper: x0.1 every --decay-epochs), cosine (warmup + cosine) or constant")
    o.add_argument("--warmup-epochs", type=float, default=None, help="cosine/constant warmup (default 1)")
    o.add_argument("--decay-epochs", type=int, default=None, help="step schedule period (default 20)")
    o.add_argument("--lambda-edge", type=float, default=None, help="edge-loss weight (default 10; paper LaPa 40)")
    o.add_argument("--lambda-dice", type=float, default=None,
                   help="weight of a soft Dice term that weighs rare classes like common ones (default 0: the paper)")
    o.add_argument("--sample-points", type=int, default=None,
                   help="query N pixels per image (edges first) instead of the full grid; cuts CPU time")
    o.add_argument("--weight-decay", type=float, default=None)
    o.add_argument("--grad-clip", type=float, default=None, help="max gradient norm (default off)")
    o.add_argument("--ema", action="store_true", default=None, help="keep an EMA of the weights for val/export")
    o.add_argument("--ema-decay", type=float, default=None)
    o.add_argument("--amp", choices=("auto", "bf16", "off"), default=None,
                   help="auto = bf16 autocast where it is fast: CUDA, CPUs with AVX-512 BF16 or AMX")
    o.add_argument("--seed", type=int, default=None)
    r = p.add_argument_group("run")
    r.add_argument("--out", type=Path, help="run folder (default runs/MODEL-TIME; with --resume, its folder)")
    r.add_argument("--resume", metavar="RUN_DIR_OR_CKPT",
                   help="continue a run exactly from its last.pt; only the budget, --epochs, --workers, --threads, "
                        "--device, --log-every, --val-every and the schedule (--schedule, --lr, --decay-epochs, "
                        "--warmup-epochs: from the step it resumes at) may change")
    r.add_argument("--max-minutes", type=float, default=None, help="stop (resumable) before this much wall time")
    r.add_argument("--max-steps", type=int, default=None, help="stop (resumable) when the global step reaches N")
    r.add_argument("--checkpoint-minutes", type=float, default=None, metavar="M",
                   help="also write last.pt every M minutes within an epoch, so a crash loses at most M minutes "
                        "(default 10; 0: at epoch ends only)")
    r.add_argument("--workers", type=int, default=None, help="data loader processes (default: cores - 1, up to 8)")
    r.add_argument("--val-every", type=int, default=None, help="epochs between validations (default 1)")
    r.add_argument("--log-every", type=int, default=None, help="steps between log lines (default 10)")
    r.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, mps")
    r.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; kept by --resume); 1 is much faster on a "
                        "busy shared CPU")
    r.add_argument("--data-note", default=None, help="training-data text for the model card")
    r.add_argument("--licence", default=None, help="licence id for the model card (default other)")


def config_values(args: argparse.Namespace) -> dict:
    """The :class:`~fpliif.train.TrainConfig` fields given on the command line (flags left out are not here)."""
    from ..train.config import FLAGS, TrainConfig

    flag_of = {field: FLAGS.get(field, field) for field in TrainConfig.__dataclass_fields__}
    values = {field: getattr(args, flag) for field, flag in flag_of.items() if getattr(args, flag, None) is not None}
    for switch in ("freeze_encoder", "ema", "skip_bad_samples"):
        if getattr(args, switch, None) is False:
            values.pop(switch, None)  # store_true left off: keep the config's value
    if args.no_augment:
        values["augment"] = "none"
    return values


def run(args: argparse.Namespace) -> int:
    from ..train import TrainConfig, train

    values = config_values(args)
    if args.resume:
        if args.config:
            raise ValueError("--config starts a new run; --resume continues one from its own config: give one")
        summary = train(resume=args.resume, out_dir=args.out, overrides=values)
    else:
        base = TrainConfig.load(args.config) if args.config else TrainConfig()
        summary = train(base, args.out, overrides=values)
    return 0 if summary["step"] > 0 else 1
