"""The example workflows are real ComfyUI workflows (the template browser lists every .json in examples/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodes.load_model import model_choices

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OUR_NODES = {"FPLIIF_LoadModel": 5, "FPLIIF_ParseFaces": 6, "FPLIIF_LabelsToMask": 7, "FPLIIF_CutOut": 5}  # widgets
CORE_NODES = {"LoadImage", "SaveImage", "PreviewImage", "MaskToImage", "MaskPreview", "ImageBlur",
              "ImageCompositeMasked", "GrowMask", "FeatherMask", "InvertMask", "ImageToMask"}
WORKFLOWS = sorted(EXAMPLES.glob("*.json"))


def test_there_are_workflows_and_only_workflows():
    assert len(WORKFLOWS) >= 2
    for path in WORKFLOWS:
        data = json.loads(path.read_text())
        assert {"nodes", "links", "version"} <= set(data), f"{path.name} is not a UI workflow"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_is_consistent(path):
    data = json.loads(path.read_text())
    assert any((path.with_suffix(ext)).is_file() for ext in (".png", ".jpg")), f"{path.name} has no thumbnail"
    nodes = {n["id"]: n for n in data["nodes"]}
    types = {n["type"] for n in nodes.values()}
    assert types <= set(OUR_NODES) | CORE_NODES, f"unexpected node types {types - set(OUR_NODES) - CORE_NODES}"
    assert {"FPLIIF_LoadModel", "FPLIIF_ParseFaces"} <= types
    for node in nodes.values():
        if node["type"] in OUR_NODES:
            assert len(node["widgets_values"]) == OUR_NODES[node["type"]], node["type"]
    assert data["last_node_id"] >= max(nodes)
    for link_id, src, src_slot, dst, dst_slot, link_type in data["links"]:
        assert link_id in (nodes[src]["outputs"][src_slot]["links"] or [])
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
        assert nodes[dst]["inputs"][dst_slot]["type"] == link_type == nodes[src]["outputs"][src_slot]["type"]
    load = [n for n in nodes.values() if n["type"] == "LoadImage"]
    assert all((EXAMPLES / n["widgets_values"][0]).is_file() for n in load), "ship the sample input image"
    models = [n["widgets_values"][0] for n in nodes.values() if n["type"] == "FPLIIF_LoadModel"]
    assert set(models) <= set(model_choices([])), f"the Load Model choice {models} is not in the node's list"


def test_every_node_of_the_pack_is_in_an_example():
    used = {n["type"] for path in WORKFLOWS for n in json.loads(path.read_text())["nodes"]}
    assert set(OUR_NODES) <= used, f"no example uses {set(OUR_NODES) - used}"
