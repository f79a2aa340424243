"""The ComfyUI nodes' logic, through the library on CPU, with ComfyUI absent."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_model
from PIL import Image

import fpliif
from fpliif import masks
from nodes import cut_out, labels_to_mask, load_parser, parse_faces
from nodes.common import image_to_frames, label_legend, picker_table
from nodes.load_model import model_choices
from nodes.segs import SEG

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    """A ``face_parsing`` folder holding a tiny model in a sub-folder and one as ``name.safetensors + name.json``."""
    folder = tmp_path_factory.mktemp("face_parsing")
    fpliif.save_pretrained(tiny_model(), folder / "tiny")
    (folder / "flat.safetensors").write_bytes((folder / "tiny" / "model.safetensors").read_bytes())
    (folder / "flat.json").write_text((folder / "tiny" / "config.json").read_text())
    return folder


@pytest.fixture(scope="module")
def group() -> torch.Tensor:
    """A ComfyUI IMAGE with three faces of different sizes (copies of the example photo on a grey canvas)."""
    astronaut = Image.open(ROOT / "examples" / "astronaut.png").convert("RGB")
    canvas = Image.new("RGB", (384, 256), (120, 130, 140))
    for x, y, side in ((8, 40, 180), (200, 70, 120), (300, 150, 80)):
        canvas.paste(astronaut.resize((side, side)), (x, y))
    return torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255)[None]


@pytest.fixture(scope="module")
def parser(model_folder):
    return load_parser("tiny/model.safetensors", device="cpu", precision="fp32", folders=[model_folder])


def test_pack_root_imports_without_comfyui():
    spec = importlib.util.spec_from_file_location("fpliif_pack", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["fpliif_pack"] = pack
    try:
        spec.loader.exec_module(pack)
        assert pack.WEB_DIRECTORY == "./web"
        assert asyncio.iscoroutinefunction(pack.comfy_entrypoint)
        assert not hasattr(pack, "NODE_CLASS_MAPPINGS"), "export V3 comfy_entrypoint only, or ComfyUI takes V1"
        assert (ROOT / "web").is_dir() and list((ROOT / "web").glob("*.js"))
    finally:
        sys.modules.pop("fpliif_pack", None)


def test_model_choices_and_cache(model_folder, parser):
    choices = model_choices([model_folder])
    assert choices[0] == fpliif.DEFAULT_PRETRAINED and {"tiny/model.safetensors", "flat.safetensors"} <= set(choices)
    again = load_parser("tiny/model.safetensors", device="cpu", precision="fp32", folders=[model_folder])
    assert again is parser
    flat = load_parser("flat.safetensors", device="cpu", precision="fp32", folders=[model_folder])
    assert flat.cfg.width == 8
    flip = load_parser("tiny/model.safetensors", device="cpu", precision="fp32", folders=[model_folder], tta="flip")
    assert flip is not parser and flip.tta == "flip" and parser.tta == "none"
    with pytest.raises(ValueError, match="test-time augmentation 'rotate'"):
        load_parser("tiny/model.safetensors", device="cpu", folders=[model_folder], tta="rotate")


def test_missing_or_broken_model_names_file_and_folder(model_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors.*face_parsing"):
        load_parser("nope.safetensors", device="cpu", folders=[model_folder])
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(FileNotFoundError, match="no config.*" + str(tmp_path)):
        load_parser("broken.safetensors", device="cpu", folders=[tmp_path])
    (tmp_path / "broken.json").write_text((model_folder / "flat.json").read_text())
    with pytest.raises(ValueError, match="not a readable safetensors") as err:
        load_parser("broken.safetensors", device="cpu", folders=[tmp_path])
    assert str(tmp_path / "broken.safetensors") in str(err.value)
    with pytest.raises(ValueError, match="repo id"):
        load_parser(repo_id="not a repo", device="cpu", folders=[tmp_path])


def test_parse_every_frame_at_own_and_chosen_size(parser):
    image = torch.rand(3, 40, 56, 3)  # B x H x W x C, as ComfyUI passes it
    out = parse_faces(parser, image, faces="whole image (no face detection)")
    assert len(out.parsing) == 3 and out.parsing.size == (40, 56)
    assert out.overlay.shape == out.color_map.shape == out.label_map.shape == (3, 40, 56, 3)
    ids = torch.stack([torch.from_numpy(r.label_map()) for r in out.parsing.results]).float()
    assert torch.equal(out.label_ids * 255, ids) and torch.equal(out.label_map[..., 1], out.label_ids)
    out = parse_faces(parser, image, longest_side=112, view="outlines")
    assert out.parsing[2].size == (80, 112) and out.color_map.shape == (3, 80, 112, 3)
    legend = label_legend(out.parsing)
    assert legend and abs(sum(item["share"] for item in legend) - 1) < 1e-2
    assert all(item["color"].startswith("#") and item["display"] for item in legend)
    assert json.loads(out.faces)[0] == {"frame": 0, "face": 0, "box": [0, 0, 112, 80], "crop_box": [0, 0, 112, 80],
                                        "score": None, "how": "no face found: parsed the whole image"}


def test_parsing_keeps_no_logits_and_no_copy_of_the_image(parser):
    """Issue 11: the parsing holds each frame's label map and owner (1 byte a pixel each) and the encoded faces,
    never K x H x W logits, and its image is a view of ComfyUI's IMAGE."""
    image = torch.rand(2, 64, 96, 3)
    parsing = parse_faces(parser, image).parsing
    for result in parsing.results:
        assert result.image.untyped_storage().data_ptr() == image.untyped_storage().data_ptr()
        assert result._labels.dtype == torch.uint8 and result._owner.dtype == torch.uint8
        assert not any(isinstance(v, torch.Tensor) and v.ndim == 3 and v.shape[0] == 19 for v in vars(result).values())


def test_faces_are_found_numbered_and_selected(parser, group):
    out = parse_faces(parser, group)
    faces = json.loads(out.faces)
    assert [f["face"] for f in faces] == [0, 1, 2] and all(f["score"] > 0.5 for f in faces)
    widths = [f["box"][2] - f["box"][0] for f in faces]
    assert widths == sorted(widths, reverse=True)  # largest first
    everyone = labels_to_mask(out.parsing, "person", mode="hard")
    some = labels_to_mask(out.parsing, "person", mode="hard", faces="0,2")
    assert some.face_masks.shape == (2, *out.parsing.size)
    assert torch.equal(some.mask[0], some.face_masks[0] + some.face_masks[1])
    assert torch.all(some.mask <= everyone.mask) and some.mask.sum() < everyone.mask.sum()
    region = out.parsing[0].face_region(1)
    assert some.mask[0][region > 0].sum() == 0  # face 1 is left out
    assert labels_to_mask(out.parsing, "person", faces="largest").face_masks.shape[0] == 1
    with pytest.raises(ValueError, match="no face 3.*3 face"):
        labels_to_mask(out.parsing, "hair", faces="3")
    with pytest.raises(ValueError, match="face numbers"):
        labels_to_mask(out.parsing, "hair", faces="left one")
    only = parse_faces(parser, group, faces="largest face").parsing[0]
    assert len(only.faces) == 1
    sure = parse_faces(parser, group, min_face_score=0.95).parsing[0]  # the detector's threshold, per run
    assert len(sure.faces) == sum(f["score"] >= 0.95 for f in faces) < 3


def test_segs_for_impact_pack_detailers(parser, group):
    out = parse_faces(parser, group)
    segs = labels_to_mask(out.parsing, "face,hair", faces="all").segs
    (height, width), items = segs
    assert (height, width) == out.parsing.size and len(items) == 3
    assert SEG._fields == ("cropped_image", "cropped_mask", "confidence", "crop_region", "bbox", "label",
                           "control_net_wrapper")
    canvas = np.zeros((height, width), dtype=np.float32)
    for seg in items:  # as Impact Pack pastes SEGS back (segs_to_combined_mask, DetailerForEach)
        x0, y0, x1, y1 = seg.crop_region
        assert all(isinstance(v, int) for v in seg.crop_region) and 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert seg.cropped_mask.dtype == np.float32 and seg.cropped_mask.shape == (y1 - y0, x1 - x0)
        assert seg.cropped_image.shape == (1, y1 - y0, x1 - x0, 3) and seg.label == "face"
        bx0, by0, bx1, by1 = seg.bbox
        assert x0 <= bx0 < bx1 <= x1 and y0 <= by0 < by1 <= y1 and 0 < seg.confidence <= 1
        canvas[y0:y1, x0:x1] = np.maximum(canvas[y0:y1, x0:x1], seg.cropped_mask)
    whole = labels_to_mask(out.parsing, "face,hair").mask[0].numpy()
    assert np.abs(canvas - whole).max() < 1e-6  # the crops hold all of each face's mask
    video = parse_faces(parser, torch.cat([group, group])).parsing
    (_, clip) = labels_to_mask(video, "hair", faces="0").segs
    assert len(clip) == 1 and clip[0].cropped_mask.shape[0] == 2 and clip[0].cropped_image is None


def test_labels_to_mask_soft_hard_combine_subtract_invert(parser):
    parsing = parse_faces(parser, torch.rand(2, 32, 32, 3)).parsing
    hair = labels_to_mask(parsing, "hair").mask
    assert hair.shape == (2, 32, 32) and 0 <= hair.min() and hair.max() <= 1
    both = labels_to_mask(parsing, "hair, skin").mask
    assert torch.all(both >= hair - 1e-5)
    everything = labels_to_mask(parsing, ",".join(fpliif.CELEBAMASK_HQ.names)).mask
    assert torch.allclose(everything, torch.ones_like(everything), atol=1e-3)
    hard = labels_to_mask(parsing, "face", mode="hard").mask
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    inverted = labels_to_mask(parsing, "face", mode="hard", invert=True).mask
    assert torch.equal(inverted, 1 - hard)
    no_eyes = labels_to_mask(parsing, "face", mode="hard", subtract="eyes").mask
    eyes = labels_to_mask(parsing, "eyes", mode="hard").mask
    assert torch.equal(no_eyes, (hard - eyes).clamp(0, 1))
    by_display = labels_to_mask(parsing, "upper lip, left eye (person's left)", mode="hard").mask
    assert torch.equal(by_display, labels_to_mask(parsing, "u_lip,l_eye", mode="hard").mask)
    with pytest.raises(KeyError, match="valid labels"):
        labels_to_mask(parsing, "moustache")
    with pytest.raises(KeyError, match="valid labels"):
        labels_to_mask(parsing, "hair", subtract="moustache")


def test_cut_out_over_transparency_and_colour(parser, group):
    parsing = parse_faces(parser, group).parsing
    rgba, alpha = cut_out(parsing, "head")
    assert rgba.shape == (1, *parsing.size, 4) and torch.equal(rgba[..., 3], alpha)
    assert torch.allclose(rgba[..., :3], group[..., :3])
    hard = labels_to_mask(parsing, "head", mode="hard").mask
    inside = masks.grow_mask(hard, -4) > 0.5
    outside = masks.grow_mask(hard, 4) < 0.5
    assert torch.all(alpha[inside] == 1) and torch.all(alpha[outside] == 0)  # soft only along the edge
    assert 0 < ((alpha > 0) & (alpha < 1)).sum()
    white, _ = cut_out(parsing, "head", soft=False, background="white")
    assert white.shape == (1, *parsing.size, 3) and torch.all(white[0][outside[0]] == 1)
    other, _ = cut_out(parsing, "head", image=torch.zeros(1, 20, 30, 3), background="black")
    assert other.abs().max() == 0  # cut out of the given image (resized), over black
    with pytest.raises(ValueError, match="background"):
        cut_out(parsing, "head", background="plaid")


def test_image_layout_and_picker_table():
    frames = image_to_frames(torch.rand(2, 5, 7, 4))  # RGBA batch: alpha dropped
    assert len(frames) == 2 and frames[0].shape == (3, 5, 7)
    assert image_to_frames(torch.rand(1, 5, 7, 1))[0].shape == (3, 5, 7)
    table = picker_table()
    assert [item["name"] for item in table["labels"]] == list(fpliif.CELEBAMASK_HQ.names)
    assert table["labels"][4]["display"] == "left eye (person's left)"
    assert table["groups"]["lips"] == ["u_lip", "l_lip"]


# The download runs in a subprocess: huggingface_hub reads HF_ENDPOINT and HF_HOME when it is imported.
NODE_LOADER = """
import json, sys
from pathlib import Path
from nodes.load_model import load_parser
out = []
for repo in json.loads(sys.argv[1]):
    try:
        parser = load_parser(repo_id=repo, device="cpu", precision="fp32", folders=[Path(sys.argv[2])])
        out.append({"ok": True, "width": parser.cfg.width})
    except Exception as e:
        out.append({"ok": False, "type": type(e).__name__, "message": str(e)})
print(json.dumps(out))
"""


def test_repo_id_downloads_once_into_the_model_folder(tmp_path, model_folder):
    import json
    import os
    import subprocess

    from fake_hub import FakeHub

    folder = tmp_path / "face_parsing"
    with FakeHub() as hub:
        hub.add_folder("tester/tiny", model_folder / "tiny")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1,localhost", PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", NODE_LOADER, json.dumps(["tester/tiny", "tester/missing"]),
                               str(folder)], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        first, missing = json.loads(proc.stdout.strip().splitlines()[-1])
        seen = len(hub.requests)
    assert first == {"ok": True, "width": 8}
    assert (folder / "tester--tiny" / "model.safetensors").is_file()
    assert missing["type"] == "FileNotFoundError" and str(folder / "tester--missing") in missing["message"]
    # The hub is gone now: the second load must come from the folder without any request.
    again = load_parser(repo_id="tester/tiny", device="cpu", precision="fp32", folders=[folder])
    assert again.cfg.width == 8 and seen > 0


def test_parse_stops_when_cancelled(parser, monkeypatch):
    node = sys.modules["nodes.parse_faces"]  # the package re-exports the function under the same name

    calls = []

    def interrupt():
        calls.append(1)
        if len(calls) > 1:
            raise InterruptedError("cancelled")

    monkeypatch.setattr(node, "check_interrupted", interrupt)
    with pytest.raises(InterruptedError):
        parse_faces(parser, torch.rand(4, 32, 32, 3))
    assert len(calls) == 2  # checked before every frame; stopped at the second


def test_other_packs_models_are_not_listed(model_folder, tmp_path):
    other = tmp_path / "segformer"
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"x")
    (other / "config.json").write_text('{"model_type": "segformer", "num_labels": 19}')
    (tmp_path / "loose.safetensors").write_bytes(b"x")  # no config: listed, loading explains the fix
    choices = model_choices([tmp_path])
    assert choices[0] == fpliif.DEFAULT_PRETRAINED  # the default first: what a new node shows
    assert sorted(choices[:-1]) == fpliif.list_models(pretrained=True) and choices[-1] == "loose.safetensors"


def test_library_and_nodes_import_without_hosts():
    import subprocess

    code = ("import sys, fpliif, fpliif.demo, fpliif.cli.demo, nodes; "
            "bad = [m for m in ('gradio', 'comfy', 'comfy_api', 'folder_paths') if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_pretrained_names_load_the_shipped_weights(tmp_path):
    shipped = fpliif.FPLIIFConfig.load(fpliif.pretrained.get_pretrained().folder)
    for choice in (fpliif.DEFAULT_PRETRAINED, "default"):
        parser = load_parser(choice, device="cpu", folders=[tmp_path])
        assert parser.cfg == shipped and parser.dtype == torch.float32
