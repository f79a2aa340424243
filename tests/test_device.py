"""The one device and precision resolver that the CLI, the nodes, the demo and the parser share."""

from __future__ import annotations

import pytest
import torch

from fpliif.cli import main
from fpliif.device import resolve_device, resolve_dtype


def test_auto_picks_what_is_there():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == resolve_device(None).type == expected
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_unavailable_or_unknown_devices_say_what_to_use():
    with pytest.raises(ValueError, match="no CUDA GPU; use cpu or auto"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_precisions():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cpu) == resolve_dtype(None, cpu) == torch.float32
    assert resolve_dtype("auto", cuda) == torch.float16  # half the memory on a GPU
    assert resolve_dtype("fp16", cuda) == resolve_dtype("float16", cuda) == torch.float16
    assert resolve_dtype("bf16", cpu) == resolve_dtype(torch.bfloat16, cpu) == torch.bfloat16
    with pytest.warns(UserWarning, match="float16 on the CPU"):
        assert resolve_dtype("fp16", cpu) == torch.float32  # documented fallback: fp16 is ~8x slower on a CPU
    with pytest.raises(ValueError, match="unknown precision 'int8'"):
        resolve_dtype("int8", cpu)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cli_reports_an_unavailable_device(images_dir, tmp_path, tiny_model_dir, capsys):
    code = main(["parse", str(images_dir / "a.png"), "--out", str(tmp_path), "--model", str(tiny_model_dir),
                 "--device", "cuda", "--quiet"])
    assert code == 2 and "no CUDA GPU" in capsys.readouterr().err
