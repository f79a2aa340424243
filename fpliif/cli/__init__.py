"""The ``fpliif`` command line: one module per subcommand, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import warnings

from .. import __version__

__all__ = ["main"]

# Subcommand name -> module in this package. Each module defines add_parser(subparsers) and run(args) -> int.
COMMANDS: dict[str, str] = {
    "parse": "parse",
    "labels": "labels",
    "train": "train",
    "eval": "eval",
    "check-data": "check_data",
    "pseudo-label": "pseudo_label",
    "export": "export",
    "demo": "demo",
    "push": "push",
}


EPILOG = """\
examples:
  fpliif parse face.jpg --out parsed/                       # label map + colour map at the image's size
  fpliif parse photos/ -r --out parsed/ --size 1024 --save index,overlay
  fpliif parse face.jpg --out masks/ --labels hair --save mask --soft
  fpliif labels                                             # label and group names for --labels

Run `fpliif COMMAND --help` for each command's options.
"""


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up (temporary files) runs as for Ctrl-C."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line usage error (which option, which value, where the help is), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="fpliif",
        description="FP-LIIF face parsing: label every pixel of a face (skin, eyes, brows, lips, hair, ...) "
                    "at any output resolution.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fpliif {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for module in COMMANDS.values():
        mod = importlib.import_module(f".{module}", __name__)
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Exit status: 0 done, 1 some inputs failed (or the run failed), 2 usage errors,
    130 / 143 interrupted (Ctrl-C / SIGTERM), 141 the reader of stdout went away (``fpliif labels | head``).
    Errors are one line on stderr, never a traceback (``FPLIIF_DEBUG=1`` shows one)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    with warnings.catch_warnings(), _sigterm_raises():
        warnings.showwarning = _warning_printer(args.command)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    name = f"fpliif {args.command}"
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is caught below and not at exit
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more reaches the closed pipe
        return 141
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        return _terminated(name)
    except (CommandError, FileNotFoundError, ValueError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"{name}: error: {message}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 (the last resort: a line, not a traceback)
        if _worker_terminated(e):
            return _terminated(name)
        if os.environ.get("FPLIIF_DEBUG"):
            raise
        print(f"{name}: error: {e} ({type(e).__name__}; FPLIIF_DEBUG=1 shows where)", file=sys.stderr)
        return 1


def _terminated(name: str) -> int:
    print(f"{name}: terminated", file=sys.stderr)
    if hasattr(signal, "SIGCHLD") and threading.current_thread() is threading.main_thread():
        # PyTorch's SIGCHLD handler would report the workers that the same SIGTERM killed again, as a traceback
        # from the data-loader iterator's clean-up ("Exception ignored in ... __del__")
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    return 143


def _worker_terminated(error: Exception) -> bool:
    """PyTorch's error when a data-loader worker died of SIGTERM: a SIGTERM sent to the whole process group (Slurm,
    ``docker stop``, ``kill -- -PGID``) can reach a worker before the main process handles its own."""
    text = str(error)
    return isinstance(error, RuntimeError) and "DataLoader worker" in text and "killed by signal: Terminated" in text


def _warning_printer(command: str):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"fpliif {command}: warning: {message}", file=sys.stderr)

    return show


class _sigterm_raises:  # noqa: N801 (a context manager used like a function)
    """While active (main thread only), SIGTERM raises :class:`Terminated`."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Terminated()

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _default_sigterm_in_child() -> None:
    """A process forked while a command runs (a data-loader worker) dies of SIGTERM as usual; only the main process
    turns it into :class:`Terminated` (and reports a worker's death by SIGTERM as termination, not as an error)."""
    if signal.getsignal(signal.SIGTERM) is _sigterm_raises._raise:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_sigterm_in_child)


if __name__ == "__main__":
    sys.exit(main())
