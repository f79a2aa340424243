"""``fpliif demo``: open the Gradio demo on loopback (needs ``pip install fpliif[demo]``)."""

from __future__ import annotations

import argparse
import importlib.util

from . import CommandError
from .arguments import add_command, add_device_argument, add_model_arguments, add_tta_argument

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "demo", run, help="open the interactive demo in the browser (127.0.0.1 only)",
                    description="Serve the Gradio demo on 127.0.0.1: upload a photo, pick faces and labels, see the "
                                "overlay with the faces numbered, the class outlines and the mask over the photo, and "
                                "download them with the index map.")
    add_model_arguments(p)
    p.add_argument("--port", type=int, default=7860, help="port on 127.0.0.1 (default 7860)")
    add_device_argument(p)
    add_tta_argument(p)
    return p


def run(args) -> int:
    if importlib.util.find_spec("gradio") is None:
        raise CommandError('the demo needs Gradio, which is not installed: pip install "fpliif[demo]"')
    if not 0 < args.port < 65536:
        raise CommandError(f"--port must be between 1 and 65535, got {args.port}")
    from ..demo import launch

    launch(args.model, port=args.port, device=args.device, revision=args.revision, tta=args.tta)
    return 0
