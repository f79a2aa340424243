"""The Gradio demo: its request function, the app through gradio_client on loopback, and once in headless
Chromium (driven through chromedriver's WebDriver HTTP API) with a screenshot check that the result appears."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import example_photo, free_port, tiny_model
from PIL import Image

import fpliif
from fpliif.cli import main as cli_main

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gradio = pytest.importorskip("gradio")
from webdriver import CHROMEDRIVER, CHROMIUM, chromium_session  # noqa: E402

from fpliif.demo import build_demo, parse_for_demo  # noqa: E402


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


def test_parse_for_demo_outputs(parser, sample):
    overlay, color_map, mask, files, (image, sections) = parse_for_demo(parser, str(sample), 128, ["hair", "lips"])
    assert overlay.size == color_map.size == mask.size == (128, 128) and mask.mode == "L"
    assert [Path(f).name for f in files] == ["fpliif_overlay.png", "fpliif_color_map.png", "fpliif_mask.png"]
    assert Image.open(files[2]).mode == "L"
    assert image.size == (128, 128) and sections and all(m.shape == (128, 128) for m, _ in sections)
    assert sum(m.sum() for m, _ in sections) <= 128**2  # sections do not overlap
    _, _, empty, _, _ = parse_for_demo(parser, str(sample), 0, [], soft=False, zoom_to_face=True)
    assert empty.size == (96, 96) and np.asarray(empty).max() == 0
    with pytest.raises(ValueError, match="upload"):
        parse_for_demo(parser, None)


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
    overlay, color_map, mask, files, sections = client.predict(
        handle_file(str(sample)), 64, ["hair", "face"], True, False, 2.0, api_name="/parse")
    for path in (overlay, color_map, mask):
        assert Path(path).suffix == ".png" and Image.open(path).size == (64, 64)
    assert Image.open(mask).mode == "L"
    assert len(files) == 3 and sections["annotations"]


RESULT_BOX_JS = """
const out = [...document.querySelectorAll('.block')].filter(b => /overlay/.test(b.innerText || ''));
for (const block of out) {
  const img = block.querySelector('img');
  if (img && img.complete && img.naturalWidth > 0) {
    img.scrollIntoView({block: 'center'});
    const r = img.getBoundingClientRect();
    return [r.left, r.top, r.width, r.height, img.naturalWidth, window.devicePixelRatio];
  }
}
return null;"""


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
        shot = driver.screenshot()
    shot.save(tmp_path / "demo.png")
    left, top, width, height, natural_width, ratio = box
    assert natural_width == 96 and width > 20 and height > 20
    crop = np.asarray(shot.crop((int(left * ratio), int(top * ratio), int((left + width) * ratio),
                                 int((top + height) * ratio))), dtype=np.float32)
    assert crop.std() > 10, "the result area of the screenshot is blank"
