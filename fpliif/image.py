"""Image input and output: loading any common image form, padding to square, colour maps and overlays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["load_image", "list_images", "to_tensor", "to_uint8", "to_pil", "pad_to_square", "PadBox", "colorize",
           "blend", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def load_image(path: str | Path) -> Image.Image:
    """Open an image file with its EXIF orientation applied; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path} is not a readable image ({e}); is the file complete and an image?") from e


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
            raise ValueError(f"a numpy image must be H x W or H x W x C, got shape {image.shape}")
        return _from_channels(torch.from_numpy(_scale_array(arr)).permute(2, 0, 1))
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 3:
            raise ValueError(f"a tensor image must be C x H x W, got shape {tuple(image.shape)}")
        if not t.is_floating_point():  # uint8, uint16, int32, bool: scaled like the same numpy array
            return _from_channels(torch.from_numpy(_scale_array(t.numpy())))
        return _from_channels(_check_float_range(t.float()))
    raise TypeError(f"unsupported image type {type(image).__name__}; give a path, PIL image, numpy array or tensor")


def to_uint8(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape, tensor or array) -> uint8 in 0..255, rounded to the nearest level."""
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    return (np.asarray(values, dtype=np.float32) * 255 + 0.5).clip(0, 255).astype(np.uint8)


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


def _check_float_range(t: torch.Tensor) -> torch.Tensor:
    """Clamp a float image to [0, 1]; values far outside mean another convention, which would parse as noise."""
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
            arr = np.clip(arr, 0, 1).astype(np.float32)
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
    """Alpha-blend a colour map over an image (both ``H x W x 3`` uint8); ``keep`` pixels stay as the image."""
    out = image.astype(np.float32) * (1 - alpha) + color.astype(np.float32) * alpha
    if keep is not None:
        out[keep] = image[keep]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
