"""FaceParser: every input kind, output sizes, non-square images without distortion, masks, colour maps."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import face_image, tiny_model
from PIL import Image

from fpliif import FaceParser
from fpliif.image import PadBox, pad_to_square, to_tensor
from fpliif.parser import output_size


@pytest.fixture
def parser(device):
    return FaceParser(tiny_model(), device=device, faces="none")  # whole images: face mode is tested below


def _input_kinds(tmp_path):
    rgb = face_image(30, 40)
    arr = np.asarray(rgb)
    path = tmp_path / "face.png"
    rgb.save(path)
    grey16 = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    assert grey16.mode in ("I;16", "I")
    return {
        "path": path,
        "path_str": str(path),
        "pil_rgb": rgb,
        "pil_rgba": rgb.convert("RGBA"),
        "pil_l": rgb.convert("L"),
        "pil_i16": grey16,
        "pil_p": rgb.convert("P"),
        "np_uint8": arr,
        "np_uint16": arr.astype(np.uint16) * 257,
        "np_float": arr.astype(np.float32) / 255,
        "np_grey": arr[..., 0],
        "tensor_float": torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255,
        "tensor_uint8": torch.from_numpy(arr.copy()).permute(2, 0, 1),
    }


def test_every_input_kind(parser, tmp_path):
    for kind, image in _input_kinds(tmp_path).items():
        result = parser(image)
        assert result.logits.shape == (19, 30, 40), kind
        assert result.label_map().shape == (30, 40), kind


def test_input_kinds_agree(tmp_path):
    kinds = _input_kinds(tmp_path)
    ref = to_tensor(kinds["pil_rgb"])
    for kind in ("path", "np_uint8", "np_uint16", "np_float", "tensor_float", "tensor_uint8", "pil_rgba"):
        torch.testing.assert_close(to_tensor(kinds[kind]), ref, atol=1e-4, rtol=0, msg=kind)
    grey = to_tensor(kinds["pil_i16"])
    assert grey.shape == (3, 30, 40) and 0 <= grey.min() and grey.max() <= 1
    torch.testing.assert_close(grey, to_tensor(kinds["pil_l"]), atol=1e-4, rtol=0)


def test_integer_tensors_are_scaled_and_float_range_checked():
    ints = torch.randint(0, 256, (3, 8, 8), dtype=torch.int32)
    torch.testing.assert_close(to_tensor(ints), ints.float() / 255)
    with pytest.raises(ValueError, match="divide 0-255 images by 255"):
        to_tensor(torch.rand(3, 8, 8) * 255)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_tensor(np.random.rand(8, 8, 3).astype(np.float32) * 2 - 1)
    assert to_tensor(np.full((8, 8, 3), 1.02, np.float32)).max() == 1  # a small overshoot is clamped


def test_flipped_numpy_views():
    arr = np.asarray(face_image(10, 12))
    torch.testing.assert_close(to_tensor(arr[..., ::-1]), to_tensor(arr).flip(0))


def test_alpha_is_composited_over_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    assert to_tensor(rgba).min() == 1.0


def test_batch_tensor_and_list(parser):
    images = torch.rand(3, 3, 24, 32)
    results = parser(images, batch_size=2)
    assert len(results) == 3 and all(r.logits.shape == (19, 24, 32) for r in results)
    one = parser(images[1])
    torch.testing.assert_close(results[1].logits, one.logits, atol=1e-5, rtol=1e-5)
    mixed = parser([face_image(20, 30), np.asarray(face_image(40, 20))])
    assert [r.size for r in mixed] == [(20, 30), (40, 20)]


@pytest.mark.parametrize("hw", [(30, 50), (50, 30), (33, 33)])
def test_non_square_maps_back_without_distortion(hw, device):
    """The parse of an H x W image equals the model's parse of its padded square, cropped back."""
    model = tiny_model().to(device)
    parser = FaceParser(model, device=device, mode="dense", faces="none")  # every pixel, as model() does
    image = to_tensor(face_image(*hw))
    result = parser(image)
    assert result.size == hw
    padded, box = pad_to_square(image)
    square = F.interpolate(padded[None], size=(32, 32), mode="bicubic", antialias=True, align_corners=False)
    with torch.no_grad():
        full = model(square.clamp(0, 1).to(device), size=(box.side, box.side))[0].cpu()
    crop = full[:, box.top:box.top + box.height, box.left:box.left + box.width]
    torch.testing.assert_close(result.logits, crop, atol=1e-4, rtol=1e-4)


def test_pad_box_coordinates_cover_the_image_only():
    _, box = pad_to_square(torch.zeros(3, 20, 40))
    assert box == PadBox(top=10, left=0, height=20, width=40, side=40)
    coords = box.query_coords(20, 40).view(20, 40, 2)
    assert coords[..., 0].min() > -0.5 and coords[..., 0].max() < 0.5  # rows stay inside the image band
    assert coords[..., 1].min() > -1 and coords[..., 1].max() < 1


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), (30, 40)),
    (dict(size=80), (60, 80)),
    (dict(size=(25, 17)), (25, 17)),
    (dict(scale=2), (60, 80)),
    (dict(scale=0.5), (15, 20)),
    (dict(size=np.int64(80)), (60, 80)),
])
def test_output_size_options(parser, kwargs, expected):
    assert output_size((30, 40), **kwargs) == expected
    result = parser(face_image(30, 40), **kwargs)
    assert result.size == expected
    assert result.picture().shape == (*expected, 3)


def test_large_output(parser):
    assert parser(face_image(32, 32), size=2048).size == (2048, 2048)


def test_masks_soft_and_hard(parser):
    result = parser(face_image(30, 40))
    soft = result.mask("hair,face")
    hard = result.mask("hair,face", soft=False)
    assert soft.shape == hard.shape == (30, 40)
    assert 0 <= soft.min() and soft.max() <= 1
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    everything = result.mask(list(range(19)))
    torch.testing.assert_close(everything, torch.ones(30, 40))
    torch.testing.assert_close(result.probs.sum(0), torch.ones(30, 40))
    ids = result.label_set.resolve("hair,face")
    assert torch.equal(hard.bool(), torch.isin(result.labels, torch.tensor(ids)))


def test_color_map_and_overlay_sizes(parser):
    result = parser(face_image(30, 40), size=(45, 60))
    assert result.color_map().size == (60, 45) and result.color_map().mode == "RGB"
    assert result.overlay().size == (60, 45)
    label_map = result.label_map()
    assert label_map.dtype == np.uint8 and label_map.max() < 19


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((4, 4, 5), np.uint8), ValueError, "channels"),
    (np.zeros((2, 4, 4, 3), np.uint8), ValueError, "H x W"),
    (np.zeros((1, 1, 3), np.uint8), ValueError, "too small"),
    (np.zeros((8, 8, 3), np.complex64), ValueError, "dtype"),
    (torch.zeros(2, 2, 3, 8, 8), ValueError, "C x H x W"),
    ("no/such/face.jpg", FileNotFoundError, "does not exist"),
    (12, TypeError, "unsupported image type"),
])
def test_bad_inputs_are_clear(parser, bad, error, match):
    with pytest.raises(error, match=match):
        parser(bad)


def test_corrupt_file_names_itself(parser, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        parser(path)


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=10, scale=2), "not both"),
    (dict(scale=0), "scale"),
    (dict(size=(1, 2, 3)), "size"),
    (dict(size=(0, 5)), "positive"),
    (dict(size=0), "size"),
    (dict(size=100_000), "limit"),
])
def test_bad_sizes(parser, kwargs, match):
    with pytest.raises(ValueError, match=match):
        parser(face_image(20, 20), **kwargs)


def test_parser_dtype_and_label_set(tiny_model_dir):
    parser = FaceParser.from_pretrained(tiny_model_dir, device="cpu", dtype=torch.bfloat16)
    result = parser(face_image(20, 24))
    assert result.logits.dtype == torch.float32 and result.logits.shape == (19, 20, 24)
    assert result.label_set.name == "celebamask-hq"


def test_sixteen_bit_png_and_exif_orientation(tmp_path):
    grey = np.asarray(face_image(20, 30).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    loaded = to_tensor(tmp_path / "grey16.png")
    torch.testing.assert_close(loaded[0], torch.from_numpy(grey / 65535).float(), atol=1e-4, rtol=0)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    face_image(20, 30).save(tmp_path / "rotated.jpg", exif=exif)
    assert to_tensor(tmp_path / "rotated.jpg").shape == (3, 30, 20)


@pytest.fixture(scope="module")
def scene():
    """Two copies of the example portrait (public domain) on a plain 640 x 400 canvas, the right one turned."""
    face = Image.open(Path(__file__).parents[1] / "examples" / "astronaut.png").convert("RGB")
    canvas = Image.new("RGB", (640, 400), (90, 120, 100))
    canvas.paste(face.resize((200, 200), Image.BICUBIC), (40, 120))
    canvas.paste(face.resize((150, 150), Image.BICUBIC).rotate(20, fillcolor=(90, 120, 100)), (420, 60))
    return canvas


def test_faces_are_found_aligned_and_painted_back(scene):
    parser = FaceParser(tiny_model(), device="cpu")
    result = parser(scene)
    assert result.size == (400, 640) and len(result.faces) == 2 and result.how == "2 face(s)"
    big, small = result.faces  # largest first
    assert big.box[0] < 240 and small.box[0] > 400
    assert abs(small.alignment.angle + 20) < 8  # turned 20 degrees counter-clockwise on the canvas
    owner = result.owner
    assert (owner[:, :20] == 255).all() and (result.label_map()[:, :20] == 0).all()  # no face: background
    assert owner[220, 140] == big.region and owner[135, 495] == small.region
    only_small = result.mask("hair,skin", face=1)
    assert only_small[:, :300].max() == 0 and only_small[:, 400:].max() > 0
    # indices select faces; too large an index is named
    assert len(parser(scene, faces=[1]).faces) == 1 and len(parser(scene, faces="largest").faces) == 1
    with pytest.raises(ValueError, match="no face 5: 2 face"):
        parser(scene, faces=5)


def test_no_face_falls_back_to_the_whole_image():
    parser = FaceParser(tiny_model(), device="cpu")
    result = parser(np.full((60, 80, 3), 128, dtype=np.uint8))
    assert result.faces == [] and result.how == "no face found: parsed the whole image" and result.size == (60, 80)
    with pytest.raises(ValueError, match="no face 0"):
        result.mask("hair", face=0)
    with pytest.raises(ValueError, match="faces must be one of"):
        parser(np.zeros((8, 8, 3), dtype=np.uint8), faces="everyone")


def test_min_face_score_is_per_call(scene):
    parser = FaceParser(tiny_model(), device="cpu")
    scores = sorted(f.score for f in parser(scene).faces)
    assert len(parser(scene, min_face_score=(scores[0] + scores[1]) / 2).faces) == 1  # the less sure face dropped
    assert len(parser(scene).faces) == 2  # the threshold was this call's only
    with pytest.raises(ValueError, match="min_face_score must lie between 0 and 1"):
        parser(scene, min_face_score=1.5)
