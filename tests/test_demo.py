"""The Gradio demo: its request function, the app through gradio_client on loopback, and once in headless
Chromium (driven through chromedriver's WebDriver HTTP API) with a screenshot check that the result appears."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, example_photo, free_port, tiny_model
from PIL import Image

import fpliif
from fpliif.cli import main as cli_main

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gradio = pytest.importorskip("gradio")
from webdriver import CHROMEDRIVER, CHROMIUM, chromium_session  # noqa: E402

from fpliif.demo import DownloadFolder, LastParse, build_demo, parse_for_demo, weights_licence  # noqa: E402
from fpliif.demo import launch as launch_demo  # noqa: E402


@pytest.fixture(scope="module")
def parser():
    return fpliif.FaceParser(tiny_model(), device="cpu")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A small copy of the example photo (keeps the tests fast)."""
    return example_photo(tmp_path_factory.mktemp("demo") / "face.png", 96)


@pytest.fixture(scope="module")
def server(parser, sample):
    demo = build_demo(parser, examples=[str(sample)])
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, share=False, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_parse_for_demo_outputs(parser, sample, tmp_path):
    downloads = DownloadFolder()
    out = parse_for_demo(parser, str(sample), 128, ["hair", "lips"], downloads=downloads)
    assert out.overlay.size == out.outline.size == out.color_map.size == out.mask_view.size == (128, 128)
    assert out.mask.size == (128, 128) and out.mask.mode == "L"
    names = [Path(f).name for f in out.files]
    assert names == ["fpliif_overlay.png", "fpliif_outline.png", "fpliif_color.png", "fpliif_mask.png",
                     "fpliif_index.png", "fpliif_labels.txt"]
    index = np.asarray(Image.open(out.files[4]))
    assert index.dtype == np.uint8 and index.shape == (128, 128) and index.max() < 19  # pixel = class id
    assert "1\tskin\tskin\t#00b4a0" in Path(out.files[5]).read_text()
    image, sections = out.sections
    assert image.size == (128, 128) and sections and all(m.shape == (128, 128) for m, _ in sections)
    assert sum(m.sum() for m, _ in sections) <= 128**2  # sections do not overlap
    assert {name for _, name in sections} <= set(fpliif.CELEBAMASK_HQ.display_names)
    empty = parse_for_demo(parser, str(sample), 0, [], soft=False, faces="whole image", downloads=downloads)
    assert empty.mask.size == (96, 96) and np.asarray(empty.mask).max() == 0
    assert "whole image" in empty.info
    with pytest.raises(ValueError, match="upload"):
        parse_for_demo(parser, None)
    with pytest.raises(ValueError, match="no face 2"):
        parse_for_demo(parser, str(sample), 0, ["hair"], faces="whole image", face_numbers="2", downloads=downloads)


def test_requests_leave_no_temp_folders(parser, sample):
    """Issue 11: one folder for the demo, holding the last few requests' files; none left per request."""
    before = set(Path(tempfile.gettempdir()).glob("fpliif-demo-*"))
    downloads = DownloadFolder(keep=2)
    for _ in range(4):
        parse_for_demo(parser, str(sample), 48, ["hair"], downloads=downloads)
    assert set(Path(tempfile.gettempdir()).glob("fpliif-demo-*")) - before == {downloads.path}
    assert len(list(downloads.path.iterdir())) == 2
    downloads.cleanup()
    assert not downloads.path.exists()


def test_faces_numbered_and_chosen(parser, tmp_path):
    astronaut = Image.open(ROOT / "examples" / "astronaut.png").convert("RGB")
    canvas = Image.new("RGB", (384, 256), (120, 130, 140))
    for x, y, side in ((8, 40, 180), (200, 70, 120)):
        canvas.paste(astronaut.resize((side, side)), (x, y))
    downloads = DownloadFolder()
    every = parse_for_demo(parser, canvas, 0, ["person"], soft=False, downloads=downloads)
    assert "2 face(s)" in every.info
    first = parse_for_demo(parser, canvas, 0, ["person"], soft=False, face_numbers="0", downloads=downloads)
    second = parse_for_demo(parser, canvas, 0, ["person"], soft=False, face_numbers="1", downloads=downloads)
    m0, m1, m = (np.asarray(o.mask, dtype=np.int32) for o in (first, second, every))
    assert m0.sum() > m1.sum() > 0 and np.array_equal(m0 + m1, m)
    plain = parse_for_demo(parser, canvas, 0, [], faces="whole image", downloads=downloads)
    assert not np.array_equal(np.asarray(every.overlay), np.asarray(plain.overlay))  # boxes and numbers drawn
    with pytest.raises(ValueError, match="face numbers"):
        parse_for_demo(parser, canvas, 0, ["hair"], face_numbers="left", downloads=downloads)


def test_changing_only_the_mask_reuses_the_parse(parser, sample):
    calls = []

    class Counting:
        def __call__(self, *args, **kwargs):
            calls.append(kwargs)
            return parser(*args, **kwargs)

    counting, last, downloads = Counting(), LastParse(), DownloadFolder()
    hair = parse_for_demo(counting, str(sample), 0, ["hair"], downloads=downloads, last=last)
    skin = parse_for_demo(counting, str(sample), 0, ["skin"], soft=False, downloads=downloads, last=last)
    assert len(calls) == 1 and hair.mask.tobytes() != skin.mask.tobytes()
    parse_for_demo(counting, str(sample), 64, ["skin"], downloads=downloads, last=last)
    assert len(calls) == 2  # a new size is a new parse


def test_licence_of_the_weights_is_read_from_the_model_card():
    assert "non-commercial" in weights_licence()
    assert "not stated" in weights_licence(str(ROOT / "tests"))


def test_launch_prints_no_share_hint(capsys, monkeypatch):
    port = free_port()
    demo = launch_demo(port=port, device="cpu", block=False)
    try:
        printed = capsys.readouterr().out
    finally:
        demo.close()
    assert f"http://127.0.0.1:{port}" in printed and "share" not in printed.lower()


def test_cli_demo_without_gradio_says_how_to_install(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    assert cli_main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "fpliif[demo]" in err


def test_demo_through_gradio_client(server, sample):
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    overlay, outline, color_map, mask_over, mask, files, sections, info = client.predict(
        handle_file(str(sample)), 64, ["face"], ["hair"], True, "auto", "all", 2.0, api_name="/parse")
    for path in (overlay, outline, color_map, mask_over, mask):
        assert Path(path).suffix == ".png" and Image.open(path).size == (64, 64)
    assert Image.open(mask).mode == "L"
    assert len(files) == 6 and sections["annotations"] and info


RESULT_BOX_JS = """
const out = [...document.querySelectorAll('.block')].filter(b => /overlay/.test(b.innerText || ''));
for (const block of out) {
  const img = block.querySelector('img');
  if (img && img.complete && img.naturalWidth > 0) {
    const r = img.getBoundingClientRect();
    return [r.left, r.top, r.width, r.height, img.naturalWidth, window.devicePixelRatio];
  }
}
return null;"""

PAGE_JS = """
const examples = document.querySelector('#fpliif-examples');
const chip = (k) => getComputedStyle(document.querySelector(`#fpliif-labels label:nth-of-type(${k}) span`),
                                     '::before').backgroundColor;
return {text: document.body.innerText,
        examples_bottom: examples ? Math.max(...[...examples.querySelectorAll('img')].map(
            i => i.getBoundingClientRect().bottom)) : null,
        chips: [chip(1), chip(13)],
        labels: [...document.querySelectorAll('#fpliif-labels label span')].map(e => e.innerText.trim())};"""


@pytest.mark.skipif(not Path(CHROMIUM).is_file() or not Path(CHROMEDRIVER).is_file(),
                    reason="headless check needs Debian's chromium and chromium-driver")
def test_demo_in_headless_chromium_shows_result(server, tmp_path):
    with chromium_session(free_port()) as driver:
        driver.get(server)
        box = None
        deadline = time.monotonic() + 60
        while box is None and time.monotonic() < deadline:  # the preloaded example is parsed on page load
            box = driver.script(RESULT_BOX_JS)
            time.sleep(0.5)
        assert box is not None, "the overlay image never appeared"
        time.sleep(0.5)
        box = driver.script(RESULT_BOX_JS)
        page = driver.script(PAGE_JS)
        shot = driver.screenshot()
    shot.save(tmp_path / "demo.png")
    left, top, width, height, natural_width, ratio = box
    assert natural_width == 96 and width > 20 and height > 20
    crop = np.asarray(shot.crop((int(left * ratio), int(top * ratio), int((left + width) * ratio),
                                 int((top + height) * ratio))), dtype=np.float32)
    assert crop.std() > 10, "the result area of the screenshot is blank"
    assert page["examples_bottom"] is not None and page["examples_bottom"] < 720, "examples need scrolling"
    assert "Licence of the weights" in page["text"] and "non-commercial" in page["text"]
    assert "share=True" not in page["text"]
    assert page["labels"][:4] == ["skin", "nose", "eyeglasses", "left eye (person's left)"]
    assert page["chips"] == ["rgb(0, 180, 160)", "rgb(120, 60, 255)"]  # skin and hair, in the palette's colours
    assert "mask over the photo" in page["text"] and "index map" in page["text"]
