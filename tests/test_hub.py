"""Weights I/O: save/load round trip, clear errors, and Hub downloads against a loopback fake Hub."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import free_port, tiny_model
from fake_hub import FakeHub
from safetensors.torch import load_file, save_file

import fpliif
from fpliif import from_pretrained, pretrained, save_pretrained
from fpliif.hub import config_for, is_fpliif_file, locate_model, parse_repo_id

ROOT = Path(__file__).resolve().parents[1]
REPO = "tester/fpliif-tiny"


def test_round_trip_is_bit_exact(tmp_path):
    model = tiny_model(label_names=["background", "skin", "hair"], temperature=0.7)
    save_pretrained(model, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    loaded = from_pretrained(tmp_path)
    assert loaded.cfg == model.cfg and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(images, size=(20, 20)), loaded(images, size=(20, 20)))
    assert "hair" in (tmp_path / "README.md").read_text()


def test_load_from_weights_file_dtype_and_device(tmp_path):
    save_pretrained(tiny_model(), tmp_path)
    model = from_pretrained(tmp_path / "model.safetensors", device="cpu", dtype=torch.float64)
    assert next(model.parameters()).dtype == torch.float64


def test_mismatched_checkpoint_names_keys(tmp_path):
    save_pretrained(tiny_model(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "width": 12, "blocks": [1, 1, 2]}))
    with pytest.raises(ValueError) as err:
        from_pretrained(tmp_path)
    message = str(err.value)
    assert "does not match its config.json" in message
    assert "missing tensors: encoder.groups.2.blocks.1" in message
    assert "encoder.downs.0.weight: file has (8, 8, 3, 3), config expects (12, 12, 3, 3)" in message
    assert "more tensors whose shapes differ" in message


def test_extra_tensor_is_named(tmp_path):
    save_pretrained(tiny_model(), tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    save_file({**tensors, "decoder.extra": torch.zeros(2)}, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="unexpected tensors: decoder.extra"):
        from_pretrained(tmp_path)


@pytest.mark.parametrize("remove, match", [("config.json", "config.json"), ("model.safetensors", "model.safetensors")])
def test_missing_files(tmp_path, remove, match):
    save_pretrained(tiny_model(), tmp_path)
    (tmp_path / remove).unlink()
    with pytest.raises(FileNotFoundError, match=match):
        from_pretrained(tmp_path)


def test_missing_folder_and_corrupt_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_pretrained(tmp_path / "nowhere")
    save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        from_pretrained(tmp_path)


@pytest.fixture
def shipped(tmp_path, monkeypatch) -> Path:
    """The default pretrained weights pointed at an empty temporary folder."""
    entry = pretrained.get_pretrained()
    monkeypatch.setitem(pretrained._PRETRAINED, entry.name, dataclasses.replace(entry, folder=tmp_path))
    return tmp_path


def test_default_weights_missing_is_clear(shipped):
    for name in (None, "default", fpliif.DEFAULT_PRETRAINED):
        with pytest.raises(FileNotFoundError, match="are not in this install"):
            from_pretrained(name)


def test_default_weights_load_when_present(shipped):
    save_pretrained(tiny_model(), shipped)
    assert from_pretrained().cfg.width == 8
    assert from_pretrained("default").cfg.width == 8


def test_name_safetensors_with_name_json(tmp_path):
    """Several models in one folder: ``NAME.safetensors`` with ``NAME.json``, preferred to a ``config.json``."""
    save_pretrained(tiny_model(), tmp_path / "a")
    save_pretrained(tiny_model(width=12), tmp_path / "b")
    (tmp_path / "b" / "model.safetensors").rename(tmp_path / "a" / "wide.safetensors")
    (tmp_path / "b" / "config.json").rename(tmp_path / "a" / "wide.json")
    assert from_pretrained(tmp_path / "a" / "wide.safetensors").cfg.width == 12
    assert from_pretrained(tmp_path / "a" / "model.safetensors").cfg.width == 8
    assert config_for(tmp_path / "a" / "wide.safetensors").name == "wide.json"
    (tmp_path / "a" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors has no config.*config.json"):
        locate_model(tmp_path / "a" / "model.safetensors")


def test_other_libraries_files_are_recognised(tmp_path):
    save_pretrained(tiny_model(), tmp_path / "ours")
    assert is_fpliif_file(tmp_path / "ours" / "model.safetensors")
    (tmp_path / "segformer.safetensors").write_bytes(b"x")
    (tmp_path / "segformer.json").write_text('{"model_type": "segformer", "num_labels": 19}')
    assert not is_fpliif_file(tmp_path / "segformer.safetensors")
    (tmp_path / "loose.safetensors").write_bytes(b"x")  # no config: may be ours, loading says what is missing
    assert is_fpliif_file(tmp_path / "loose.safetensors")


def test_parse_repo_id():
    assert parse_repo_id("user/name") == ("user/name", None)
    assert parse_repo_id(" user/name@v1.0 ") == ("user/name", "v1.0")
    for bad in ("no-slash", "a b/c", "/name", "user/name/extra"):
        with pytest.raises(ValueError, match="user/name@revision"):
            parse_repo_id(bad)
    with pytest.raises(ValueError, match="pins revision"):
        locate_model("user/name@v1", revision="v2")


# The Hub tests run the download in a subprocess: huggingface_hub reads HF_ENDPOINT, HF_HOME and
# HF_HUB_OFFLINE when it is imported, so they must be set before that import.
LOADER = """
import json, sys, time, warnings
from pathlib import Path
from fpliif.hub import from_pretrained, locate_model
results = []
for repo, revision in json.loads(sys.argv[1]):
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = from_pretrained(repo, revision=revision)
            folder = locate_model(repo, revision).weights.parent
            results.append({"ok": True, "folder": str(folder), "width": model.cfg.width})
        except Exception as e:
            results.append({"ok": False, "type": type(e).__name__, "message": str(e)})
    results[-1].update(seconds=time.monotonic() - start, warnings=[str(w.message) for w in caught])
print(json.dumps(results))
"""


def _hub_env(endpoint: str, hf_home: Path, offline: bool = False, timeout: int | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1,localhost", PYTHONPATH=str(ROOT))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    if timeout is not None:
        env["HF_HUB_ETAG_TIMEOUT"] = str(timeout)
    return env


def _load_in_subprocess(env: dict, loads: list) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", LOADER, json.dumps(loads)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: a network that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture(scope="module")
def hub_run(tmp_path_factory):
    """Two commits of one repo on the fake Hub; one online run, then one offline run on the same cache."""
    root = tmp_path_factory.mktemp("hub")
    save_pretrained(tiny_model(seed=0), root / "first")
    save_pretrained(tiny_model(seed=1, width=12), root / "second")
    with FakeHub() as hub:
        first = hub.add_folder(REPO, root / "first")
        second = hub.add_folder(REPO, root / "second")
        hub.add_commit("tester/no-weights", {"config.json": (root / "first" / "config.json").read_bytes()})
        online = _load_in_subprocess(_hub_env(hub.url, root / "hf"), [
            [REPO, None], [REPO, first], ["tester/missing", None], [REPO, "no-such-branch"],
            ["tester/no-weights", None], [f"{REPO}@{first}", None]])
        seen = len(hub.requests)
        offline = _load_in_subprocess(_hub_env(hub.url, root / "hf", offline=True), [
            [REPO, None], [REPO, first], ["tester/never-downloaded", None]])
        offline_requests = hub.requests[seen:]
    # The same warm cache behind a network that never answers and one that refuses connections, then a cold
    # cache behind each: the Hub's 2 s timeout (HF_HUB_ETAG_TIMEOUT), tried once.
    with SilentServer() as silent:
        hanging = _load_in_subprocess(_hub_env(silent.url, root / "hf", timeout=2), [
            [REPO, None], ["tester/never-downloaded", None]])
    refused = _load_in_subprocess(_hub_env(f"http://127.0.0.1:{free_port()}", root / "hf", timeout=2), [
        [REPO, None], ["tester/never-downloaded", None]])
    return SimpleNamespace(root=root, first=first, second=second, online=online, offline=offline,
                           offline_requests=offline_requests, hanging=hanging, refused=refused)


def test_hub_download_latest(hub_run):
    latest = hub_run.online[0]
    assert latest["ok"], latest
    assert latest["width"] == 12 and Path(latest["folder"]).name == hub_run.second
    weights = Path(latest["folder"]) / "model.safetensors"
    assert weights.read_bytes() == (hub_run.root / "second" / "model.safetensors").read_bytes()


def test_hub_pinned_revision(hub_run):
    for pinned in (hub_run.online[1], hub_run.online[5]):  # revision=COMMIT, and "user/name@COMMIT"
        assert pinned["ok"], pinned
        assert pinned["width"] == 8 and Path(pinned["folder"]).name == hub_run.first


def test_hub_unknown_repo_and_revision(hub_run):
    repo, revision = hub_run.online[2], hub_run.online[3]
    assert repo["type"] == "FileNotFoundError" and "tester/missing" in repo["message"], repo
    assert "No local folder tester/missing exists either" in repo["message"]
    assert revision["type"] == "FileNotFoundError" and "no-such-branch" in revision["message"], revision
    no_weights = hub_run.online[4]
    assert no_weights["type"] == "FileNotFoundError" and "model.safetensors" in no_weights["message"], no_weights


def test_hub_offline_with_warm_cache(hub_run):
    latest, pinned = hub_run.offline[:2]
    assert latest["ok"] and latest["width"] == 12, latest
    assert pinned["ok"] and pinned["width"] == 8, pinned
    assert hub_run.offline_requests == []


def test_hub_offline_with_cold_cache_is_clear(hub_run):
    cold = hub_run.offline[2]
    assert cold["type"] == "FileNotFoundError", cold
    assert "not in the local Hugging Face cache" in cold["message"] and "tester/never-downloaded" in cold["message"]


@pytest.mark.parametrize("network", ["hanging", "refused"])
def test_hub_on_a_dead_network_fails_fast_and_says_how_to_work_offline(hub_run, network):
    cached, cold = getattr(hub_run, network)
    assert cached["ok"] and cached["width"] == 12, cached  # the cached copy of main, with a warning
    assert any("could not reach the Hugging Face Hub" in w and "cached copy" in w for w in cached["warnings"])
    assert cold["type"] == "FileNotFoundError", cold
    assert "could not reach the Hugging Face Hub for 'tester/never-downloaded'" in cold["message"]
    assert "HF_HUB_OFFLINE=1" in cold["message"] and "local model folder" in cold["message"]
    # One try at the 2 s timeout; huggingface_hub alone retries six times at 60 s (6 minutes and more).
    assert cached["seconds"] < 10 and cold["seconds"] < 10, (cached["seconds"], cold["seconds"])


def test_pickled_weights_are_refused_by_name(tmp_path):
    for name in ("last.pt", "model.bin", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(ValueError, match=f"{name} is .*fpliif loads only .safetensors weights"):
            from_pretrained(tmp_path / name)


def test_input_size_other_than_trained_warns(tmp_path):
    save_pretrained(tiny_model(), tmp_path)
    (tmp_path / "train_config.json").write_text(json.dumps({"input_size": 32, "epochs": 3}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_pretrained(tmp_path)  # as trained: silent
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "input_size": 64}))
    with pytest.warns(UserWarning, match="sets input_size 64, but these weights were trained at 32 px"):
        from_pretrained(tmp_path)


def test_save_pretrained_replaces_the_folder_whole_and_keeps_other_files(tmp_path):
    from conftest import tiny_model

    from fpliif import save_pretrained

    folder = tmp_path / "m"
    save_pretrained(tiny_model(seed=1), folder, extra={"train_config.json": "{}\n"})
    (folder / "notes.txt").write_text("mine")
    save_pretrained(tiny_model(seed=2, label_names=["background", "skin", "hair"]), folder)
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "train_config.json").is_file()
    assert from_pretrained(folder).cfg.label_names == ["background", "skin", "hair"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging folders left behind
