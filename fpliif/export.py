"""ONNX export: the whole network (encoder and decoder) on a fixed output grid, checked with onnxruntime.

For a fixed output size the decoder's cell lookups depend only on constants, so the traced graph is the
encoder, the reduce MLP, the decoder's own query (:meth:`fpliif.models.decoder.LIIFDecoder.query_logits`: one
row gather, the MLP and the local-ensemble blend) with its indices folded in. No custom ops; opset 17.

>>> export_onnx(model, "fpliif-256.onnx", size=256)       # images B x 3 x 256 x 256 in [0, 1]
>>> check_onnx(model, "fpliif-256.onnx", size=256)        # max |logit difference| against PyTorch
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["GridModel", "export_onnx", "check_onnx"]


class GridModel(nn.Module):
    """An FP-LIIF model on a fixed ``size`` grid: images ``B x 3 x S x S`` in [0, 1] -> logits ``B x K x H x W``.

    It is ``model(images, size=size)`` with the size fixed, which is what a traced graph needs.
    """

    def __init__(self, model: nn.Module, size: tuple[int, int]):
        super().__init__()
        self.model, self.size = model, tuple(size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images, size=self.size)


def export_onnx(model: nn.Module, path: str | Path, size: int | tuple[int, int] | None = None,
                opset: int = 17) -> Path:
    """Write ``model`` on a fixed output grid (default: its input size) to ``path``; the batch is dynamic.

    Inputs ``images`` ``B x 3 x S x S`` float32 in [0, 1] (S = ``model.cfg.input_size``, padded to square and
    resized as :meth:`FaceParser.prepare` does); output ``logits`` ``B x K x H x W``.
    """
    if not hasattr(model, "decoder") or not hasattr(model.decoder, "mlp"):
        raise ValueError(f"export needs an FP-LIIF model with a LIIF decoder, got {type(model).__name__}")
    size = _size(size, model.cfg.input_size)
    grid = GridModel(copy.deepcopy(model).float().cpu().eval(), size).eval()
    n = model.cfg.input_size
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(
            grid, (torch.rand(1, 3, n, n),), str(path), opset_version=opset, dynamo=False,
            input_names=["images"], output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path


def check_onnx(model: nn.Module, path: str | Path, size: int | tuple[int, int] | None = None,
               images: torch.Tensor | None = None) -> dict:
    """Run the ONNX file with onnxruntime and compare with ``model(images, size)`` in PyTorch.

    Returns:
        ``max_abs`` logit difference, ``label_agreement`` (share of equal arg-max labels) and ``shape``.
    """
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError("checking an ONNX export needs onnxruntime: pip install onnxruntime") from e
    size = _size(size, model.cfg.input_size)
    n = model.cfg.input_size
    if images is None:
        images = torch.rand(2, 3, n, n, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(["logits"], {"images": images.numpy()})[0])
    with torch.no_grad():
        want = copy.deepcopy(model).float().cpu().eval()(images, size=size)
    if got.shape != want.shape:
        raise ValueError(f"ONNX output shape {tuple(got.shape)} != PyTorch {tuple(want.shape)}; re-export")
    return {"max_abs": (got - want).abs().max().item(),
            "label_agreement": (got.argmax(1) == want.argmax(1)).float().mean().item(), "shape": list(got.shape)}


def _size(size, default: int) -> tuple[int, int]:
    """The export's output grid: ``default`` (the input size) or ``size`` as for :func:`fpliif.parser.output_size`
    of a square ``default`` image (N: N x N; (H, W): as given)."""
    from .parser import output_size

    return output_size((default, default), size)
