"""``fpliif push``: publish a saved model folder to the Hugging Face Hub, after checking that it loads."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from ..config import CONFIG_NAME
from ..hub import CARD_NAME, REPO_ID, WEIGHTS_NAME
from . import CommandError

__all__ = ["add_parser", "run", "UPLOAD_FILES"]

UPLOAD_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME)
LOGIN_HINT = ("run `hf auth login` (`huggingface-cli login` with an older huggingface_hub) or set HF_TOKEN "
              "to a token with write access (https://huggingface.co/settings/tokens)")

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
    p = subparsers.add_parser(
        "push", help="upload a saved model folder to the Hugging Face Hub",
        description="Upload a model folder (config.json, model.safetensors, README.md) to a Hugging Face Hub "
                    "model repo, creating the repo if needed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                   help="folder with config.json and model.safetensors (as written by fpliif train or save_pretrained)")
    p.add_argument("--repo", required=True, metavar="USER/NAME",
                   help="Hub model repo id (created if it does not exist)")
    p.add_argument("--private", action="store_true",
                   help="create the repo as private (an existing repo keeps its visibility)")
    p.add_argument("--revision-message", "--commit-message", dest="message", default="Upload FP-LIIF weights",
                   metavar="TEXT", help="commit message of the upload (default: %(default)r)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    repo = args.repo.strip()
    if not REPO_ID.match(repo):
        raise CommandError(f"--repo must be a Hub repo id like user/fpliif-celebamask; got {args.repo!r}")
    directory = args.model_dir.expanduser()
    model = check_folder(directory)
    if not (directory / CARD_NAME).is_file():
        from ..card import model_card

        (directory / CARD_NAME).write_text(model_card(model.cfg))
        print(f"fpliif push: {directory} had no {CARD_NAME}; wrote a model card from {CONFIG_NAME} "
              "(edit it to state the data, licence and metrics, then push again)", file=sys.stderr)
    skipped = sorted(p.name for p in directory.iterdir() if p.name not in UPLOAD_FILES)
    if skipped:
        more = f" (+{len(skipped) - 5} more)" if len(skipped) > 5 else ""
        print(f"fpliif push: not uploaded: {', '.join(skipped[:5])}{more}", file=sys.stderr)
    repo_url, commit = upload(directory, repo, args.private, args.message, find_token())
    print(f"fpliif push: uploaded {', '.join(UPLOAD_FILES)} to {repo_url}")
    if getattr(commit, "commit_url", None):
        print(f"  commit: {commit.commit_url}")
    pin = f" --revision {commit.oid}" if getattr(commit, "oid", None) else ""
    print(f"  use it: fpliif parse face.jpg --out parsed/ --model {repo}{pin}")
    return 0


def check_folder(directory: Path):
    """Load ``directory`` exactly as users will; any problem becomes a :class:`CommandError` naming it."""
    from ..hub import from_pretrained

    if not directory.is_dir():
        raise CommandError(f"model folder {directory} does not exist; give the folder holding config.json and "
                           "model.safetensors")
    try:
        return from_pretrained(directory, local_files_only=True)
    except (FileNotFoundError, ValueError, KeyError, TypeError, RuntimeError, OSError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise CommandError(f"{directory} does not load as an fpliif model, so nothing was uploaded:\n{message}") from e


def find_token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise CommandError(f"no Hugging Face token found, so nothing was uploaded: {LOGIN_HINT}")
    return token


def upload(directory: Path, repo: str, private: bool, message: str, token: str):
    """Create the repo (if needed) and upload :data:`UPLOAD_FILES`; returns ``(repo URL, commit info)``."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        repo_url = api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(repo_id=repo, folder_path=str(directory), repo_type="model",
                                   allow_patterns=list(UPLOAD_FILES), commit_message=message)
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status == 401:
            raise CommandError(f"the Hub did not accept the token (401 Unauthorized): {LOGIN_HINT}") from e
        if status == 403:
            raise CommandError(f"the token may not write to {repo} (403 Forbidden): use a token with write access, "
                               "and a user or organisation name you belong to") from e
        raise CommandError(f"uploading to {repo} failed: {e}") from e
    except _transport_errors() as e:
        raise CommandError(f"could not reach the Hugging Face Hub to upload {repo} ({e}); check the network "
                           "(and HF_ENDPOINT if set), then run the command again") from e
    return repo_url, commit


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network error classes of the HTTP clients huggingface_hub may use (each only if installed)."""
    errors: list[type[BaseException]] = [OSError]
    for module, name in (("httpx", "TransportError"), ("httpx2", "TransportError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)
