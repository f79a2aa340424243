"""ONNX export (fpliif/export.py, `fpliif export`) round-trips through onnxruntime."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_model

from fpliif.cli import main
from fpliif.export import GridModel, check_onnx, export_onnx
from fpliif.hub import save_pretrained


def test_grid_model_equals_forward():
    model = tiny_model()
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(GridModel(model, (20, 28))(images), model(images, size=(20, 28)),
                                   atol=1e-5, rtol=1e-5)


def test_export_round_trip(tmp_path):
    pytest.importorskip("onnxruntime")
    model = tiny_model()
    path = export_onnx(model, tmp_path / "m.onnx", size=(24, 40))
    result = check_onnx(model, path, size=(24, 40))
    assert result["shape"] == [2, 19, 24, 40]
    assert result["max_abs"] < 1e-4 and result["label_agreement"] == 1.0


def test_cli_export(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    save_pretrained(tiny_model(), tmp_path / "model")
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(tmp_path / "model"), "--out", str(out), "--size", "16", "--check"]) == 0
    assert out.is_file() and "label agreement" in capsys.readouterr().out
    assert main(["export", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "m.onx")]) == 2
    assert ".onnx" in capsys.readouterr().err
