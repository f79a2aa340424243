"""The ``--out`` folder: checked before any work, a record of every file the command wrote, atomic writes.

Every file ``fpliif parse`` writes is recorded in ``OUT/.fpliif-outputs.jsonl`` (one JSON line per file: its path
relative to ``OUT``, size and modification time). A later run may replace a file only if that record says fpliif
wrote it and the file has not changed since; anything else — an input, the user's own ``face_color.png``, a mask
touched up by hand — is never replaced. The same record tells a later run which files in a folder are earlier
outputs, so they are not parsed as photos; nothing is guessed from file names.

A file is written under a temporary name (``.NAME.PID.tmp``), recorded, then renamed into place, so a crash or
a kill never leaves a half-written file under an output's name.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from . import CommandError

__all__ = ["OutputFolder", "MANIFEST_NAME", "recorded_outputs", "OutputConflict", "check_writable"]

MANIFEST_NAME = ".fpliif-outputs.jsonl"


class OutputConflict(OSError):
    """An output would replace a file this command did not write (raised per input, at write time)."""


def recorded_outputs(folder: Path) -> set[Path]:
    """The files recorded in ``folder``'s manifest (resolved paths); empty when it has none."""
    return {(folder / rel).resolve() for rel in _read_manifest(folder / MANIFEST_NAME)}


def _read_manifest(path: Path) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)``; the last line for a path wins, a damaged line is skipped."""
    records: dict[str, tuple[int, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return records
    for line in lines:
        try:
            entry = json.loads(line)
            records[str(entry["path"])] = (int(entry["size"]), int(entry["mtime_ns"]))
        except (ValueError, KeyError, TypeError):
            continue  # e.g. the last line of a run that was killed while appending it
    return records


def check_writable(root: Path) -> None:
    """Raise :class:`CommandError` unless ``root`` is, or can become, a folder this process can write in: checked by
    creating and removing a probe file in it (or in its nearest existing parent, so nothing is left behind)."""
    root = Path(root)
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        what = f"{root} is a file" if existing == root else f"{existing} is a file, not a folder"
        raise CommandError(f"--out {root} cannot be a folder: {what}; give a folder for the outputs")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".fpliif-probe-"):
            pass
    except OSError as e:
        reason = e.strerror or str(e)
        raise CommandError(f"cannot write to --out {root} ({reason} in {existing}); give a folder you can write "
                           "to") from e


class OutputFolder:
    """The output folder of one run.

    Args:
        root: the ``--out`` folder (created if needed).
        inputs: the run's input files; never replaced, whatever the manifest says.

    Raises:
        CommandError: ``root`` is a file, cannot be created or is not writable (see :func:`check_writable`).
    """

    def __init__(self, root: Path, inputs: Iterable[Path] = ()):
        self.root = Path(root)
        self.inputs = {Path(p).resolve() for p in inputs}
        check_writable(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CommandError(f"cannot create --out {self.root} ({e.strerror or e}); give a folder you can write "
                               "to") from e
        self.manifest = self.root / MANIFEST_NAME
        self.records = _read_manifest(self.manifest)

    # ------------------------------------------------------------------------------------------ checks
    def problem(self, path: Path) -> str | None:
        """Why ``path`` may not be written (``None`` if it may): an input, a file fpliif did not write, a changed
        output, or a parent that is a file."""
        resolved = path.resolve()
        if resolved in self.inputs:
            return f"{path} is an input"
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"{parent} is a file, where the folder for {path.name} would go"
                break
        if not path.exists() and not path.is_symlink():
            return None
        if path.is_symlink() or not path.is_file():
            return f"{path} exists and is not a file fpliif wrote"
        record = self.records.get(self._relative(path))
        if record is None:
            return f"{path} exists and was not written by fpliif"
        stat = path.stat()
        if record != (stat.st_size, stat.st_mtime_ns):
            return f"{path} was changed after fpliif wrote it"
        return None

    def check(self, paths: Iterable[Path]) -> None:
        """Refuse, before any work, to write any of ``paths`` that :meth:`problem` objects to."""
        problems = [p for p in (self.problem(path) for path in dict.fromkeys(paths)) if p]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise CommandError(f"refusing to replace files: {problems[0]}{more}; fpliif only replaces its own "
                               f"unchanged outputs (recorded in {self.manifest}). Choose another --out folder, or "
                               "move those files away")

    def check_folder(self, folder: Path) -> None:
        """Refuse a folder reserved for one input's outputs (a video's frames) that holds files fpliif did not
        write."""
        if not folder.is_dir():
            self.check([folder])
            return
        self.check(p for p in folder.iterdir() if not p.name.startswith("."))

    # ------------------------------------------------------------------------------------------ writing
    def write_all(self, files: dict[Path, Callable[[Path], None]]) -> None:
        """Write a set of outputs (``path -> writer(tmp_path)``), each atomically; all or none of them stay.

        Raises:
            OutputConflict: one of the paths may not be written (nothing was written).
            OSError: writing failed (the files written so far by this call are removed again).
        """
        problems = [p for p in (self.problem(path) for path in files) if p]
        if problems:
            raise OutputConflict(f"refusing to replace {problems[0]}; fpliif only replaces its own unchanged "
                                 "outputs: move the file away or choose another --out folder")
        done: list[Path] = []
        try:
            for path, write in files.items():
                self.write(path, write)
                done.append(path)
        except BaseException:
            for path in done:
                path.unlink(missing_ok=True)
            raise

    def write(self, path: Path, write: Callable[[Path], None]) -> None:
        """``write(tmp)`` a file beside ``path``, record it, then rename it into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            write(tmp)
            self.record(path, tmp)
            os.replace(tmp, path)
        except OSError as e:
            reason = e.strerror or str(e)
            raise OSError(f"cannot write {path} ({reason})") from e
        finally:
            tmp.unlink(missing_ok=True)

    def record(self, path: Path, written: Path | None = None) -> None:
        """Append ``path`` (with the size and time of ``written``, the same file under its temporary name, or of
        ``path`` itself) to the manifest."""
        stat = (written or path).stat()
        rel = self._relative(path)
        line = json.dumps({"path": rel, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}) + "\n"
        with open(self.manifest, "a", encoding="utf-8") as f:  # one short append: atomic on POSIX
            f.write(line)
        self.records[rel] = (stat.st_size, stat.st_mtime_ns)

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())
