"""``fpliif train``: train or fine-tune a face parser; one process, or several through ``torchrun``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from . import CommandError

__all__ = ["add_parser", "run"]

EPILOG = """\
run folder (--out): train.log, last.pt (resume point), best/ and final/ (save_pretrained folders with a model
card), loss.png, val.png, val_predictions.png, metrics.json.

examples:
  fpliif train --data ../shared/data/celebamask-mini --model fpliif --epochs 200 --out runs/celeba
  fpliif train --data mini --data hair-pseudo --val-data mini --model fpliif-small --ema --out runs/small
  fpliif train --resume runs/celeba --max-minutes 9          # continue exactly where it stopped
  fpliif train --data lapa/ --init user/fpliif-celebamask --labels lapa --lambda-edge 40 --out runs/lapa
  torchrun --nproc_per_node 4 -m fpliif train --data mini --batch-size 8 --out runs/ddp   # 4 GPUs
"""

# Options that may change when a run is resumed; everything else comes from the checkpoint. The learning-rate
# schedule is a function of the step, so a new --schedule, --lr, --epochs or --decay-epochs takes effect from the
# step the run resumes at (e.g. a constant run ending in a cosine decay, or a step decay moved later).
RESUME_OVERRIDES = ("max_minutes", "max_steps", "workers", "epochs", "log_every", "val_every",
                    "schedule", "lr", "decay_epochs", "warmup_epochs")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train or fine-tune a face-parsing model",
        description="Train FP-LIIF (or a registered baseline) with the paper's loss: cross-entropy plus "
                    "lambda x edge-aware cross-entropy, softmax temperature from the model config.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", action="append", metavar="PATH", help="training set folder; repeat to concatenate")
    d.add_argument("--val-data", metavar="PATH", help="validation set (default: the val split of the first --data)")
    d.add_argument("--layout", default="auto", help="dataset layout for every --data (default: detect)")
    d.add_argument("--size", type=int, default=None, help="network input side in pixels (default 256)")
    d.add_argument("--label-size", type=int, default=None,
                   help="side of the label maps the loss is computed on (default --size); the decoder is queried at "
                        "their pixel centres, so a small input can learn from sharp labels (e.g. --size 128 "
                        "--label-size 256)")
    d.add_argument("--augment", choices=("face", "paper", "none"), default=None,
                   help="face (default: rotation +-20, scale 0.75-1.35, mild colour, flips that swap left/right "
                        "labels), paper (the paper's: rotation 30, shear 20, scale 0.5-3, strong colour), none")
    d.add_argument("--no-augment", action="store_true", help="the same as --augment none")
    m = p.add_argument_group("model")
    m.add_argument("--model", default=None, help="registered model: fpliif, fpliif-small, unet (default fpliif)")
    m.add_argument("--init", metavar="PATH_OR_REPO", help="start from published weights (folder, 'default', repo)")
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
    r.add_argument("--resume", metavar="RUN_DIR_OR_CKPT", help="continue a run exactly from its last.pt")
    r.add_argument("--max-minutes", type=float, default=None, help="stop (resumable) before this much wall time")
    r.add_argument("--max-steps", type=int, default=None, help="stop (resumable) when the global step reaches N")
    r.add_argument("--workers", type=int, default=None, help="data loader processes (default: cores - 1, up to 8)")
    r.add_argument("--val-every", type=int, default=None, help="epochs between validations (default 1)")
    r.add_argument("--log-every", type=int, default=None, help="steps between log lines (default 10)")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    r.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice); 1 is much faster on a busy shared CPU")
    r.add_argument("--data-note", default=None, help="training-data text for the model card")
    r.add_argument("--licence", default=None, help="licence id for the model card (default other)")
    p.set_defaults(run=run)


def _option_values(args: argparse.Namespace) -> dict:
    from ..train.options import TrainOptions

    values = {}
    for name in TrainOptions.__dataclass_fields__:
        v = getattr(args, name, None)
        if v is not None:
            values[name] = v
    if args.freeze_encoder:
        values["freeze_encoder"] = True
    return values


def run(args: argparse.Namespace) -> int:
    from ..train.distributed import init_distributed, shutdown_distributed

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    dist = init_distributed(args.device)
    try:
        trainer = _build_trainer(args, dist)
        summary = trainer.fit()
    finally:
        shutdown_distributed()
    return 0 if summary["step"] > 0 else 1


def _build_trainer(args: argparse.Namespace, dist):
    from ..train.checkpoint import load_checkpoint, resolve_checkpoint
    from ..train.loop import Trainer
    from ..train.options import TrainOptions

    values = _option_values(args)
    state = None
    if args.resume:
        ckpt_path = resolve_checkpoint(args.resume)
        state = load_checkpoint(ckpt_path)
        saved = {**state["options"], "max_minutes": 0.0, "max_steps": 0}  # a budget is for one invocation
        saved.update({k: v for k, v in values.items() if k in RESUME_OVERRIDES})
        opts = TrainOptions.from_dict(saved)
        cli = dict(state.get("extra", {}).get("cli", {}))
        for key in ("data", "val_data", "layout", "size", "label_size", "augment"):
            if getattr(args, key) not in (None, False):
                cli[key] = getattr(args, key)
        out = args.out or ckpt_path.parent
    else:
        if not args.data:
            raise CommandError("give --data PATH (a training set), or --resume RUN_DIR to continue a run")
        if "data_note" not in values:
            values["data_note"] = (f"Trained with `fpliif train` on {', '.join(Path(p).name for p in args.data)}; "
                                   f"validated on the val split of {Path(args.val_data or args.data[0]).name}.")
        opts = TrainOptions.from_dict(values)
        absolute = lambda p: str(Path(p).expanduser().resolve()) if p else p  # resume works from any folder
        cli = {"data": [absolute(p) for p in args.data], "val_data": absolute(args.val_data), "layout": args.layout,
               "size": args.size or 256, "label_size": args.label_size or args.size or 256,
               "augment": "none" if args.no_augment else (args.augment or "face")}
        out = args.out or Path("runs") / f"{args.model or 'fpliif'}-{time.strftime('%Y%m%d-%H%M%S')}"
    torch_seed(opts.seed)
    model = _make_model(args, state, cli["size"], opts)
    train_set, val_set = _open_datasets(cli, model.cfg.label_names, opts.seed)
    trainer = Trainer(model, train_set, val_set, opts, out, dist)
    if state is not None:
        trainer.load_state_dict(state)
    # the model card names the command that started the run, resumed or not
    trainer.command = trainer.extra.get("command") or command_line(args)
    trainer.extra.update(command=trainer.command, cli={k: (str(v) if isinstance(v, Path) else v)
                                                       for k, v in cli.items()})
    return trainer


def command_line(args: argparse.Namespace) -> str:
    """The ``fpliif train`` command that reproduces ``args`` (for the model card)."""
    parts = ["fpliif", "train"]
    skip = {"command", "run", "resume", "max_minutes", "max_steps"}
    for key, value in vars(args).items():
        if key in skip or value is None or value is False or (key in ("layout", "device") and value == "auto"):
            continue
        flag = "--" + key.replace("_", "-")
        for v in value if isinstance(value, list) else [value]:
            parts += [flag] if v is True else [flag, shlex.quote(str(v))]
    return " ".join(parts)


def torch_seed(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _make_model(args, state, size: int, opts):
    from ..config import FPLIIFConfig
    from ..models.registry import build_model, create_model, list_models
    from ..train.finetune import freeze_encoder, init_from_pretrained, parse_labels

    if state is not None:
        model = build_model(FPLIIFConfig.from_dict(state["config"]))
    elif args.init:
        labels = parse_labels(args.labels) if args.labels else None
        model, report = init_from_pretrained(args.init, labels.names if labels else None,
                                             labels.name if labels else None)
        if report["new"]:
            print(f"fpliif train: fine-tuning {args.init}: kept classifier rows {report['kept']}, "
                  f"new {report['new']}", file=sys.stderr)
    else:
        name = {"unet": "unet-baseline"}.get(args.model or "fpliif", args.model or "fpliif")
        if name not in list_models():
            raise CommandError(f"unknown --model {args.model!r}; registered: {', '.join(list_models())} (or unet)")
        overrides = {"input_size": size}
        if args.labels:
            labels = parse_labels(args.labels)
            overrides.update(label_names=list(labels.names), label_set=labels.name)
        model = create_model(name, **overrides)
    if opts.freeze_encoder:
        freeze_encoder(model)
    return model.train()


def _open_datasets(cli: dict, label_names, seed: int):
    from ..data import open_dataset
    from ..train.data import concat_datasets

    size, layout = cli["size"], cli.get("layout") or "auto"
    label_size = cli.get("label_size") or size
    augment = cli.get("augment") or ("none" if cli.get("no_augment") else "paper")  # runs from before presets
    train = [open_dataset(p, split="train", size=size, mask_size=label_size, augment=augment,
                          label_names=label_names, layout=layout) for p in cli["data"]]
    val_path = cli.get("val_data") or cli["data"][0]
    try:
        val = open_dataset(val_path, split="val", size=size, mask_size=label_size, augment=False,
                           label_names=label_names, layout=layout)
    except ValueError as e:
        print(f"fpliif train: no validation ({e}); pass --val-data to validate", file=sys.stderr)
        val = None
    if val is not None:
        _check_disjoint(train, cli["data"], val, val_path)
    return concat_datasets(train), val


def _check_disjoint(train: list, train_paths: list, val, val_path) -> None:
    """Refuse to validate on images that are also trained on (a layout without a split file gives them all)."""
    val_ids = {s.id for s in getattr(val, "samples", [])}
    for ds, path in zip(train, train_paths):
        if Path(path).resolve() != Path(val_path).resolve():
            continue
        shared = val_ids & {s.id for s in getattr(ds, "samples", [])}
        if shared:
            raise CommandError(
                f"{path} gives the same {len(shared)} images for its train and val splits (no split file?); "
                "pass a separate --val-data folder so the model is never trained on its validation set"
            )
