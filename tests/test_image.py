"""Image helpers (fpliif/image.py) that the CLI, the demo, the nodes and the parser share."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from fpliif.image import image_size, load_image, to_pil, to_tensor, to_uint8


def test_to_uint8_rounds_and_clips():
    values = torch.tensor([-0.1, 0.0, 0.5 / 255, 0.5, 1.0, 1.2])
    assert to_uint8(values).tolist() == [0, 0, 1, 128, 255, 255]
    assert to_uint8(np.float64(0.2)).dtype == np.uint8


def test_to_pil_and_back():
    image = torch.rand(3, 6, 5)
    picture = to_pil(image)
    assert picture.mode == "RGB" and picture.size == (5, 6)
    assert (to_tensor(picture) - image).abs().max() <= 0.5 / 255 + 1e-6
    mask = to_pil(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    assert mask.mode == "L" and np.asarray(mask)[0, 0] == 0 and np.asarray(mask)[-1, -1] == 255


def fake_png(path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` but holds one byte of pixel data: decoding it would fail."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))


def test_too_large_input_is_refused_from_its_header(tmp_path):
    fake_png(tmp_path / "huge.png", 10000, 10000)
    for read in (load_image, image_size, to_tensor):
        with pytest.raises(ValueError, match=r"huge.png is 10000x10000 px \(100 MP\), over the input limit of 64 MP"):
            read(tmp_path / "huge.png")
    assert image_size(tmp_path / "huge.png", max_pixels=None) == (10000, 10000)  # header only: no decoding
    with pytest.raises(ValueError, match="not a readable image"):  # decoding is what fails for this file
        load_image(tmp_path / "huge.png", max_pixels=None)
    fake_png(tmp_path / "wide.png", 300, 20)
    with pytest.raises(ValueError, match="over the input limit of 0 MP"):
        image_size(tmp_path / "wide.png", max_pixels=5999)


def test_image_size_follows_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to show
    Image.new("RGB", (30, 20)).save(tmp_path / "turned.jpg", exif=exif)
    assert image_size(tmp_path / "turned.jpg") == (30, 20)
    assert load_image(tmp_path / "turned.jpg").size == (20, 30)


def test_missing_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.png does not exist"):
        image_size(tmp_path / "nothing.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="text.png is not a readable image"):
        load_image(tmp_path / "text.png")


@pytest.mark.parametrize("image", [
    torch.full((3, 8, 8), float("nan")),
    np.full((8, 8, 3), np.inf, dtype=np.float32),
    Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32), mode="F"),
])
def test_nan_and_infinite_images_are_refused(image):
    with pytest.raises(ValueError, match="NaN or infinite"):
        to_tensor(image)


@pytest.mark.parametrize("image, match", [
    (np.zeros((3, 240, 200), np.uint8), r"H x W x C \(channels last\).*200 channels.*transpose\(1, 2, 0\)"),
    (torch.zeros(240, 200, 3), r"C x H x W \(channels first.*240 channels.*permute\(2, 0, 1\)"),
    (torch.zeros(7, 20, 20), r"C x H x W.*7 channels$"),
])
def test_channel_layout_errors_say_what_was_expected(image, match):
    with pytest.raises(ValueError, match=match):
        to_tensor(image)


def test_to_uint8_and_blend_in_blocks_match_the_formula(monkeypatch):
    import fpliif.image as image_module

    monkeypatch.setattr(image_module, "_CHUNK", 1000)  # many blocks, with a ragged last one
    rng = np.random.default_rng(0)
    values = rng.uniform(-0.2, 1.2, size=(61, 47)).astype(np.float32)
    assert np.array_equal(to_uint8(values), (values * 255 + 0.5).clip(0, 255).astype(np.uint8))
    assert np.array_equal(to_uint8(torch.from_numpy(values).t()), to_uint8(values.T))
    image, color = (rng.integers(0, 256, size=(61, 47, 3), dtype=np.uint8) for _ in range(2))
    keep = rng.random((61, 47)) < 0.3
    expected = np.clip(image.astype(np.float32) * 0.6 + color.astype(np.float32) * 0.4 + 0.5, 0, 255).astype(np.uint8)
    expected[keep] = image[keep]
    assert np.array_equal(image_module.blend(image, color, 0.4, keep=keep), expected)
