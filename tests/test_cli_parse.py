"""The command line on generated images with a tiny saved model: every output kind, failures, help."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import face_image
from PIL import Image

from fpliif.cli import main

ROOT = Path(__file__).resolve().parents[1]


def parse(*args, model_dir) -> int:
    return main(["parse", *map(str, args), "--model", str(model_dir), "--quiet"])


def listing(folder: Path) -> list[str]:
    """The files in ``folder`` without the hidden record of outputs."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_default_outputs_index_and_color(images_dir, tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "out"
    assert parse(images_dir / "a.png", "--out", out, model_dir=tiny_model_dir) == 0
    index = Image.open(out / "a_index.png")
    assert index.mode == "L" and index.size == (40, 48)
    assert np.asarray(index).max() < 19
    color = Image.open(out / "a_color.png")
    assert color.mode == "RGB" and color.size == (40, 48)
    assert "1 parsed, 0 failed" in capsys.readouterr().err


def test_folder_recursive_keeps_structure(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(images_dir, "--out", out, "--save", "index", "--batch-size", "2", model_dir=tiny_model_dir) == 0
    assert sorted(p.name for p in out.rglob("*.png")) == ["a_index.png", "b_index.png"]
    assert parse(images_dir, "-r", "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    assert (out / "sub" / "c_index.png").is_file()


def test_same_names_never_collide(tmp_path, tiny_model_dir):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        face_image(20, 20).save(tmp_path / folder / "face.png")
    face_image(20, 20).save(tmp_path / "x" / "face.jpg")
    out = tmp_path / "out"
    inputs = [tmp_path / "x" / "face.png", tmp_path / "x" / "face.jpg", tmp_path / "y" / "face.png"]
    assert parse(*inputs, "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert names == ["x/face_jpg_index.png", "x/face_png_index.png", "y/face_index.png"]


def test_glob_size_overlay(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(str(images_dir / "*.png"), "--out", out, "--save", "overlay", "--size", "96",
                 model_dir=tiny_model_dir) == 0
    assert Image.open(out / "a_overlay.png").size == (80, 96)
    assert not (out / "b_overlay.png").exists()


def test_scale_and_hxw(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(images_dir / "b.jpg", "--out", out, "--scale", "2", "--save", "index", model_dir=tiny_model_dir) == 0
    assert Image.open(out / "b_index.png").size == (100, 60)
    assert parse(images_dir / "b.jpg", "--out", out, "--size", "20x30", "--save", "color",
                 model_dir=tiny_model_dir) == 0
    assert Image.open(out / "b_color.png").size == (30, 20)


def test_mask_hard_and_soft(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(images_dir / "a.png", "--out", out, "--labels", "hair,face", model_dir=tiny_model_dir) == 0
    hard = np.asarray(Image.open(out / "a_mask_hair+face.png"))
    assert hard.shape == (48, 40) and set(np.unique(hard)) <= {0, 255}
    assert parse(images_dir / "a.png", "--out", out, "--labels", "hair", "--save", "mask", "--soft",
                 model_dir=tiny_model_dir) == 0
    soft = np.asarray(Image.open(out / "a_mask_hair.png"))
    assert soft.dtype == np.uint8 and len(np.unique(soft)) > 2  # a probability, not a 0/255 choice


def test_masks_one_per_label(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(images_dir / "a.png", "--out", out, "--labels", "eyes,hair", "--save", "masks",
                 model_dir=tiny_model_dir) == 0
    assert listing(out) == ["a_mask_hair.png", "a_mask_l_eye.png", "a_mask_r_eye.png"]


def test_corrupt_and_missing_files_are_named(images_dir, tmp_path, tiny_model_dir, capsys):
    broken = images_dir / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"
    code = parse(images_dir, tmp_path / "missing.jpg", "--out", out, "--save", "index", "--batch-size", "8",
                 model_dir=tiny_model_dir)
    err = capsys.readouterr().err
    assert code == 1
    assert (out / "faces" / "a_index.png").is_file() and (out / "faces" / "b_index.png").is_file()
    assert "broken.png" in err and "missing.jpg" in err
    assert "2 parsed, 2 failed" in err


def test_unknown_label_lists_valid_ones(images_dir, tmp_path, tiny_model_dir, capsys):
    code = parse(images_dir / "a.png", "--out", tmp_path / "out", "--labels", "beard", model_dir=tiny_model_dir)
    err = capsys.readouterr().err
    assert code == 2
    assert "'beard'" in err and "hair" in err and "groups" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, match", [
    (["--save", "mask"], "needs --labels"),
    (["--save", "index", "--per-face"], "--per-face writes masks"),
])
def test_usage_errors(images_dir, tmp_path, tiny_model_dir, capsys, args, match):
    assert parse(images_dir / "a.png", "--out", tmp_path / "out", *args, model_dir=tiny_model_dir) == 2
    assert match in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["--save", "depth"], ["--size", "0"], ["--size", "12x"], ["--size", "100000"], ["--size", "9000x10"],
    ["--scale", "inf"], ["--scale", "nan"], ["--scale", "0"], ["--scale", "-2"], ["--scale", "two"],
    ["--batch-size", "0"], ["--batch-size", "-1"], ["--batch-size", "x"], ["--device", "tpu"],
    ["--faces", "several"], ["--faces", "-1"], ["--min-face-score", "0"], ["--min-face-score", "1.5"],
    ["--min-face-score", "nan"], ["--max-megapixels", "0"], ["--max-megapixels", "inf"], ["--threads", "0"],
])
def test_bad_option_values_exit_2(images_dir, tmp_path, capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        main(["parse", str(images_dir / "a.png"), "--out", str(tmp_path / "out"), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert args[0] in err and args[1] in err, err  # names the option and the value
    assert len(err.strip().splitlines()) == 1 and "fpliif parse --help" in err, err
    assert not (tmp_path / "out").exists()


def test_missing_model_is_clear(images_dir, tmp_path, capsys):
    code = main(["parse", str(images_dir / "a.png"), "--out", str(tmp_path / "o"), "--model", str(tmp_path / "no")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_never_overwrites_an_input(tmp_path, tiny_model_dir, capsys):
    face_image(20, 20).save(tmp_path / "face.png")
    face_image(20, 20).save(tmp_path / "face_index.png")
    code = parse(tmp_path / "face.png", tmp_path / "face_index.png", "--out", tmp_path, "--save", "index",
                 model_dir=tiny_model_dir)
    assert code == 2 and "face_index.png is an input" in capsys.readouterr().err


def test_outputs_in_the_input_folder_are_not_reparsed(images_dir, tiny_model_dir):
    out = images_dir / "parsed"
    assert parse(images_dir, "-r", "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    assert parse(images_dir, "-r", "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    assert not list(out.rglob("*_index_index.png"))


def test_help_is_complete(capsys):
    for argv in (["--help"], ["parse", "--help"], ["labels", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("parse", "labels", "examples:", "--labels", "--save", "--soft", "--size", "--scale", "--model",
                 "--revision", "--device", "--dtype", "--batch-size", "--recursive", "index", "overlay", "masks"):
        assert word in text, word


def test_labels_command(tiny_model_dir, capsys):
    assert main(["labels"]) == 0
    text = capsys.readouterr().out
    assert "celebamask-hq (19 classes)" in text and "lapa" in text and "helen" in text
    assert "#783cff" in text and "accessories" in text
    assert "eye_g       eyeglasses" in text and "left eye (person's left)" in text  # machine and display names
    assert "\033[" not in text  # no colour codes when stdout is not a terminal
    assert main(["labels", "--model", str(tiny_model_dir), "--json"]) == 0
    assert '"name": "hair"' in capsys.readouterr().out
    assert main(["labels", "celebamask-hq", "--json"]) == 0
    assert '"display": "earring"' in capsys.readouterr().out
    assert main(["labels", "lapa", "--color", "always"]) == 0
    assert "\033[48;2;120;60;255m" in capsys.readouterr().out  # the hair colour as a chip
    assert main(["labels", "ade20k"]) == 2


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "fpliif", "parse", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "fpliif parse" in proc.stdout


def test_bad_image_in_a_batch_spares_the_others(images_dir, tmp_path, tiny_model_dir, capsys):
    Image.new("RGB", (1, 1)).save(images_dir / "dot.png")  # readable, but too small to parse
    out = tmp_path / "out"
    code = parse(images_dir, "--out", out, "--save", "index", "--batch-size", "4", model_dir=tiny_model_dir)
    err = capsys.readouterr().err
    assert code == 1 and "dot.png" in err and "too small" in err
    assert listing(out) == ["a_index.png", "b_index.png"]


def test_masks_are_named_after_their_labels(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    for labels in ("hair", "face, Left Eye", "hair"):  # another selection never replaces an earlier mask
        assert parse(images_dir / "a.png", "--out", out, "--labels", labels, "--save", "mask",
                     model_dir=tiny_model_dir) == 0
    assert listing(out) == ["a_mask_face+left_eye.png", "a_mask_hair.png"]


def test_subfolders_without_recursive_are_mentioned(images_dir, tmp_path, tiny_model_dir, capsys):
    assert parse(images_dir, "--out", tmp_path / "out", "--save", "index", model_dir=tiny_model_dir) == 0
    err = capsys.readouterr().err
    assert "has 1 sub-folder(s) with images or videos (sub), not parsed: add -r" in err
    assert parse(images_dir, "-r", "--out", tmp_path / "out", "--save", "index", model_dir=tiny_model_dir) == 0
    assert "sub-folder" not in capsys.readouterr().err


def test_outline_output(images_dir, tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    assert parse(images_dir / "a.png", "--out", out, "--save", "outline,index", "--scale", "2",
                 model_dir=tiny_model_dir) == 0
    outline = np.asarray(Image.open(out / "a_outline.png"))
    photo = np.asarray(Image.open(images_dir / "a.png").resize((80, 96), Image.Resampling.BICUBIC))
    assert outline.shape == (96, 80, 3) and (outline != photo).any(axis=-1).mean() < 0.5  # lines over the photo


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_impossible_out_is_refused_before_any_work(images_dir, tmp_path, capsys):
    code = main(["parse", str(images_dir), "--out", "/proc/fpliif-out", "--model", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to --out /proc/fpliif-out" in err and "model" not in err
