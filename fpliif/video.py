"""Frames in and out: animated GIF/WebP through Pillow, videos through PyAV (the optional ``video`` extra).

Frames are read and written one at a time, so a video of any length needs the memory of a few frames only.

>>> with FrameReader("clip.mp4") as frames:            # or an animated .gif / .webp
...     for result in parser.parse_frames(frames, batch_size=8):
...         ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["FrameReader", "VideoWriter", "is_video", "is_animated", "frame_size", "import_av", "VIDEO_EXTENSIONS",
           "ANIMATED_EXTENSIONS", "AV_MISSING"]

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm")
ANIMATED_EXTENSIONS = (".gif", ".webp")  # frame sequences when animated, plain images otherwise
AV_MISSING = "reading videos needs PyAV: pip install 'fpliif[video]'"
DEFAULT_GIF_FPS = Fraction(10)  # browsers show a GIF frame without a delay for 100 ms
_ROTATE = {90: Image.Transpose.ROTATE_90, -90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
           -180: Image.Transpose.ROTATE_180}


def import_av():
    """The ``av`` module (PyAV), imported on first use; ``ImportError`` saying how to install it if absent."""
    try:
        import av
    except ImportError as e:
        raise ImportError(AV_MISSING) from e
    return av


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video container by its extension (``.mp4``, ``.mov``, ``.avi``, ``.mkv``, ``.webm``)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def is_animated(path: str | Path) -> bool:
    """Whether ``path`` is a readable GIF or WebP with more than one frame (a still one is an ordinary image)."""
    path = Path(path)
    if path.suffix.lower() not in ANIMATED_EXTENSIONS or not path.is_file():
        return False
    try:
        with Image.open(path) as im:
            return bool(getattr(im, "is_animated", False))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False  # read as an image, whose loader names the problem


def frame_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of a video's or animation's frames as stored (before any display rotation), read from
    the file's header without decoding a frame.

    Raises:
        FileNotFoundError, ValueError, ImportError: as :class:`FrameReader`.
    """
    with FrameReader(path) as reader:
        if reader._stream is not None:
            return reader._stream.codec_context.height, reader._stream.codec_context.width
        width, height = reader._image.size
        return height, width


class FrameReader:
    """The frames of a video or an animated GIF/WebP, one RGB PIL image at a time, in display orientation.

    Attributes:
        path: the file.
        fps: frames per second (a ``Fraction``; a GIF's from its first frame's delay).
        count: number of frames if the file says, else ``None``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable video or animation (also while iterating, naming the frame).
        ImportError: a video was given and PyAV is not installed.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video {self.path} does not exist")
        self._container = self._stream = self._image = None
        self.fps: Fraction = DEFAULT_GIF_FPS
        self.count: int | None = None
        if is_video(self.path):
            self._open_video()
        else:
            self._open_animation()

    def _open_video(self) -> None:
        av = import_av()
        try:
            self._container = av.open(str(self.path))
            if not self._container.streams.video:
                raise ValueError("it has no video stream")
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, OSError, ValueError) as e:
            self.close()
            raise ValueError(f"{self.path} is not a readable video ({e}); is the file complete and a video?") from e
        self._stream.thread_type = "AUTO"
        self.fps = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        self.count = self._stream.frames or None

    def _open_animation(self) -> None:
        try:
            self._image = Image.open(self.path)
            self.count = getattr(self._image, "n_frames", 1)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            self.close()
            raise ValueError(f"{self.path} is not a readable animation ({e}); is the file complete?") from e
        delay = self._image.info.get("duration") or 0
        self.fps = Fraction(1000, int(delay)) if delay >= 1 else DEFAULT_GIF_FPS

    def __iter__(self) -> Iterator[Image.Image]:
        frames = self._video_frames() if self._container is not None else self._animation_frames()
        index = 0
        try:
            for frame in frames:
                yield frame
                index += 1
        except (OSError, ValueError, SyntaxError) as e:
            raise ValueError(f"{self.path}: frame {index} could not be decoded ({e}); is the file complete?") from e

    def _video_frames(self) -> Iterator[Image.Image]:
        av = import_av()
        try:
            for frame in self._container.decode(self._stream):
                image = frame.to_image()
                rotation = round(getattr(frame, "rotation", 0) or 0)
                yield image.transpose(_ROTATE[rotation]) if rotation in _ROTATE else image
        except av.FFmpegError as e:
            raise ValueError(str(e)) from e

    def _animation_frames(self) -> Iterator[Image.Image]:
        for i in range(self.count or 1):
            self._image.seek(i)
            yield self._image.convert("RGB")

    def close(self) -> None:
        for handle in (self._container, self._image):
            if handle is not None:
                handle.close()
        self._container = self._image = None

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Encode RGB frames into an ``.mp4`` (H.264 where PyAV has it, else MPEG-4) at ``fps``, one at a time.

    The file appears only when :meth:`close` succeeds (written under a temporary name, then renamed;
    ``before_replace(tmp)`` runs just before the rename, e.g. to record the file).
    Odd frame sizes are padded by one edge pixel, as the ``yuv420p`` pixel format needs even sides.

    >>> with VideoWriter("overlay.mp4", fps=30) as video:
    ...     video.write(image)          # PIL image or H x W x 3 uint8 array
    """

    def __init__(self, path: str | Path, fps: float | Fraction, before_replace: Callable[[Path], None] | None = None):
        self.av = import_av()
        self.path = Path(path)
        self.before_replace = before_replace  # called with the complete temporary file before it takes its name
        self.fps = Fraction(fps).limit_denominator(100000)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._container = self._stream = None
        self.frames = 0

    def write(self, image: Image.Image | np.ndarray) -> None:
        """Append one frame; the first frame fixes the video's size."""
        array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.uint8)
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        array = np.pad(array, ((0, array.shape[0] % 2), (0, array.shape[1] % 2), (0, 0)), mode="edge")
        if self._stream is None:
            self._open(array.shape[1], array.shape[0])
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        codec = "libx264" if "libx264" in self.av.codecs_available else "mpeg4"
        self._container = self.av.open(str(self.tmp), mode="w", format="mp4")
        options = {"crf": "18"} if codec == "libx264" else {}
        self._stream = self._container.add_stream(codec, rate=self.fps, options=options)
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.time_base = 1 / self.fps

    def close(self, keep: bool = True) -> None:
        """Flush the encoder and move the file into place (``keep=False``: discard it)."""
        if self._container is None:
            return
        try:
            if keep:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            self._container.close()
            if keep:
                if self.before_replace is not None:
                    self.before_replace(self.tmp)
                os.replace(self.tmp, self.path)
        finally:
            self._container = None
            if self.tmp.exists():
                self.tmp.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(keep=exc_type is None)
