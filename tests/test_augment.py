"""Augmentation on tensors: reproducible draws, geometry shared by image and mask (also at different sizes), fills,
flips, HSV, the presets."""

from __future__ import annotations

import colorsys
from dataclasses import replace

import pytest
import torch
from layouts_util import make_folder

from fpliif.data import AugmentConfig, augment_sample, open_dataset
from fpliif.data.augment import AUGMENTATIONS, augmentation, color_jitter, hsv_to_rgb, rgb_to_hsv
from fpliif.labels import CELEBAMASK_HQ
from fpliif.train.loaders import SeededItems

IDENTITY = dict(rotation=0.0, shear=(0.0, 0.0), scale=(1.0, 1.0), brightness=(1.0, 1.0), contrast=(1.0, 1.0),
                saturation=(1.0, 1.0), hue=0.0)
L_EYE, R_EYE = CELEBAMASK_HQ.index("l_eye"), CELEBAMASK_HQ.index("r_eye")


def _pair(side: int = 24):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, side, side, generator=g)
    mask = torch.randint(0, 19, (side, side), generator=g)
    return image, mask, torch.ones(19, dtype=torch.bool)


def test_same_generator_seed_same_result_other_seed_differs():
    image, mask, annotated = _pair()
    runs = [augment_sample(image, mask, annotated, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])


def test_identity_ranges_change_nothing():
    image, mask, annotated = _pair()
    out_image, out_mask, out_annotated = augment_sample(image, mask, annotated, AugmentConfig(**IDENTITY))
    assert torch.equal(out_mask, mask) and torch.equal(out_annotated, annotated)
    assert torch.allclose(out_image, image, atol=1e-5)


def test_mask_values_stay_class_ids_and_shapes_hold():
    image, mask, annotated = _pair(32)
    for seed in range(5):
        out_image, out_mask, _ = augment_sample(image, mask, annotated, generator=torch.Generator().manual_seed(seed))
        assert out_image.shape == image.shape and out_mask.shape == mask.shape and out_mask.dtype == torch.int64
        assert set(out_mask.unique().tolist()) <= set(mask.unique().tolist())  # nearest: no new ids; fill is 0
        assert 0 <= out_image.min() and out_image.max() <= 1


@pytest.mark.parametrize("annotated, fill", [(torch.ones(19, dtype=torch.bool), 0),
                                             (torch.arange(19) == 13, 254),
                                             (torch.zeros(19, dtype=torch.bool), 255)])
def test_out_of_frame_fill_depends_on_what_is_annotated(annotated, fill):
    image, mask = torch.ones(3, 32, 32), torch.full((32, 32), 13)
    cfg = AugmentConfig(**{**IDENTITY, "scale": (0.5, 0.5)}, jitter_p=0.0)
    out_image, out_mask, _ = augment_sample(image, mask, annotated, cfg, torch.Generator().manual_seed(0))
    assert out_mask[0, 0] == fill and out_mask[-1, -1] == fill and (out_mask == 13).sum() == 16 * 16
    assert out_image[:, 0, 0].max() == 0  # out-of-frame image pixels are black


def test_zoom_in_crops_within_the_image():
    image, mask, annotated = _pair(32)
    cfg = AugmentConfig(**{**IDENTITY, "scale": (3.0, 3.0)})
    _, out_mask, _ = augment_sample(image, mask, annotated, cfg, torch.Generator().manual_seed(3))
    assert out_mask.min() >= 0  # a 3x zoom with a random crop never leaves the image


def test_flip_swaps_left_and_right_classes():
    mask = torch.zeros(8, 8, dtype=torch.long)
    mask[:, :4] = L_EYE
    annotated = torch.arange(19) != R_EYE
    cfg = AugmentConfig(**IDENTITY, hflip=1.0)
    _, out, flipped = augment_sample(torch.rand(3, 8, 8), mask, annotated, cfg,
                                     mirror=CELEBAMASK_HQ.mirror_permutation())
    assert (out[:, 4:] == R_EYE).all() and (out[:, :4] == 0).all()
    assert flipped[R_EYE] and not flipped[L_EYE]  # what was annotated as the left eye is now the right
    with pytest.raises(ValueError, match="mirror"):
        augment_sample(torch.rand(3, 8, 8), mask, annotated, cfg)


def test_hsv_matches_colorsys_and_round_trips():
    rgb = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(4))
    rgb[:, 0, 0] = 0.5  # grey: hue 0
    hsv = rgb_to_hsv(rgb)
    for y, x in ((0, 0), (1, 2), (4, 6)):
        expected = colorsys.rgb_to_hsv(*rgb[:, y, x].tolist())
        assert torch.allclose(hsv[:, y, x], torch.tensor(expected), atol=1e-5)
    assert torch.allclose(hsv_to_rgb(hsv), rgb, atol=1e-5)


def test_full_hue_turn_and_jitter_ranges():
    rgb = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(5))
    hsv = rgb_to_hsv(rgb)
    hsv[0] = (hsv[0] + 1.0) % 1.0
    assert torch.allclose(hsv_to_rgb(hsv), rgb, atol=1e-5)
    dark = color_jitter(rgb, AugmentConfig(**{**IDENTITY, "brightness": (0.0, 0.0)}))
    assert dark.abs().max() == 0
    flat = color_jitter(rgb, AugmentConfig(**{**IDENTITY, "contrast": (0.0, 0.0)}))
    assert torch.allclose(flat, flat[:, :1, :1].expand_as(flat))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="hflip"):
        AugmentConfig(hflip=2)
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=(0, 1))


def test_seeded_items_make_augmentation_reproducible_per_epoch(tmp_path):
    root = make_folder(tmp_path / "d")
    items = SeededItems(open_dataset(root, size=32, augment=True), seed=7, num_classes=19)
    again = SeededItems(open_dataset(root, size=32, augment=True), seed=7, num_classes=19)
    assert torch.equal(items[(0, 1)]["image"], again[(0, 1)]["image"])
    assert torch.equal(items[(0, 1)]["mask"], again[(0, 1)]["mask"])
    assert not torch.equal(items[(0, 1)]["image"], items[(1, 1)]["image"])  # another epoch, other draws


@pytest.mark.parametrize("preset", ["face", "paper"])
def test_image_and_sharper_mask_are_warped_alike(preset):
    """A 32 px image and its 128 px label map (a disc) stay aligned through rotation, scale, shear and shift."""
    side, mask_side = 32, 128
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, mask_side), torch.linspace(-1, 1, mask_side), indexing="ij")
    disc = ((yy - 0.2) ** 2 + (xx + 0.1) ** 2 < 0.3).long()  # class 1 inside, 0 outside
    image = torch.nn.functional.interpolate(disc[None, None].float(), size=(side, side), mode="area")[0]
    image = image.expand(3, -1, -1)
    cfg = replace(AUGMENTATIONS[preset], jitter_p=0.0, hflip=0.0)
    for seed in range(6):
        out_image, out_mask, _ = augment_sample(image.contiguous(), disc, torch.ones(2, dtype=torch.bool), cfg,
                                                torch.Generator().manual_seed(seed))
        assert out_image.shape == (3, side, side) and out_mask.shape == (mask_side, mask_side)
        coarse = torch.nn.functional.interpolate(out_mask[None, None].float(), size=(side, side), mode="area")[0, 0]
        sure = (coarse - 0.5).abs() > 0.4  # pixels away from the disc's edge
        assert torch.equal(out_image[0][sure] > 0.5, coarse[sure] > 0.5)


def test_presets_by_name():
    assert augmentation("face").hflip == 0.5 and augmentation("paper").scale == (0.5, 3.0)
    assert augmentation("none") is None and augmentation(False) is None and augmentation(True) is AUGMENTATIONS["paper"]
    with pytest.raises(ValueError, match="unknown augmentation"):
        augmentation("heavy")
