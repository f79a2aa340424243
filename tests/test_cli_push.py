"""``fpliif push`` against a stand-in ``HfApi`` (no network): what would be uploaded, and what is refused."""

import fnmatch
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
from conftest import tiny_model
from huggingface_hub.errors import HfHubHTTPError

import fpliif
from fpliif.cli import main


class FakeApi:
    """Records ``create_repo`` and ``upload_folder`` calls; ``upload_folder`` lists the files it would send."""

    calls: list = []
    fail_with: Exception | None = None

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        if FakeApi.fail_with is not None:
            raise FakeApi.fail_with
        FakeApi.calls.append(("create_repo", repo_id, kwargs, self.token))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, allow_patterns, **kwargs):
        files = sorted(p.name for p in Path(folder_path).iterdir()
                       if any(fnmatch.fnmatch(p.name, pattern) for pattern in allow_patterns))
        FakeApi.calls.append(("upload_folder", repo_id, files, kwargs))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/{'a' * 40}", oid="a" * 40)


@pytest.fixture
def hub(monkeypatch):
    FakeApi.calls, FakeApi.fail_with = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test_token")
    return FakeApi


@pytest.fixture
def model_dir(tiny_model_dir, tmp_path):
    directory = tmp_path / "best"
    shutil.copytree(tiny_model_dir, directory)
    (directory / "optimizer.pt").write_bytes(b"not for the Hub")
    return directory


def push(*args) -> int:
    return main(["push", *map(str, args)])


def test_uploads_the_three_files_only(hub, model_dir, capsys):
    assert push(model_dir, "--repo", "user/fpliif-tiny", "--private", "--revision-message", "epoch 3") == 0
    (create, repo, options, token), (upload, repo2, files, upload_options) = hub.calls
    assert (create, repo, token) == ("create_repo", "user/fpliif-tiny", "hf_test_token")
    assert options["private"] is True and options["exist_ok"] is True
    assert (upload, repo2, files) == ("upload_folder", "user/fpliif-tiny", ["README.md", "config.json",
                                                                            "model.safetensors"])
    assert upload_options["commit_message"] == "epoch 3"
    captured = capsys.readouterr()
    assert "not uploaded: optimizer.pt" in captured.err
    assert "--model user/fpliif-tiny --revision " + "a" * 40 in captured.out


def test_a_missing_model_card_is_written_and_uploaded(hub, model_dir, capsys):
    (model_dir / "README.md").unlink()
    assert push(model_dir, "--repo", "user/fpliif-tiny") == 0
    assert "library_name: fpliif" in (model_dir / "README.md").read_text()
    assert "README.md" in hub.calls[1][2] and "wrote a model card" in capsys.readouterr().err


@pytest.mark.parametrize("breakage, match", [
    (lambda d: (d / "model.safetensors").write_bytes(b"truncated"), "not a readable safetensors"),
    (lambda d: (d / "model.safetensors").unlink(), "model.safetensors"),
    (lambda d: (d / "config.json").write_text(json.dumps({**json.loads((d / "config.json").read_text()),
                                                          "width": 16})), "does not match"),
])
def test_a_folder_that_does_not_load_is_refused(hub, model_dir, capsys, breakage, match):
    breakage(model_dir)
    assert push(model_dir, "--repo", "user/fpliif-tiny") == 2
    err = capsys.readouterr().err
    assert "nothing was uploaded" in err and match in err
    assert hub.calls == []


def test_missing_folder_and_bad_repo_id(hub, model_dir, tmp_path, capsys):
    assert push(tmp_path / "nope", "--repo", "user/x") == 2
    assert "does not exist" in capsys.readouterr().err
    assert push(model_dir, "--repo", "no-slash") == 2
    assert "user/fpliif-celebamask" in capsys.readouterr().err
    assert hub.calls == []


def test_no_token_says_how_to_log_in(hub, model_dir, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert push(model_dir, "--repo", "user/fpliif-tiny") == 2
    err = capsys.readouterr().err
    assert "login" in err and "HF_TOKEN" in err and hub.calls == []


def test_a_rejected_token_says_how_to_log_in(hub, model_dir, capsys):
    error = HfHubHTTPError.__new__(HfHubHTTPError)
    OSError.__init__(error, "401 Client Error: Unauthorized")
    error.response = SimpleNamespace(status_code=401)
    hub.fail_with = error
    assert push(model_dir, "--repo", "user/fpliif-tiny") == 2
    assert "401" in (err := capsys.readouterr().err) and "HF_TOKEN" in err


def test_help(capsys):
    with pytest.raises(SystemExit):
        main(["push", "--help"])
    text = capsys.readouterr().out
    for word in ("MODEL_DIR", "--repo", "--private", "--revision-message", "README.md", "examples:"):
        assert word in text, word


def test_push_a_model_from_python(hub):
    result = fpliif.push_to_hub(tiny_model(), "user/fpliif-tiny", commit_message="from python")
    (_, _, _, token), (_, repo, files, options) = hub.calls
    assert (repo, files, token) == ("user/fpliif-tiny", ["README.md", "config.json", "model.safetensors"],
                                    "hf_test_token")
    assert options["commit_message"] == "from python" and result.commit == "a" * 40
    assert result.repo_url == "https://huggingface.co/user/fpliif-tiny" and result.skipped == []
