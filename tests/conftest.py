"""Shared fixtures: tiny model configs and saved model folders, generated face-like images, the test device.

Set ``FPLIIF_TEST_DEVICE=cuda`` (or ``mps``) to run the device-aware tests there; the default is the CPU.
``FPLIIF_TEST_THREADS`` sets torch's CPU threads (default 1).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from fpliif import create_model, model_config, save_pretrained

ROOT = Path(__file__).resolve().parents[1]

# Tiny models gain nothing from threads, and the test machines are shared: one thread avoids oversubscription.
torch.set_num_threads(int(os.environ.get("FPLIIF_TEST_THREADS", "1")))

# Small enough that a forward pass takes milliseconds on a busy CPU, yet every part of the network exists.
TINY = dict(width=8, blocks=(1, 1, 1), reduce_hidden=16, feature_dim=8, mlp_hidden=(16, 16), input_size=32)


def tiny_model(name: str = "fpliif", seed: int = 0, **overrides) -> torch.nn.Module:
    """A registered variant shrunk to :data:`TINY`, with seeded weights, in eval mode."""
    torch.manual_seed(seed)
    return create_model(name, **{**TINY, **overrides}).eval()


def face_image(height: int = 48, width: int = 40, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A face-like drawing: background, hair, skin oval, eyes, brows, nose and lips, with a little noise."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (width, height), (40, 90, 140))
    d = ImageDraw.Draw(im)
    w, h = width, height
    d.ellipse([0.15 * w, 0.02 * h, 0.85 * w, 0.7 * h], fill=(70, 45, 20))  # hair
    d.ellipse([0.22 * w, 0.15 * h, 0.78 * w, 0.9 * h], fill=(220, 170, 140))  # skin
    for x in (0.35, 0.6):
        d.ellipse([x * w, 0.4 * h, (x + 0.08) * w, 0.46 * h], fill=(30, 30, 60))  # eyes
        d.line([x * w, 0.35 * h, (x + 0.1) * w, 0.34 * h], fill=(60, 40, 20), width=1)  # brows
    d.polygon([(0.5 * w, 0.45 * h), (0.45 * w, 0.6 * h), (0.55 * w, 0.6 * h)], fill=(200, 140, 110))  # nose
    d.ellipse([0.4 * w, 0.68 * h, 0.6 * w, 0.76 * h], fill=(190, 60, 80))  # lips
    arr = np.asarray(im).astype(np.int16) + rng.integers(-8, 9, size=(h, w, 3))
    im = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return im if mode == "RGB" else im.convert(mode)


def example_photo(path: Path, side: int) -> Path:
    """The example photo (``examples/astronaut.png``, a real face) resized to ``side`` px, saved at ``path``."""
    Image.open(ROOT / "examples" / "astronaut.png").convert("RGB").resize((side, side)).save(path)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def device() -> torch.device:
    """The device under test, from ``FPLIIF_TEST_DEVICE`` (default ``cpu``); skips if it is not available."""
    name = os.environ.get("FPLIIF_TEST_DEVICE", "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip(f"FPLIIF_TEST_DEVICE={name} but CUDA is not available")
    if name == "mps" and not torch.backends.mps.is_available():
        pytest.skip("FPLIIF_TEST_DEVICE=mps but MPS is not available")
    return torch.device(name)


@pytest.fixture
def tiny_config():
    """A factory: ``tiny_config(**overrides)`` -> :class:`~fpliif.FPLIIFConfig` of the tiny ``fpliif`` variant."""

    def make(name: str = "fpliif", **overrides):
        return model_config(name, **{**TINY, **overrides})

    return make


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny 19-class model folder (config.json, model.safetensors, README.md), shared by the session."""
    directory = tmp_path_factory.mktemp("tiny-model")
    save_pretrained(tiny_model(), directory)
    return directory


@pytest.fixture
def images_dir(tmp_path) -> Path:
    """A folder of three generated faces of different sizes, one of them in a sub-folder."""
    folder = tmp_path / "faces"
    (folder / "sub").mkdir(parents=True)
    face_image(48, 40, seed=1).save(folder / "a.png")
    face_image(30, 50, seed=2).save(folder / "b.jpg")
    face_image(36, 36, seed=3).save(folder / "sub" / "c.png")
    return folder
