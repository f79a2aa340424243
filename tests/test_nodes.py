"""The ComfyUI nodes' logic, through the library on CPU, with ComfyUI absent."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_model

import fpliif
from nodes import labels_to_mask, load_parser, parse_faces
from nodes.common import image_to_frames, label_legend
from nodes.labels_to_mask import picker_table
from nodes.load_model import model_choices

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
    parsing, color, overlay = parse_faces(parser, image)
    assert len(parsing) == 3
    assert color.shape == overlay.shape == (3, 40, 56, 3)
    assert parsing.logits[0].shape == (19, 40, 56) and parsing.logits[0].dtype == torch.float16
    parsing, color, _ = parse_faces(parser, image, longest_side=112)
    assert parsing.logits[2].shape[-2:] == (80, 112) and color.shape == (3, 80, 112, 3)
    legend = label_legend(parsing)
    assert legend and abs(sum(item["share"] for item in legend) - 1) < 1e-2
    assert all(item["color"].startswith("#") for item in legend)


def test_largest_face_mode_runs_and_keeps_size(parser):
    parsing, color, _ = parse_faces(parser, torch.rand(1, 48, 64, 3), face="largest face (zoom in)")
    assert parsing.logits[0].shape == (19, 48, 64) and color.shape == (1, 48, 64, 3)


def test_labels_to_mask_soft_hard_combine_invert(parser):
    parsing, _, _ = parse_faces(parser, torch.rand(2, 32, 32, 3))
    hair = labels_to_mask(parsing, "hair")
    assert hair.shape == (2, 32, 32) and 0 <= hair.min() and hair.max() <= 1
    both = labels_to_mask(parsing, "hair, skin")
    assert torch.all(both >= hair - 1e-5)
    everything = labels_to_mask(parsing, ",".join(fpliif.CELEBAMASK_HQ.names))
    assert torch.allclose(everything, torch.ones_like(everything), atol=1e-3)
    hard = labels_to_mask(parsing, "face", mode="hard")
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    inverted = labels_to_mask(parsing, "face", mode="hard", invert=True)
    assert torch.equal(inverted, 1 - hard)
    assert labels_to_mask(parsing, "hair", largest_face_only=True).shape == (2, 32, 32)
    with pytest.raises(KeyError, match="valid labels"):
        labels_to_mask(parsing, "moustache")


def test_image_layout_and_picker_table():
    frames = image_to_frames(torch.rand(2, 5, 7, 4))  # RGBA batch: alpha dropped
    assert len(frames) == 2 and frames[0].shape == (3, 5, 7)
    table = picker_table()
    assert [item["name"] for item in table["labels"]] == list(fpliif.CELEBAMASK_HQ.names)
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
    assert model_choices([tmp_path]) == [*fpliif.list_models(pretrained=True), "loose.safetensors"]


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
