"""``fpliif parse`` on photos with several faces, with the shipped weights and detector: ``--faces``,
``--min-face-score``, per-face masks, ``NAME_faces.json``, the summary, and photos without a face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from fpliif.cli import main
from fpliif.cli.outputs import MANIFEST_NAME

# Four copies of the example portrait, largest first: (x, y, side) on a 768 x 512 canvas; their detection scores
# are 0.93, 0.93, 0.91 and 0.86.
PLACES = ((50, 75, 210), (350, 150, 150), (575, 50, 130), (600, 300, 90))


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scene")
    face = Image.open(ROOT / "examples" / "astronaut.png").convert("RGB")
    canvas = Image.new("RGB", (768, 512), (200, 205, 210))
    for x, y, side in PLACES:
        canvas.paste(face.resize((side, side), Image.Resampling.BICUBIC), (x, y))
    canvas.save(folder / "group.png")
    Image.new("RGB", (160, 120), (90, 140, 60)).save(folder / "grass.png")  # no face at all
    return folder


def parse(*args) -> int:
    return main(["parse", *map(str, args), "--quiet", "--device", "cpu"])


def faces_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_face_is_found_recorded_and_masked_alone(scene, tmp_path, capsys):
    out = tmp_path / "out"
    assert parse(scene / "group.png", "--out", out, "--labels", "hair", "--save", "index,mask,faces",
                 "--per-face") == 0
    record = faces_json(out / "group_faces.json")
    assert record["how"] == "4 face(s)" and record["image_size"] == [512, 768]
    assert len(record["faces"]) == 4
    for k, (face, (x, y, side)) in enumerate(zip(record["faces"], PLACES)):
        assert face["face"] == k and 0.8 < face["score"] <= 1
        x0, y0, x1, y1 = face["box"]
        assert x <= x0 < x1 <= x + side and y <= y0 < y1 <= y + side  # each box inside its own portrait
        assert np.asarray(face["landmarks"]).shape == (6, 2)
        assert abs(face["angle"]) < 15 and 0.5 * side < face["scale"] < 1.5 * side
        assert face["crop_box"][0] < x0 and face["crop_box"][3] > y1
    whole = np.asarray(Image.open(out / "group_mask_hair.png")) > 0
    alone = [np.asarray(Image.open(out / f"group_face{k}_mask_hair.png")) > 0 for k in range(4)]
    assert all(a.any() for a in alone) and not np.logical_and(alone[0], alone[1]).any()
    assert np.array_equal(np.logical_or.reduce(alone), whole)  # the faces' masks make up the whole mask
    assert "faces: group.png 4 face(s)" in capsys.readouterr().err


@pytest.mark.parametrize("options, faces", [
    (["--faces", "largest"], 1),
    (["--faces", "0,2"], 2),
    (["--faces", "all"], 4),
    (["--min-face-score", "0.9"], 3),
])
def test_choosing_faces(scene, tmp_path, options, faces):
    out = tmp_path / "out"
    assert parse(scene / "group.png", "--out", out, "--save", "faces", *options) == 0
    record = faces_json(out / "group_faces.json")
    assert len(record["faces"]) == faces
    if options[1] == "0,2":  # the first and third largest faces
        assert [f["box"][0] > 500 for f in record["faces"]] == [False, True]


def test_faces_none_parses_the_whole_image_as_it_is(scene, tmp_path):
    out = tmp_path / "out"
    assert parse(scene / "group.png", "--out", out, "--save", "faces", "--faces", "none") == 0
    record = faces_json(out / "group_faces.json")
    assert record["faces"] == [] and record["how"] == "whole image"


def test_no_face_found_is_said_and_parsed_whole(scene, tmp_path, capsys):
    out = tmp_path / "out"
    assert parse(scene, "--out", out, "--save", "index,faces") == 0
    err = capsys.readouterr().err
    assert "note: " in err and "grass.png: no face found: parsed the whole image" in err
    assert "faces: grass.png no face found (parsed the whole image), group.png 4 face(s)" in err  # the summary
    assert faces_json(out / "grass_faces.json")["how"] == "no face found: parsed the whole image"
    assert Image.open(out / "grass_index.png").size == (160, 120)


def test_a_missing_face_index_fails_that_image_by_name(scene, tmp_path, capsys):
    assert parse(scene / "group.png", "--out", tmp_path / "out", "--faces", "7") == 1
    err = capsys.readouterr().err
    assert "group.png: no face 7: 4 face(s) found in this image" in err


def test_a_file_in_the_way_of_a_face_mask_fails_only_that_image(scene, tmp_path, capsys):
    """Per-face outputs are known only after parsing: a file in their way is found when writing; that image
    fails with nothing of it written, and the others are parsed."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "group_face2_mask_hair.png").write_bytes(b"mine")
    assert parse(scene, "--out", out, "--labels", "hair", "--save", "mask", "--per-face") == 1
    err = capsys.readouterr().err
    assert "group.png: refusing to replace" in err and "group_face2_mask_hair.png" in err
    assert "1 parsed, 1 failed" in err
    written = sorted(p.name for p in out.iterdir())
    assert written == [MANIFEST_NAME, "grass_mask_hair.png", "group_face2_mask_hair.png"]
    assert (out / "group_face2_mask_hair.png").read_bytes() == b"mine"


def test_faces_in_every_frame_of_an_animation(scene, tmp_path):
    group = Image.open(scene / "group.png")
    grass = Image.open(scene / "grass.png").resize((768, 512))
    frames = [group, group.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grass]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    out = tmp_path / "out"
    assert parse(tmp_path / "clip.gif", "--out", out, "--save", "faces") == 0
    counts = [len(faces_json(out / "clip" / f"clip_{i:05d}_faces.json")["faces"]) for i in range(3)]
    assert counts[0] >= 3 and counts[1] >= 3 and counts[2] == 0


def test_summary_counts_when_there_are_many_inputs():
    from types import SimpleNamespace

    from fpliif.cli.files import InputFile
    from fpliif.cli.parse import FaceTally

    tally = FaceTally()
    hows = ["2 face(s)"] * 2 + ["no face found: parsed the whole image"] * 3 + ["whole image"] * 2
    for i, how in enumerate(hows):
        faces = [object()] * int(how[0]) if how[0].isdigit() else []
        note = tally.add(InputFile(Path(f"p{i}.png")), SimpleNamespace(faces=faces, how=how))
        assert (note is not None) == how.startswith("no face")
    assert tally.summary() == ("4 face(s) in 7 image(s)/frame(s) (2 face(s) x2, no face found (parsed whole) x3, "
                               "parsed whole x2); no face found, parsed the whole image: p2.png, p3.png, p4.png")
