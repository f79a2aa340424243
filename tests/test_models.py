"""Every registered variant: shapes, any output size, batch consistency, parameter counts, config checks."""

import pytest
import torch
from conftest import TINY, tiny_model

from fpliif import FPLIIFConfig, create_model, list_models, model_config
from fpliif.models.decoder import make_coord

MODELS = list_models()


def test_registry_has_paper_and_smaller_variant():
    assert "fpliif" in MODELS and len(MODELS) >= 2
    with pytest.raises(KeyError, match="registered models"):
        create_model("no-such-model")


@pytest.mark.parametrize("name", MODELS)
def test_full_size_variant_builds(name):
    with torch.device("meta"):
        model = create_model(name)
    cfg = model.cfg
    assert cfg.num_classes == 19 and cfg.input_size == 256
    assert sum(p.numel() for p in model.parameters()) > 100_000


def test_paper_parameter_count():
    """Paper: 2.29 M parameters for 19 classes; we accept 2.2-2.4 M."""
    with torch.device("meta"):
        model = create_model("fpliif")
    params = sum(p.numel() for p in model.parameters())
    assert 2.2e6 <= params <= 2.4e6, params


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", [None, (8, 8), (17, 33), (64, 48)])
def test_output_sizes(name, size, device):
    model = tiny_model(name).to(device)
    images = torch.rand(2, 3, 32, 32, device=device)
    with torch.no_grad():
        out = model(images, size=size)
    assert out.shape == (2, 19, *(size or (32, 32)))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_non_square_input(name, device):
    model = tiny_model(name).to(device)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 32, 48, device=device), size=(20, 30))
    assert out.shape == (1, 19, 20, 30)


@pytest.mark.parametrize("name", MODELS)
def test_batch_equals_items_alone(name, device):
    model = tiny_model(name).to(device)
    images = torch.rand(3, 3, 32, 32, device=device)
    with torch.no_grad():
        batch = model(images, size=(24, 20))
        alone = torch.cat([model(images[i:i + 1], size=(24, 20)) for i in range(3)])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_labels_follow_config(name):
    model = tiny_model(name, label_names=["background", "skin", "hair"])
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape[1] == 3


def test_chunked_query_equals_whole():
    model = tiny_model()
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(images, size=(40, 40), chunk=100), model(images, size=(40, 40)))


def test_latent_grid_is_a_quarter_of_the_input():
    model = tiny_model()
    state = model.encode(torch.rand(2, 3, 32, 32))
    assert state.grid == (8, 8) and len(state) == 2
    assert state.cells.shape == (2, 64, TINY["mlp_hidden"][0])
    assert state[1].cells.shape == (1, 64, TINY["mlp_hidden"][0])


def test_make_coord_is_pixel_centres():
    coord = make_coord((2, 4), flatten=False)
    assert coord.shape == (2, 4, 2)
    torch.testing.assert_close(coord[:, 0, 0], torch.tensor([-0.5, 0.5]))
    torch.testing.assert_close(coord[0, :, 1], torch.tensor([-0.75, -0.25, 0.25, 0.75]))


@pytest.mark.parametrize("bad, match", [
    (dict(model_type="vit"), "model_type"),
    (dict(label_names=["only"]), "at least 2"),
    (dict(label_names=["a", "a"]), "duplicates"),
    (dict(blocks=()), "blocks"),
    (dict(norm="layer"), "norm"),
    (dict(width=0), "width"),
    (dict(temperature=0), "temperature"),
    (dict(input_size=30), "multiple"),
    (dict(mean=(0.5,)), "mean and std"),
])
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        model_config("fpliif", **bad)


def test_config_round_trip(tmp_path, tiny_config):
    cfg = tiny_config(label_names=["background", "skin", "hair"], temperature=0.7)
    cfg.save(tmp_path)
    assert FPLIIFConfig.load(tmp_path) == cfg
    assert FPLIIFConfig.load(tmp_path / "config.json").num_classes == 3


def test_config_unknown_key_and_bad_json(tmp_path):
    with pytest.raises(ValueError, match="unknown keys"):
        FPLIIFConfig.from_dict({"widht": 3})
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        FPLIIFConfig.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        FPLIIFConfig.load(tmp_path / "missing")
