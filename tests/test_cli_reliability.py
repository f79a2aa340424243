"""``fpliif parse`` loses nothing and hides nothing: outputs never replace a file the command did not write, inputs
are never guessed from their names, every option and the output folder are checked before any work, a failure
is one line on stderr, and a file is either complete or absent."""

from __future__ import annotations

import errno
import json
import os
import signal
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import face_image
from PIL import Image

from fpliif.cli import main
from fpliif.cli.outputs import MANIFEST_NAME


def parse(*args, model_dir) -> int:
    return main(["parse", *map(str, args), "--model", str(model_dir), "--quiet"])


def files(folder: Path) -> list[str]:
    """Every file under ``folder`` (relative paths), the record of outputs included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in files(folder)}


def fake_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says ``width x height`` but whose pixels are missing: decoding it fails."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    face_image(40, 32, seed=1).save(folder / "face.png")
    return folder


# ---------------------------------------------------------------------------------------------- data loss
def test_a_users_file_beside_the_input_is_never_replaced(photos, tiny_model_dir, capsys):
    face_image(20, 20, seed=9).save(photos / "face_color.png")  # the user's own picture, named like an output
    before = snapshot(photos)
    assert parse(photos, "--out", photos, model_dir=tiny_model_dir) == 2
    err = capsys.readouterr().err
    assert "face_color.png is an input" in err and "another --out" in err
    assert snapshot(photos) == before  # nothing written, nothing replaced


@pytest.mark.parametrize("existing", ["face_color.png", "face_index.png"])
def test_a_file_in_out_that_fpliif_did_not_write_is_never_replaced(photos, tmp_path, tiny_model_dir, capsys,
                                                                    existing):
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_bytes(b"the user's")
    assert parse(photos / "face.png", "--out", out, model_dir=tiny_model_dir) == 2
    assert f"{existing} exists and was not written by fpliif" in capsys.readouterr().err
    assert files(out) == [existing] and (out / existing).read_bytes() == b"the user's"


def test_own_outputs_are_replaced_but_not_once_changed_or_unrecorded(photos, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    assert parse(photos, "--out", out, "--labels", "hair", model_dir=tiny_model_dir) == 0
    assert parse(photos, "--out", out, "--labels", "hair", model_dir=tiny_model_dir) == 0  # a re-run is fine
    assert files(out) == [MANIFEST_NAME, "face_color.png", "face_index.png", "face_mask_hair.png"]
    mask = out / "face_mask_hair.png"
    Image.new("L", (32, 40), 255).save(mask)  # touched up by hand
    touched = mask.read_bytes()
    capsys.readouterr()
    assert parse(photos, "--out", out, "--labels", "hair", model_dir=tiny_model_dir) == 2
    assert "face_mask_hair.png was changed after fpliif wrote it" in capsys.readouterr().err
    assert mask.read_bytes() == touched
    (out / MANIFEST_NAME).unlink()  # without the record, no file counts as fpliif's
    assert parse(photos, "--out", out, "--save", "index", model_dir=tiny_model_dir) == 2
    assert "face_index.png exists and was not written by fpliif" in capsys.readouterr().err


def test_inputs_are_not_guessed_from_their_names(tmp_path, tiny_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    face_image(24, 24).save(folder / "portrait_color.png")  # named like an output, but it is a photo
    out = tmp_path / "out"
    assert parse(folder, "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    assert files(out) == [MANIFEST_NAME, "portrait_color_index.png"]


def test_earlier_outputs_are_not_parsed_as_photos(photos, tiny_model_dir, capsys):
    assert parse(photos, "-r", "--out", photos / "parsed", model_dir=tiny_model_dir) == 0
    capsys.readouterr()
    assert parse(photos, "-r", "--out", photos / "parsed2", "--save", "index", model_dir=tiny_model_dir) == 0
    assert files(photos / "parsed2") == [MANIFEST_NAME, "face_index.png"]  # not parsed/face_color_index.png
    assert "skipped 2 file(s) that fpliif wrote earlier" in capsys.readouterr().err
    assert parse(photos / "parsed" / "face_color.png", "--out", photos / "named", "--save", "index",
                 model_dir=tiny_model_dir) == 0  # a file named on the command line is always taken


def test_video_outputs_never_replace_a_users_files(tmp_path, tiny_model_dir, capsys):
    from test_cli_video import write_gif

    gif = write_gif(tmp_path / "anim.gif", frames=2)
    out = tmp_path / "out"
    (out / "anim").mkdir(parents=True)
    (out / "anim" / "notes.txt").write_text("mine")
    assert parse(gif, "--out", out, "--save", "index", model_dir=tiny_model_dir) == 2
    assert "anim/notes.txt exists and was not written by fpliif" in capsys.readouterr().err
    assert files(out) == ["anim/notes.txt"]


# ---------------------------------------------------------------------------------------------- no partial files
def test_a_failed_write_leaves_no_file_of_that_input(photos, tmp_path, tiny_model_dir, capsys, monkeypatch):
    face_image(30, 30, seed=2).save(photos / "other.png")
    out = tmp_path / "out"
    real_save = Image.Image.save

    def save(self, fp, *args, **kwargs):
        if "other_color" in str(fp):
            Path(fp).write_bytes(b"half a PNG")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    assert parse(photos, "--out", out, model_dir=tiny_model_dir) == 1
    err = capsys.readouterr().err
    assert "stopped: cannot write" in err and "other_color.png (No space left on device)" in err
    assert files(out) == [MANIFEST_NAME, "face_color.png", "face_index.png"]  # other_index.png removed again
    assert not list(out.glob(".*.tmp"))


@pytest.fixture
def keep_sigchld():
    """Termination resets SIGCHLD to the default for the exit (see fpliif.cli._terminated); put it back for the
    tests that follow in this process."""
    if not hasattr(signal, "SIGCHLD"):  # Windows
        yield
        return
    previous = signal.getsignal(signal.SIGCHLD)
    yield
    signal.signal(signal.SIGCHLD, previous)


def test_sigterm_cleans_up_and_exits_143(photos, tmp_path, tiny_model_dir, capsys, monkeypatch, keep_sigchld):
    from fpliif.cli import parse as parse_command

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return []

    monkeypatch.setattr(parse_command, "parse_all", killed)
    assert parse(photos, "--out", tmp_path / "out", model_dir=tiny_model_dir) == 143
    assert "terminated" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is only there while a command runs


# ---------------------------------------------------------------------------------------------- checked first
@pytest.mark.parametrize("make_out, match", [
    (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt", "file.txt is a file"),
    (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt" / "sub", "file.txt is a file, not a folder"),
])
def test_out_that_cannot_be_a_folder_is_refused_before_any_work(photos, tmp_path, capsys, make_out, match):
    out = make_out(tmp_path)
    # The model does not exist: the --out error coming first shows nothing else was tried.
    assert main(["parse", str(photos), "--out", str(out), "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert match in err and "no-model" not in err and len(err.splitlines()) == 1


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_refused_before_any_work(photos, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["parse", str(photos), "--out", str(locked / "out"), "--model", str(tmp_path / "none")]) == 2
        assert "cannot write to --out" in capsys.readouterr().err
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("option", [["--scale", "0.0001"], ["--scale", "300"], ["--size", "1"]])
def test_size_options_are_checked_against_every_input_before_any_work(photos, tmp_path, capsys, option):
    face_image(400, 30).save(photos / "tall.png")
    assert main(["parse", str(photos), "--out", str(tmp_path / "out"), *option,
                 "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert " ".join(option) in err and ".png (" in err and "px" in err and "no-model" not in err
    assert not (tmp_path / "out").exists()


def test_too_large_inputs_fail_by_name_from_their_header(photos, tmp_path, tiny_model_dir, capsys):
    fake_png(photos / "huge.png", 10000, 10000)  # 100 MP: over the input limit
    fake_png(photos / "wide.png", 9000, 10)  # small, but 9000 px wide: over the output limit at its own size
    assert parse(photos, "--out", tmp_path / "out", "--save", "index", model_dir=tiny_model_dir) == 1
    err = capsys.readouterr().err
    assert "huge.png is 10000x10000 px (100 MP), over the input limit of 64 MP" in err
    assert "wide.png is 9000x10 px: an output at its own size is an output of 9000x10 px, over the 8192 px" in err
    assert "give --size 8192" in err and "1 parsed, 2 failed" in err  # face.png still parsed
    assert "not a readable image" not in err  # neither was decoded (their pixel data is missing)


def test_failures_go_to_stderr_only_and_each_is_one_line(photos, tmp_path, tiny_model_dir, capsys):
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert parse(photos, tmp_path / "missing.jpg", "--out", tmp_path / "out", model_dir=tiny_model_dir) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if "failed:" in line]
    assert len(lines) == 4 and all(("broken.png" in line) != ("missing.jpg" in line) for line in lines)
    assert "Traceback" not in captured.err


def test_pickled_model_file_is_refused_with_the_reason(photos, tmp_path, capsys):
    (tmp_path / "x.pt").write_bytes(b"pickle")
    assert main(["parse", str(photos), "--out", str(tmp_path / "out"), "--model", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert "x.pt is a training checkpoint or pickled weights: fpliif loads only .safetensors" in err


def test_warnings_are_one_line(photos, tmp_path, tiny_model_dir, capsys):
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "model.safetensors"):
        (model / name).write_bytes((tiny_model_dir / name).read_bytes())
    (model / "train_config.json").write_text(json.dumps({"input_size": 64}))
    assert parse(photos, "--out", tmp_path / "out", model_dir=model) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]
    assert len(warning) == 1 and warning[0].startswith("fpliif parse: warning: ")
    assert "trained at 64 px" in warning[0]


def test_closed_stdout_is_not_a_traceback(monkeypatch):
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(["labels"]) == 141  # what a shell shows for a program stopped by SIGPIPE


def test_hard_masks_stay_uint8(photos, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(photos, "--out", out, "--labels", "hair,face", "--save", "index,mask", model_dir=tiny_model_dir) == 0
    labels = np.asarray(Image.open(out / "face_index.png"))
    mask = np.asarray(Image.open(out / "face_mask_hair+face.png"))
    from fpliif.labels import get_label_set

    ids = get_label_set("celebamask-hq").resolve("hair,face")
    assert np.array_equal(mask, np.isin(labels, ids).astype(np.uint8) * 255)


def test_pseudo_label_never_writes_over_a_dataset(tmp_path, tiny_model_dir, images_dir, capsys):
    dataset = tmp_path / "dataset"
    (dataset / "masks").mkdir(parents=True)
    (dataset / "masks" / "a.png").write_bytes(b"a real label")
    command = ["pseudo-label", "--model", str(tiny_model_dir), "--images", str(images_dir)]
    assert main([*command, "--out", str(dataset)]) == 2
    assert "not an earlier pseudo-label output" in capsys.readouterr().err
    assert (dataset / "masks" / "a.png").read_bytes() == b"a real label"
    assert main([*command, "--out", str(tmp_path / "pseudo")]) == 0
    assert main([*command, "--out", str(tmp_path / "pseudo")]) == 0  # its own output may be redone


@pytest.mark.parametrize("argv", [
    ["eval", "--data", "d", "--batch-size", "0"], ["eval", "--data", "d", "--output-size", "-1"],
    ["eval", "--data", "d", "--limit", "0"],
    ["pseudo-label", "--images", "i", "--out", "o", "--batch-size", "0"],
    ["pseudo-label", "--images", "i", "--out", "o", "--threshold", "1.5"],
])
def test_other_commands_check_their_numbers_too(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and argv[-2] in err and len(err.strip().splitlines()) == 1


def test_sigterm_that_killed_a_data_loader_worker_exits_143(photos, tmp_path, tiny_model_dir, capsys, monkeypatch,
                                                          keep_sigchld):
    """A SIGTERM to the whole process group (Slurm, docker stop) can reach a data-loader worker before the main
    process handles its own; PyTorch then raises this error (torch/csrc/DataLoader.cpp), which means termination."""
    from fpliif.cli import parse as parse_command

    def worker_killed(*args, **kwargs):
        raise RuntimeError("DataLoader worker (pid 4242) is killed by signal: Terminated. ")

    monkeypatch.setattr(parse_command, "parse_all", worker_killed)
    assert parse(photos, "--out", tmp_path / "out", model_dir=tiny_model_dir) == 143
    err = capsys.readouterr().err
    assert "terminated" in err and "error" not in err
    if hasattr(signal, "SIGCHLD"):
        assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL  # no second report from PyTorch's clean-up


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_processes_forked_during_a_command_keep_the_default_sigterm():
    from fpliif.cli import _sigterm_raises

    with _sigterm_raises():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a data-loader worker would be here
            os.write(write, b"1" if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL else b"0")
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        child_has_default = os.read(read, 1) == b"1"
        os.close(read)
        assert child_has_default


def test_other_runtime_errors_stay_errors(photos, tmp_path, tiny_model_dir, capsys, monkeypatch):
    from fpliif.cli import parse as parse_command

    def fails(*args, **kwargs):
        raise RuntimeError("DataLoader worker (pid 1) exited unexpectedly with exit code 1")

    monkeypatch.setattr(parse_command, "parse_all", fails)
    assert parse(photos, "--out", tmp_path / "out", model_dir=tiny_model_dir) == 1
    assert "error: DataLoader worker (pid 1) exited unexpectedly" in capsys.readouterr().err
