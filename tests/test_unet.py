"""The U-Net baseline (the paper's conv-decoder ablation): shapes, size, FPLIIF interface, save/load."""

import pytest
import torch

from fpliif import FaceParser, create_model, from_pretrained, model_config, save_pretrained
from fpliif.models.decoder import make_coord
from fpliif.models.registry import build_model
from fpliif.models.unet import UNetBaseline

TINY = dict(width=8, blocks=(1, 1, 1), input_size=32)


def tiny_unet(**kw) -> UNetBaseline:
    torch.manual_seed(0)
    return create_model("unet-baseline", **{**TINY, **kw}).eval()


def test_registry_builds_unet():
    model = tiny_unet()
    assert isinstance(model, UNetBaseline)
    assert model.cfg.model_type == "unet"


@pytest.mark.parametrize("size", [None, (48, 40), (16, 16)])
def test_forward_shapes(size):
    model = tiny_unet()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32), size=size)
    assert out.shape == (2, model.cfg.num_classes, *(size or (32, 32)))


def test_query_matches_resized_forward():
    model = tiny_unet()
    images = torch.rand(1, 3, 32, 32)
    coords = make_coord((48, 40)).unsqueeze(0)
    with torch.no_grad():
        queried = model.query(model.encode(images), coords).transpose(1, 2).reshape(1, -1, 48, 40)
        resized = model(images, size=(48, 40))
    torch.testing.assert_close(queried, resized, atol=1e-5, rtol=1e-5)


def test_rejects_input_not_divisible_by_scale():
    with pytest.raises(ValueError, match="divisible by 4"):
        tiny_unet()(torch.rand(1, 3, 30, 32))


def test_param_count_matches_fpliif():
    """At the paper's config the baseline is within 10% of FP-LIIF's 2.25 M parameters (meta tensors: no memory)."""
    with torch.device("meta"):
        unet = build_model(model_config("unet-baseline"))
        liif = build_model(model_config("fpliif"))
    n_unet = sum(p.numel() for p in unet.parameters())
    n_liif = sum(p.numel() for p in liif.parameters())
    assert 2.0e6 < n_unet < 2.5e6
    assert abs(n_unet - n_liif) / n_liif < 0.10


def test_save_load_round_trip(tmp_path):
    model = tiny_unet()
    save_pretrained(model, tmp_path / "unet")
    loaded = from_pretrained(tmp_path / "unet")
    assert isinstance(loaded, UNetBaseline)
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model(images))


def test_face_parser_runs_unet():
    parser = FaceParser(tiny_unet(), device="cpu")
    result = parser(torch.rand(3, 40, 24), size=(20, 12))
    assert result.logits.shape == (19, 20, 12)
