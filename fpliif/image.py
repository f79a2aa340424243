"""Image input and output: loading any common image form, padding to square, colour maps and overlays."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["load_image", "image_size", "list_images", "to_tensor", "to_uint8", "to_pil", "pad_to_square", "PadBox",
           "colorize", "blend", "IMAGE_EXTENSIONS", "MAX_INPUT_PIXELS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Largest input decoded by default, checked from the file's header before decoding: 64 MP (8000 x 8000) takes
# about 1 GB as a float tensor. Pillow's own decompression-bomb check is replaced by this one.
MAX_INPUT_PIXELS = 64_000_000
_TRANSPOSED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_CHUNK = 1 << 22  # elements per block in to_uint8 and blend: their temporaries stay a few tens of MB


def load_image(path: str | Path, max_pixels: int | None = MAX_INPUT_PIXELS) -> Image.Image:
    """Open an image file with its EXIF orientation applied; errors name the file and the problem.

    Args:
        path: the image file.
        max_pixels: refuse, from the header and before decoding, an image with more pixels (``None``: no limit).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable image, or over ``max_pixels``.
    """
    with _open(path, max_pixels) as im:
        try:
            im.load()
            return ImageOps.exif_transpose(im)
        except (OSError, SyntaxError, ValueError) as e:
            raise ValueError(f"{path} is not a readable image ({e}); is the file complete and an image?") from e


def image_size(path: str | Path, max_pixels: int | None = MAX_INPUT_PIXELS) -> tuple[int, int]:
    """``(height, width)`` of an image file as :func:`load_image` returns it (EXIF orientation applied), read from
    its header without decoding the pixels; raises as :func:`load_image` does."""
    with _open(path, max_pixels) as im:
        return _oriented_size(im)


@contextmanager
def _open(path: str | Path, max_pixels: int | None) -> Iterator[Image.Image]:
    """The lazily opened image (header read, pixels not decoded), checked against ``max_pixels``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the check below replaces Pillow's, with the limit the caller chose
    try:
        im = Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{path} is not a readable image ({e}); is the file complete and an image?") from e
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    with im:
        width, height = im.size
        if max_pixels is not None and width * height > max_pixels:
            raise ValueError(
                f"{path} is {width}x{height} px ({width * height / 1e6:.0f} MP), over the input limit of "
                f"{max_pixels / 1e6:.0f} MP; downscale it, or raise the limit (fpliif parse --max-megapixels, "
                "or load_image(max_pixels=...))")
        yield im


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    width, height = im.size
    try:
        orientation = im.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError):  # a damaged EXIF block: load_image will say what is wrong
        orientation = 1
    return (width, height) if orientation in _TRANSPOSED else (height, width)


def list_images(folder: Path, recursive: bool = False, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """The files in ``folder`` (and its sub-folders with ``recursive``) whose extension is in ``extensions``,
    sorted."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in Path(folder).glob(pattern) if p.suffix.lower() in extensions and p.is_file())


def to_tensor(image) -> torch.Tensor:
    """Any supported image -> ``3 x H x W`` float32 in [0, 1].

    Accepts a path, a PIL image (RGB, RGBA, L, LA, P, 1, CMYK, I;16, I, F), a numpy array ``H x W``,
    ``H x W x C`` (C = 1, 3 or 4; uint8, uint16 or float in [0, 1]) or a tensor ``C x H x W``
    (C = 1, 3 or 4; uint8 or float in [0, 1]). Alpha is composited over white.
    """
    if isinstance(image, (str, Path)):
        image = load_image(image)
    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"a numpy image must be H x W or H x W x C (channels last), got shape {image.shape}")
        _check_channels(arr.shape[2], image.shape, "a numpy image", "H x W x C (channels last)",
                        "array.transpose(1, 2, 0)", arr.shape[0])
        return _from_channels(torch.from_numpy(_scale_array(arr)).permute(2, 0, 1))
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 3:
            raise ValueError(f"a tensor image must be C x H x W (channels first), got shape {tuple(image.shape)}")
        _check_channels(t.shape[0], tuple(image.shape), "a tensor image", "C x H x W (channels first; a batch "
                        "B x C x H x W)", "tensor.permute(2, 0, 1) (a batch: .permute(0, 3, 1, 2))", t.shape[2])
        if not t.is_floating_point():  # uint8, uint16, int32, bool: scaled like the same numpy array
            return _from_channels(torch.from_numpy(_scale_array(t.numpy())))
        return _from_channels(_check_float_range(t.float()))
    raise TypeError(f"unsupported image type {type(image).__name__}; give a path, PIL image, numpy array or tensor")


def to_uint8(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape, tensor or array) -> uint8 in 0..255, rounded to the nearest level.

    Converted in blocks, so a large mask needs little memory beyond the result.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().float().numpy()
    values = np.asarray(values, dtype=np.float32)
    if not values.flags.c_contiguous:
        values = values.copy()
    out = np.empty(values.shape, dtype=np.uint8)
    flat, flat_out = values.reshape(-1), out.reshape(-1)
    for start in range(0, flat.size, _CHUNK):
        block = flat[start:start + _CHUNK] * np.float32(255)
        block += np.float32(0.5)
        flat_out[start:start + _CHUNK] = np.clip(block, 0, 255, out=block)
    return out


def to_pil(image: torch.Tensor | np.ndarray) -> Image.Image:
    """A ``3 x H x W`` image or an ``H x W`` mask in [0, 1] -> an 8-bit RGB or greyscale (``L``) PIL image."""
    if image.ndim == 3:
        image = image.permute(1, 2, 0) if isinstance(image, torch.Tensor) else image.transpose(1, 2, 0)
    return Image.fromarray(to_uint8(image), mode="RGB" if image.ndim == 3 else "L")


def _scale_array(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535
    if arr.dtype in (np.float16, np.float32, np.float64):
        return _check_float_range(torch.from_numpy(arr.astype(np.float32))).numpy()
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr.astype(np.float32) / (255 if arr.max(initial=0) <= 255 else 65535), 0, 1)
    raise ValueError(f"unsupported image dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")


def _check_channels(channels: int, shape: tuple, what: str, layout: str, fix: str, other: int) -> None:
    """A clear error when the channel axis holds no 1-4 channels, saying which layout was expected."""
    if 1 <= channels <= 4:
        return
    hint = f"; it looks like the other layout: use {fix}" if 1 <= other <= 4 else ""
    raise ValueError(f"{what} must be {layout} with 1-4 channels, got shape {shape}: {channels} channels{hint}")


def _check_float_range(t: torch.Tensor) -> torch.Tensor:
    """Clamp a float image to [0, 1]; values far outside mean another convention, which would parse as noise, and
    NaN or infinite values would parse as a silent all-background result."""
    bad = int((~torch.isfinite(t)).sum()) if t.numel() else 0
    if bad:
        raise ValueError(f"the image has {bad} NaN or infinite value(s) of {t.numel()}; fix or replace them "
                         "(e.g. torch.nan_to_num) before parsing")
    if t.numel() and (t.max() > 1.5 or t.min() < -0.5):
        raise ValueError(
            f"a float image must hold values in [0, 1], got {float(t.min()):.3g}..{float(t.max()):.3g}; "
            "divide 0-255 images by 255, or undo the normalisation (the model normalises by itself)"
        )
    return t.clamp(0, 1)


def _from_pil(im: Image.Image) -> torch.Tensor:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im)
        if im.mode == "F":
            arr = _check_float_range(torch.from_numpy(arr.astype(np.float32))).numpy()
        else:
            arr = np.clip(arr.astype(np.float32) / 65535, 0, 1)
        return _from_channels(torch.from_numpy(arr)[None])
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGB")
    arr = np.asarray(im, dtype=np.float32) / 255
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return _from_channels(torch.from_numpy(arr).permute(2, 0, 1))


def _from_channels(t: torch.Tensor) -> torch.Tensor:
    c = t.shape[0]
    if c in (2, 4):  # grey+alpha or RGB+alpha: composite over white
        alpha = t[-1:].clamp(0, 1)
        t = t[:-1] * alpha + (1 - alpha)
        c -= 1
    if c == 1:
        t = t.expand(3, -1, -1)
    elif c != 3:
        raise ValueError(f"an image needs 1, 2, 3 or 4 channels, got {c}")
    if t.shape[1] < 2 or t.shape[2] < 2:
        raise ValueError(f"image is too small to parse: {t.shape[1]}x{t.shape[2]} pixels")
    return t.float().contiguous()


@dataclass(frozen=True)
class PadBox:
    """Where the original ``height x width`` image sits inside its padded square of side ``side``."""

    top: int
    left: int
    height: int
    width: int
    side: int

    def query_coords(self, out_h: int, out_w: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """Pixel-centre coordinates (``(y, x)`` in the padded square's [-1, 1]) of an ``out_h x out_w`` grid
        covering the original image only: ``(out_h*out_w) x 2``."""
        ys = ((torch.arange(out_h, device=device, dtype=torch.float64) + 0.5) * (self.height / out_h) + self.top)
        xs = ((torch.arange(out_w, device=device, dtype=torch.float64) + 0.5) * (self.width / out_w) + self.left)
        ys, xs = ys * 2 / self.side - 1, xs * 2 / self.side - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)
        return grid.reshape(-1, 2).to(dtype)


def pad_to_square(image: torch.Tensor) -> tuple[torch.Tensor, PadBox]:
    """Centre ``3 x H x W`` in a black square (black borders are what the training augmentation shows)."""
    _, h, w = image.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    padded = F.pad(image, (left, side - w - left, top, side - h - top), value=0.0)
    return padded, PadBox(top, left, h, w, side)


def colorize(labels: torch.Tensor | np.ndarray, colors: list[tuple[int, int, int]]) -> np.ndarray:
    """Label map ``H x W`` -> colour image ``H x W x 3`` uint8."""
    lab = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    palette = np.asarray(colors, dtype=np.uint8)
    return palette[np.clip(lab, 0, len(palette) - 1)]


def blend(image: np.ndarray, color: np.ndarray, alpha: float = 0.5, keep: np.ndarray | None = None) -> np.ndarray:
    """Alpha-blend a colour map over an image (both ``H x W x 3`` uint8); ``keep`` pixels stay as the image.

    Blended in blocks of rows, so a large picture needs little memory beyond the result.
    """
    out = np.empty(np.broadcast_shapes(image.shape, color.shape), dtype=np.uint8)
    rows = max(1, _CHUNK // max(1, out[0].size))
    for top in range(0, out.shape[0], rows):
        part = slice(top, top + rows)
        mixed = image[part].astype(np.float32) * (1 - alpha) + color[part].astype(np.float32) * alpha
        mixed += 0.5
        out[part] = np.clip(mixed, 0, 255, out=mixed)
        if keep is not None:
            out[part][keep[part]] = image[part][keep[part]]
    return out
