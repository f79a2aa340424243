"""Flip test-time augmentation: mirror-equivariant, the mean of the two probabilities, in every path that renders."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import face_image, tiny_model
from layouts_util import make_folder

from fpliif import FaceParser
from fpliif.cli import main
from fpliif.evaluate import evaluate_dataset
from fpliif.models import FlipEnsemble, make_coord, with_tta
from fpliif.models.flip import mirror_coords

MIRROR = FlipEnsemble(tiny_model()).mirror


def _probs(logits: torch.Tensor, t: float = 0.5) -> torch.Tensor:
    return torch.softmax(logits / t, dim=-1)


@pytest.mark.parametrize("name", ["fpliif", "unet-small"])
def test_merged_probability_is_the_mean_of_the_image_and_its_mirror(name):
    model = tiny_model(name, seed=3)
    flip = FlipEnsemble(model)
    images = torch.rand(2, 3, 32, 32)
    coords = torch.rand(2, 50, 2) * 2 - 1
    merged = _probs(flip.query(flip.encode(images), coords))
    plain = _probs(model.query(model.encode(images), coords))
    mirrored = _probs(model.query(model.encode(images.flip(-1)), mirror_coords(coords)))[..., MIRROR]
    torch.testing.assert_close(merged, (plain + mirrored) / 2)
    assert not torch.allclose(plain, mirrored, atol=1e-3)  # the mirror is a second look, not the same one


def test_flip_ensemble_is_mirror_equivariant():
    """The mirrored image, read at the mirrored point with left and right swapped, gives the same answer."""
    flip = FlipEnsemble(tiny_model(seed=1))
    images = torch.rand(1, 3, 32, 32)
    coords = torch.rand(1, 64, 2) * 2 - 1
    here = flip.query(flip.encode(images), coords)
    there = flip.query(flip.encode(images.flip(-1)), mirror_coords(coords))[..., MIRROR]
    torch.testing.assert_close(here, there, atol=1e-5, rtol=1e-4)
    names = flip.cfg.labels.names
    assert names[int(MIRROR[names.index("l_eye")])] == "r_eye" and MIRROR[names.index("nose")] == names.index("nose")


def test_forward_and_renderer_agree_with_query():
    flip = FlipEnsemble(tiny_model(seed=2))
    images = torch.rand(1, 3, 32, 32)
    coords = make_coord((24, 24)).unsqueeze(0)
    queried = flip.query(flip.encode(images), coords).transpose(1, 2).reshape(1, -1, 24, 24)
    torch.testing.assert_close(flip(images, size=(24, 24)), queried, atol=1e-5, rtol=1e-4)
    state = flip.encode(images)
    torch.testing.assert_close(flip.decoder.query_logits(state, coords), flip.query(state, coords))


def test_parser_with_flip_tta():
    model = tiny_model(seed=4)
    image = face_image(40, 40)
    plain = FaceParser(model, faces="none", mode="dense")(image, size=40)
    parser = FaceParser(model, faces="none", mode="dense", tta="flip")
    flipped = parser(image, size=40)
    assert parser.tta == "flip" and isinstance(parser.model, FlipEnsemble)
    expected = (plain.probs + FaceParser(model, faces="none", mode="dense")(
        image.transpose(0), size=40).probs.flip(-1)[MIRROR]) / 2  # PIL FLIP_LEFT_RIGHT == 0
    torch.testing.assert_close(flipped.probs, expected, atol=1e-4, rtol=1e-3)
    fast = FaceParser(model, faces="none", tta="flip")(image, size=40)  # the coarse-to-fine renderer
    assert (fast.label_map() == flipped.label_map()).mean() > 0.95
    with pytest.raises(ValueError, match="test-time augmentation 'mirror'.*none, flip"):
        FaceParser(model, tta="mirror")
    assert with_tta(parser.model, "flip") is parser.model and with_tta(model) is model


def test_eval_and_parse_cli_take_tta(tmp_path, tiny_model_dir, capsys):
    data = make_folder(tmp_path / "d", splits={"train": ["a"], "val": ["b", "c"]}, mask_side=64)
    out = tmp_path / "scores.json"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--tta", "flip", "--json", str(out),
                 "-q"]) == 0
    assert "flip test-time augmentation" in capsys.readouterr().out
    scores = json.loads(out.read_text())
    assert scores["tta"] == "flip"
    plain = evaluate_dataset(tiny_model(), data, size=32).rows["32"]
    assert scores["rows"]["32"]["mean_f1"] != pytest.approx(plain.mean_f1, abs=1e-9)
    face_image(40, 40).save(tmp_path / "face.png")
    assert main(["parse", str(tmp_path / "face.png"), "--out", str(tmp_path / "out"), "--model", str(tiny_model_dir),
                 "--faces", "none", "--tta", "flip", "-q"]) == 0
    assert (tmp_path / "out" / "face_index.png").is_file()
    with pytest.raises(SystemExit):
        main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--tta", "rotate"])
    assert "invalid choice: 'rotate'" in capsys.readouterr().err
