"""Videos and animated GIFs through ``fpliif parse`` and ``FaceParser.parse_frames``: per-frame outputs, frame
counts, ``--video-out`` at the input's frame rate, corrupt files named, and the message when PyAV is absent."""

import sys
from fractions import Fraction

import numpy as np
import pytest
from conftest import face_image, tiny_model
from PIL import Image

from fpliif import FaceParser
from fpliif.cli import main
from fpliif.video import FrameReader


def parse(*args, model_dir) -> int:
    return main(["parse", *map(str, args), "--model", str(model_dir), "--quiet"])


def write_gif(path, frames=4, height=48, width=40):
    """An animated GIF (or WebP, by the suffix) at 5 frames per second."""
    images = [face_image(height, width, seed=i) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=200, loop=0)
    return path


def write_video(path, frames=5, height=48, width=40, fps=8):
    """A tiny MPEG-4 clip written with PyAV directly (not with the code under test)."""
    av = pytest.importorskip("av")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.asarray(face_image(height, width, seed=i)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def video_frames(path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream.average_rate


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animated_gif_gives_one_set_per_frame(tmp_path, tiny_model_dir, capsys, suffix):
    gif = write_gif(tmp_path / f"anim{suffix}", frames=4)
    out = tmp_path / "out"
    assert parse(gif, "--out", out, "--save", "index,color", "--batch-size", "3", model_dir=tiny_model_dir) == 0
    names = sorted(p.name for p in (out / "anim").iterdir())
    assert names == [f"anim_{i:05d}_{k}.png" for i in range(4) for k in ("color", "index")]
    assert Image.open(out / "anim" / "anim_00003_index.png").size == (40, 48)
    assert "with 4 video frames" in capsys.readouterr().err


def test_frame_reader_counts_rate_and_rotation(tmp_path):
    with FrameReader(write_gif(tmp_path / "anim.gif", frames=3)) as frames:
        assert (frames.count, frames.fps) == (3, Fraction(5))
        assert [im.size for im in frames] == [(40, 48)] * 3
    av = pytest.importorskip("av")
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        if not hasattr(stream, "set_display_rotation"):
            pytest.skip("this PyAV cannot write a display rotation")
        stream.set_display_rotation(-90)  # as phones store portrait clips: turn 90 degrees clockwise to show
        array = np.zeros((32, 48, 3), np.uint8)
        array[:8, :8] = 255  # a white top-left corner
        for packet in [*stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")), *stream.encode()]:
            container.mux(packet)
    with FrameReader(path) as frames:
        shown = np.asarray(next(iter(frames)))[..., 0]
    assert shown.shape == (48, 32) and shown[2, 29] > 128 and shown[2, 2] < 128  # now the top-right corner


def test_still_gif_is_an_image(tmp_path, tiny_model_dir):
    face_image(20, 24).save(tmp_path / "still.gif")
    out = tmp_path / "out"
    assert parse(tmp_path / "still.gif", "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["still_index.png"]


def test_video_frames_masks_and_video_out(tmp_path, tiny_model_dir):
    clip = write_video(tmp_path / "clip.mp4", frames=5, fps=8)
    out = tmp_path / "out"
    code = parse(clip, "--out", out, "--labels", "hair", "--save", "mask", "--video-out", "overlay,mask",
                 "--batch-size", "2", "--scale", "2", model_dir=tiny_model_dir)
    assert code == 0
    masks = sorted((out / "clip").glob("clip_*_mask_hair.png"))
    assert [p.name for p in masks] == [f"clip_{i:05d}_mask_hair.png" for i in range(5)]
    assert Image.open(masks[0]).size == (80, 96)
    for kind in ("overlay", "mask_hair"):
        frames, rate = video_frames(out / "clip" / f"clip_{kind}.mp4")
        assert len(frames) == 5 and rate == Fraction(8) and frames[0].shape == (96, 80, 3)


def test_save_none_writes_only_the_video(tmp_path, tiny_model_dir):
    clip = write_video(tmp_path / "clip.mp4", frames=3, height=33, width=41)  # odd sides are padded for yuv420p
    out = tmp_path / "out"
    assert parse(clip, "--out", out, "--save", "none", "--video-out", "color", model_dir=tiny_model_dir) == 0
    assert [p.name for p in (out / "clip").iterdir()] == ["clip_color.mp4"]
    frames, _ = video_frames(out / "clip" / "clip_color.mp4")
    assert len(frames) == 3 and frames[0].shape[:2] == (34, 42)


def test_corrupt_video_is_named_and_the_rest_finish(tmp_path, tiny_model_dir, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"not a video at all" * 8)
    face_image(20, 20).save(folder / "face.png")
    write_gif(folder / "anim.gif", frames=2)
    out = tmp_path / "out"
    assert parse(folder, "--out", out, "--save", "index", model_dir=tiny_model_dir) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "2 parsed (with 2 video frames), 1 failed" in err
    assert (out / "face_index.png").is_file() and (out / "anim" / "anim_00001_index.png").is_file()


def test_outputs_in_the_input_folder_are_not_reparsed(tmp_path, tiny_model_dir):
    write_gif(tmp_path / "anim.gif", frames=2)
    out = tmp_path / "parsed"
    for _ in range(2):
        assert parse(tmp_path, "-r", "--out", out, "--save", "index", model_dir=tiny_model_dir) == 0
    assert sorted(p.name for p in out.rglob("*.png")) == ["anim_00000_index.png", "anim_00001_index.png"]


def test_without_pyav_videos_fail_by_name_with_the_fix(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 64)
    out = tmp_path / "out"
    assert parse(tmp_path / "clip.mp4", "--out", out, model_dir=tiny_model_dir) == 1
    assert "clip.mp4: reading videos needs PyAV: pip install 'fpliif[video]'" in capsys.readouterr().err
    write_gif(tmp_path / "anim.gif", frames=2)
    assert parse(tmp_path / "anim.gif", "--out", out, "--video-out", "overlay", model_dir=tiny_model_dir) == 2
    assert "pip install 'fpliif[video]'" in capsys.readouterr().err


@pytest.mark.parametrize("args, match", [
    (["--save", "none"], "writes nothing"),
    (["--video-out", "mask"], "needs --labels"),
])
def test_video_usage_errors(tmp_path, tiny_model_dir, capsys, args, match):
    gif = write_gif(tmp_path / "anim.gif", frames=2)
    assert parse(gif, "--out", tmp_path / "out", *args, model_dir=tiny_model_dir) == 2
    assert match in capsys.readouterr().err


def test_video_out_needs_a_video(tmp_path, tiny_model_dir, capsys):
    face_image(20, 20).save(tmp_path / "face.png")
    assert parse(tmp_path / "face.png", "--out", tmp_path / "o", "--video-out", "overlay",
                 model_dir=tiny_model_dir) == 2
    assert "needs a video" in capsys.readouterr().err


def test_parse_frames_streams_in_batches():
    parser = FaceParser(tiny_model(), device="cpu")
    frames = [face_image(36, 30, seed=i) for i in range(5)]
    pulled = []

    def stream():
        for i, frame in enumerate(frames):
            pulled.append(i)
            yield frame

    results = parser.parse_frames(stream(), batch_size=2)
    first = next(results)
    assert len(pulled) == 2  # only one batch was read to give the first result
    rest = list(results)
    assert len(rest) == 4 and len(pulled) == 5
    alone = parser(frames, batch_size=5)
    for got, want in zip([first, *rest], alone):
        assert got.size == (36, 30)
        assert np.array_equal(got.label_map(), want.label_map())
