"""``fpliif push``: publish a saved model folder to the Hugging Face Hub, after checking that it loads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..hub import UPLOAD_FILES, parse_repo_id, push_to_hub
from ..text import first_few
from . import CommandError
from .arguments import add_command

__all__ = ["add_parser", "run"]

EPILOG = """\
what is uploaded: config.json, model.safetensors and README.md (the model card; written from config.json
into MODEL_DIR first when it has none). Nothing else in the folder (checkpoints, logs) is uploaded.
MODEL_DIR is loaded with fpliif.from_pretrained before anything is sent: a folder that does not load is refused.

login: hf auth login (or huggingface-cli login), or HF_TOKEN=hf_... in the environment.

examples:
  fpliif push runs/celebamask/best --repo user/fpliif-celebamask
  fpliif push runs/celebamask/best --repo my-org/fpliif-face --private --revision-message "epoch 120, mIoU 0.80"
  fpliif parse face.jpg --out parsed/ --model user/fpliif-celebamask     # then use it from anywhere
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "push", run,
                    help="upload a saved model folder to the Hugging Face Hub",
                    description="Upload a model folder (config.json, model.safetensors, README.md) to a Hugging Face "
                                "Hub model repo, creating the repo if needed.",
                    epilog=EPILOG)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                   help="folder with config.json and model.safetensors (as written by fpliif train or save_pretrained)")
    p.add_argument("--repo", required=True, metavar="USER/NAME",
                   help="Hub model repo id (created if it does not exist)")
    p.add_argument("--private", action="store_true",
                   help="create the repo as private (an existing repo keeps its visibility)")
    p.add_argument("--revision-message", "--commit-message", dest="message", default="Upload FP-LIIF weights",
                   metavar="TEXT", help="commit message of the upload (default: %(default)r)")


def run(args: argparse.Namespace) -> int:
    try:
        repo, revision = parse_repo_id(args.repo)
        if revision:
            raise ValueError("an upload makes a new commit; it cannot go to a given revision")
    except ValueError as e:
        raise CommandError(f"--repo must be a Hub repo id like user/fpliif-celebamask; got {args.repo!r}") from e
    try:
        result = push_to_hub(args.model_dir, repo, private=args.private, commit_message=args.message)
    except (PermissionError, ConnectionError) as e:
        raise CommandError(str(e)) from e
    if result.card_written:
        print(f"fpliif push: {args.model_dir} had no README.md; wrote a model card from config.json "
              "(edit it to state the data, licence and metrics, then push again)", file=sys.stderr)
    if result.skipped:
        print(f"fpliif push: not uploaded: {first_few(result.skipped, 5)}", file=sys.stderr)
    sent = [name for name in UPLOAD_FILES if (args.model_dir / name).is_file()]
    print(f"fpliif push: uploaded {', '.join(sent)} to {result.repo_url}")
    if result.commit_url:
        print(f"  commit: {result.commit_url}")
    pin = f" --revision {result.commit}" if result.commit else ""
    print(f"  use it: fpliif parse face.jpg --out parsed/ --model {repo}{pin}")
    return 0
