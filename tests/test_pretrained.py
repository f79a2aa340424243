"""Named pretrained weights (``architecture.tag``): listed, created, loaded, and true to their files."""

from __future__ import annotations

import pytest
import torch

import fpliif
from fpliif import FaceParser, create_model, list_models
from fpliif.config import FPLIIFConfig
from fpliif.pretrained import get_pretrained, list_pretrained


def test_every_entry_matches_its_files():
    names = list_models(pretrained=True)
    assert fpliif.DEFAULT_PRETRAINED in names and names == list_pretrained()
    for name in names:
        entry = get_pretrained(name)
        assert entry.available, f"{name}: {entry.folder} has no weights"
        cfg = FPLIIFConfig.load(entry.folder)
        assert entry.architecture in list_models()
        assert (cfg.input_size, cfg.label_set) == (entry.input_size, entry.label_set)
        # the architecture's own config, with only the input size and labels changed
        arch = fpliif.model_config(entry.architecture, input_size=cfg.input_size, label_names=cfg.label_names,
                                   label_set=cfg.label_set)
        assert arch == cfg, name
        assert (entry.folder / "README.md").is_file(), f"{name} has no model card"


def test_create_model_with_and_without_weights():
    name = fpliif.DEFAULT_PRETRAINED
    loaded = create_model(name, pretrained=True)
    same = create_model(get_pretrained(name).architecture, pretrained=True)  # a bare architecture: its weights
    assert not loaded.training and loaded.cfg == same.cfg
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, same.state_dict()[key]), key
    fresh = create_model(name, label_names=["background", "skin", "hair"])  # the architecture, new weights
    assert fresh.cfg.input_size == loaded.cfg.input_size and fresh.cfg.num_classes == 3
    with pytest.raises(ValueError, match="fine-tune"):
        create_model(name, pretrained=True, width=8)
    with pytest.raises(KeyError, match="no pretrained weights named 'unet-baseline'"):
        create_model("unet-baseline", pretrained=True)


def test_parser_default_alias_and_name_are_the_same_weights():
    default, alias = FaceParser.from_pretrained(device="cpu"), FaceParser.from_pretrained("default", device="cpu")
    named = FaceParser.from_pretrained(fpliif.DEFAULT_PRETRAINED, device="cpu")
    assert default.cfg == alias.cfg == named.cfg and default.label_set is fpliif.CELEBAMASK_HQ
