"""The node pack inside a real, headless ComfyUI: every example workflow is posted to /prompt and must produce
its images. Runs only where ``FPLIIF_COMFYUI_DIR`` points at a ComfyUI checkout (its Python is
``FPLIIF_COMFYUI_PYTHON``, default this one); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import free_port, tiny_model
from PIL import Image

import fpliif

ROOT = Path(__file__).resolve().parents[1]
COMFYUI = Path(os.environ.get("FPLIIF_COMFYUI_DIR", "")).expanduser()
PYTHON = os.environ.get("FPLIIF_COMFYUI_PYTHON", sys.executable)
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
START_TIMEOUT_S, RUN_TIMEOUT_S = 240, 180

pytestmark = pytest.mark.skipif(
    not os.environ.get("FPLIIF_COMFYUI_DIR") or not (COMFYUI / "main.py").is_file(),
    reason="set FPLIIF_COMFYUI_DIR to a ComfyUI checkout to run the pack inside ComfyUI",
)


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """A UI-format workflow (what the template browser opens) -> the API format /prompt takes."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        info = object_info[node["type"]]
        inputs = {}
        values = list(node.get("widgets_values") or [])
        for name in _input_order(info):
            spec = _input_spec(info, name)
            if not _is_widget(spec) or not values:
                continue
            inputs[name] = values.pop(0)
            if spec[1].get("control_after_generate") if len(spec) > 1 else False:
                values.pop(0)  # the "fixed/randomize" value the front end stores after it
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                _, src, src_slot, *_ = links[slot["link"]]
                inputs[slot["name"]] = [str(src), src_slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def _input_order(info: dict) -> list[str]:
    order = info.get("input_order") or {k: list(v) for k, v in info["input"].items()}
    return [*order.get("required", []), *order.get("optional", [])]


def _input_spec(info: dict, name: str) -> list:
    for group in ("required", "optional"):
        if name in info["input"].get(group, {}):
            return info["input"][group][name]
    raise KeyError(name)


def _is_widget(spec: list) -> bool:
    return isinstance(spec[0], list) or spec[0] in WIDGET_TYPES


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _post(url: str, payload: dict):
    req = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"/prompt refused the workflow: {e.read().decode()}") from e


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    """A headless ComfyUI on loopback with the pack linked in and a tiny model in models/face_parsing/."""
    base = tmp_path_factory.mktemp("comfy")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "fpliif").symlink_to(ROOT, target_is_directory=True)
    (base / "input").mkdir()
    for sample in ("astronaut.png", "astronauts_group.jpg"):
        shutil.copy(ROOT / "examples" / sample, base / "input" / sample)
    fpliif.save_pretrained(tiny_model(), base / "models" / "face_parsing" / "tiny")
    port = free_port()
    log = open(base / "comfyui.log", "w")
    proc = subprocess.Popen(
        [PYTHON, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--base-directory", str(base),
         "--disable-auto-launch"], cwd=COMFYUI, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"ComfyUI exited: {(base / 'comfyui.log').read_text()[-3000:]}"
            try:
                info = _get(f"{url}/object_info")
                break
            except OSError:
                assert time.monotonic() < deadline, "ComfyUI did not start in time"
                time.sleep(1)
        yield url, base, info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_nodes_registered_with_picker_and_model_folder(comfy):
    url, base, info = comfy
    for node_id in ("FPLIIF_LoadModel", "FPLIIF_ParseFaces", "FPLIIF_LabelsToMask", "FPLIIF_CutOut"):
        assert node_id in info, (base / "comfyui.log").read_text()[-3000:]
        assert info[node_id]["category"] == "FP-LIIF"
        inputs = {**info[node_id]["input"].get("required", {}), **info[node_id]["input"].get("optional", {})}
        assert all(len(spec) > 1 and spec[1].get("tooltip") for spec in inputs.values()), f"{node_id}: a tooltip"
        assert all(info[node_id]["output_tooltips"]), f"{node_id}: an output without a tooltip"
    assert info["FPLIIF_LabelsToMask"]["output"] == ["MASK", "MASK", "SEGS"]
    assert "tiny/model.safetensors" in info["FPLIIF_LoadModel"]["input"]["required"]["model"][1]["options"]
    picker = info["FPLIIF_LabelsToMask"]["input"]["required"]["labels"][1]["fpliif_picker"]
    assert picker["labels"][13]["name"] == "hair" and picker["labels"][3]["display"] == "eyeglasses"
    assert any(path.endswith("fpliif.js") for path in _get(f"{url}/extensions"))
    templates = _get(f"{url}/workflow_templates").get("fpliif", [])  # the template browser's list
    assert sorted(templates) == sorted(p.stem for p in (ROOT / "examples").glob("*.json"))


@pytest.mark.parametrize("workflow_path", sorted((ROOT / "examples").glob("*.json")), ids=lambda p: p.stem)
def test_example_workflow_runs(comfy, workflow_path):
    url, base, info = comfy
    prompt = ui_to_api(json.loads(workflow_path.read_text()), info)
    for node in prompt.values():
        if node["class_type"] == "FPLIIF_LoadModel":
            node["inputs"].update(model="tiny/model.safetensors", device="cpu")
    prompt_id = _post(f"{url}/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})["prompt_id"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (history := _get(f"{url}/history/{prompt_id}")):
        assert time.monotonic() < deadline, f"{workflow_path.name} did not finish in {RUN_TIMEOUT_S} s"
        time.sleep(0.5)
    entry = history[prompt_id]
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"], indent=1)[-3000:]
    saved = [img for out in entry["outputs"].values() for img in out.get("images", []) if img["type"] == "output"]
    assert saved, f"{workflow_path.name} saved no image"
    for img in saved:
        path = base / "output" / img.get("subfolder", "") / img["filename"]
        assert path.is_file()
        if "cut_out" in img["filename"]:
            assert Image.open(path).mode == "RGBA", "the cut-out is saved over transparency"
    legends = [out["fpliif_legend"] for out in entry["outputs"].values() if "fpliif_legend" in out]
    assert legends and legends[0][0]["color"].startswith("#")


PICKER_JS = """
const wf = arguments[0];
const node = window.app.graph._nodes.find(n => n.type === 'FPLIIF_LabelsToMask');
const picker = [...document.querySelectorAll('.fpliif-box:not(.fpliif-legend)')];
const find = (text) => [...picker[0].querySelectorAll('.fpliif-chip')].find(e => e.innerText.trim() === text);
const lip = find('upper lip'), eyes = find('eyes');
if (!node || !lip || !eyes) return null;
lip.click();
eyes.dispatchEvent(new MouseEvent('click', {shiftKey: true, bubbles: true}));
return {chips: document.querySelectorAll('.fpliif-chip').length,
        rows: [...picker[0].querySelectorAll('.fpliif-head')].map(e => e.innerText.trim()),
        on: [...document.querySelectorAll('.fpliif-chip.on')].map(e => e.innerText.trim()),
        off: [...document.querySelectorAll('.fpliif-chip.off')].map(e => e.innerText.trim()),
        legend: [...document.querySelectorAll('.fpliif-legend .fpliif-chip')].map(e => e.innerText.trim()),
        labels: node.widgets.find(w => w.name === 'labels').value,
        subtract: node.widgets.find(w => w.name === 'subtract').value,
        saved: node.serialize().widgets_values.length};"""


def test_web_picker_in_headless_chromium(comfy):
    """The front end loads web/fpliif.js: the picker shows every label and edits the labels text."""
    from webdriver import CHROMEDRIVER, CHROMIUM, chromium_session

    if not Path(CHROMIUM).is_file() or not Path(CHROMEDRIVER).is_file():
        pytest.skip("needs Debian's chromium and chromium-driver")
    url, _, _ = comfy
    workflow = json.loads((ROOT / "examples" / "fpliif_hair_mask.json").read_text())
    with chromium_session(free_port()) as driver:
        driver.get(url)
        deadline = time.monotonic() + 90
        while not driver.script("return !!(window.app && window.app.graph && window.app.loadGraphData)"):
            assert time.monotonic() < deadline, "the ComfyUI front end did not load"
            time.sleep(0.5)
        driver.script("window.app.loadGraphData(arguments[0]); return 1", workflow)
        state = None
        while state is None and time.monotonic() < deadline:
            time.sleep(0.5)
            state = driver.script(PICKER_JS, workflow)
    assert state is not None, "the label picker did not appear on FP-LIIF Labels to Mask"
    assert state["chips"] >= 18 * 2  # picker (labels + groups) and the parse node's legend
    assert state["rows"] == ["groups", "labels"]
    assert state["labels"] == "hair,u_lip" and set(state["on"]) >= {"hair", "upper lip"}
    assert state["subtract"] == "eyes" and state["off"] == ["eyes"]
    assert "left eye (person's left)" in state["legend"] and "l_eye" not in state["legend"]
    assert state["saved"] == 7, "the picker must not add a value to the saved workflow"
