"""Dataset readers on generated layouts, label mapping by name, the check command and its bad cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from layouts_util import SHARED_DATA, make_celebamask_hq, make_folder, make_hair, make_lapa
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader

from fpliif.cli import main
from fpliif.data import NOT_ANNOTATED, detect_layout, label_mapping, open_dataset
from fpliif.data.check import check_dataset
from fpliif.labels import CELEBAMASK_HQ, CELEBAMASK_TO_LAPA, LAPA

HAIR, SKIN = CELEBAMASK_HQ.index("hair"), CELEBAMASK_HQ.index("skin")


def test_folder_layout_items_and_splits(tmp_path):
    root = make_folder(tmp_path / "d", splits={"train": ["a", "b", "c"], "val": ["d"]}, mask_side=64)
    assert detect_layout(root) == "folder"
    train = open_dataset(root, "train", size=16)
    assert len(train) == 3 and len(open_dataset(root, "val", size=16)) == 1
    item = train[0]
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.float32
    assert 0 <= item["image"].min() and item["image"].max() <= 1
    assert item["mask"].shape == (16, 16) and item["mask"].dtype == torch.int64
    assert set(item["mask"].unique().tolist()) == {0, 1, 4, 5, HAIR}
    assert item["annotated"].all() and item["annotated"].shape == (19,) and item["id"] == "a"


def test_mask_size_differs_from_image_size(tmp_path):
    root = make_folder(tmp_path / "d", side=32, mask_side=64)
    item = open_dataset(root, "all", size=16, mask_size=64)[0]
    assert item["image"].shape == (3, 16, 16) and item["mask"].shape == (64, 64)
    augmented = open_dataset(root, "all", size=16, mask_size=64, augment="face")[0]
    assert augmented["image"].shape == (3, 16, 16) and augmented["mask"].shape == (64, 64)
    with pytest.raises(ValueError, match="unknown augmentation 'strong'; choose one of paper, face, none"):
        open_dataset(root, "all", size=16, augment="strong")


def test_folder_without_splits_is_all_ids_and_labels_file_names(tmp_path):
    names = ["background", "skin", "hair", "l_eye", "r_eye", "extra"]
    root = make_folder(tmp_path / "d", ids=("x", "y"), labels=names)
    ds = open_dataset(root, "val", size=16)
    assert len(ds) == 2 and ds.label_names == tuple(names)
    # Onto the 19 CelebAMask-HQ classes by name: "extra" is unknown there and becomes background.
    mapped = open_dataset(root, "train", size=32, label_names=CELEBAMASK_HQ.names)
    assert set(mapped[0]["mask"].unique().tolist()) <= {0, 1, 4, 5, 13, NOT_ANNOTATED}


def test_hair_layout_is_partial(tmp_path):
    ds = open_dataset(make_hair(tmp_path / "h"), size=16)
    item = ds[0]
    assert set(item["mask"].unique().tolist()) == {HAIR, NOT_ANNOTATED}
    assert item["annotated"].tolist() == [i == HAIR for i in range(19)]
    assert (item["mask"][:4] == HAIR).all()


def test_images_layout_recursive_unlabelled(tmp_path, images_dir):
    ds = open_dataset(images_dir, size=16)
    assert sorted(s.id for s in ds.samples) == ["a", "b", "sub_c"]
    item = ds[0]
    assert (item["mask"] == 255).all() and not item["annotated"].any()


def test_lapa_layout_and_mapping_onto_celebamask(tmp_path):
    root = make_lapa(tmp_path / "lapa")
    assert detect_layout(root) == "lapa"
    assert len(open_dataset(root, "train", size=16)) == 2 and len(open_dataset(root, "all", size=16)) == 3
    own = open_dataset(root, "val", size=16)[0]
    assert set(own["mask"].unique().tolist()) == {0, LAPA.index("hair"), LAPA.index("l_brow")}
    onto = open_dataset(root, "val", size=16, label_names=CELEBAMASK_HQ.names)[0]
    assert set(onto["mask"].unique().tolist()) == {NOT_ANNOTATED, HAIR, CELEBAMASK_HQ.index("l_brow")}
    assert not onto["annotated"][0] and not onto["annotated"][CELEBAMASK_HQ.index("cloth")]
    assert onto["annotated"][HAIR]


def test_celebamask_hq_official_layout_merge_and_partition(tmp_path):
    root = make_celebamask_hq(tmp_path / "CelebAMask-HQ")
    assert detect_layout(root) == "celebamask-hq"
    assert [s.id for s in open_dataset(root, "train", size=16).samples] == ["0"]
    assert [s.id for s in open_dataset(root, "val", size=16).samples] == ["1"]
    assert [s.id for s in open_dataset(root, "test", size=16).samples] == ["2"]
    mask = open_dataset(root, "train", size=32)[0]["mask"]
    assert (mask[:8] == HAIR).all() and (mask[8:16] == HAIR).all()  # hair drawn after skin wins
    assert (mask[16:] == SKIN).all()


def test_celebamask_hq_partition_from_file_numbers(tmp_path):
    root = make_celebamask_hq(tmp_path / "c", partition=False)
    assert [s.id for s in open_dataset(root, "val", size=16).samples] == ["1"]


def test_celebamask_hq_csv_partition_and_merged_masks(tmp_path):
    root = make_celebamask_hq(tmp_path / "c", partition=False)
    # Swap the train and val codes so that only the CSV can explain the result.
    (root / "list_eval_partition.csv").write_text("image_id,partition\n000001.jpg,1\n170000.jpg,0\n")
    assert [s.id for s in open_dataset(root, "train", size=16).samples] == ["1"]
    (root / "CelebAMask-HQ-mask").mkdir()
    Image.fromarray(np.full((32, 32), 17, dtype=np.uint8)).save(root / "CelebAMask-HQ-mask" / "1.png")
    assert (open_dataset(root, "train", size=16)[0]["mask"] == 17).all()


def test_label_mapping_matches_celebamask_to_lapa():
    lut, annotated = label_mapping(CELEBAMASK_HQ.names, LAPA.names)
    assert lut[:19].tolist() == CELEBAMASK_TO_LAPA and annotated.all()
    assert lut[255] == 255 and lut[19] == 255


def test_concat_dataset_collates(tmp_path, images_dir):
    full = open_dataset(make_folder(tmp_path / "f"), size=16)
    hair = open_dataset(make_hair(tmp_path / "h"), size=16)
    plain = open_dataset(images_dir, size=16)
    batch = next(iter(DataLoader(ConcatDataset([full, hair, plain]), batch_size=9)))
    assert batch["image"].shape == (9, 3, 16, 16) and batch["mask"].shape == (9, 16, 16)
    assert batch["annotated"].shape == (9, 19) and len(batch["id"]) == 9


@pytest.mark.parametrize("kwargs, message", [
    (dict(layout="nope"), "unknown dataset layout"),
    (dict(split="test"), "no split 'test'"),
])
def test_open_errors(tmp_path, kwargs, message):
    root = make_folder(tmp_path / "d", splits={"train": ["a"], "val": ["b"]})
    with pytest.raises(ValueError, match=message):
        open_dataset(root, **kwargs)


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_dataset(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no known dataset layout"):
        open_dataset(tmp_path / "empty")


def _broken_folder(tmp_path):
    root = make_folder(tmp_path / "bad", ids=("a", "b", "c", "d", "e", "f"))
    (root / "masks" / "b.png").unlink()  # image without mask
    (root / "images" / "c.jpg").unlink()  # mask without image
    Image.fromarray(np.zeros((20, 20), dtype=np.uint8)).save(root / "masks" / "d.png")  # size mismatch
    (root / "images" / "e.jpg").write_bytes(b"not a jpeg")  # unreadable image
    bad = np.zeros((32, 32), dtype=np.uint8)
    bad[0, 0] = 40
    Image.fromarray(bad).save(root / "masks" / "f.png")  # value outside 0..18
    return root


def test_check_dataset_names_each_problem(tmp_path):
    report = check_dataset(_broken_folder(tmp_path))
    text = "\n".join(report.problems)
    assert "b.jpg: image without a mask" in text
    assert "c.png: mask without an image" in text
    assert "d.png: mask is 20x20 but its image d.jpg is 32x32" in text
    assert "e.jpg: unreadable image" in text
    assert "f.png: mask values 40 are outside" in text
    assert not report.ok and report.samples == 4  # a, d, e, f have both files


def test_check_ghost_id_in_splits(tmp_path):
    root = make_folder(tmp_path / "d", splits={"train": ["a", "ghost"]})
    assert any("ghost: listed in splits.json" in p for p in check_dataset(root, split="train").problems)


def test_check_hair_binary_values_and_clean_counts(tmp_path):
    root = make_hair(tmp_path / "h")
    report = check_dataset(root)
    assert report.ok and report.pixels.tolist() == [2 * 24 * 32, 2 * 8 * 32]
    odd = np.zeros((32, 32), dtype=np.uint8)
    odd[0, :3] = 7
    Image.fromarray(odd).save(root / "hair" / "h1.png")
    assert "binary mask has values 7" in check_dataset(root).problems[0]


def test_check_data_cli_exit_codes(tmp_path, capsys):
    good = make_folder(tmp_path / "good")
    assert main(["check-data", str(good), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "0 problem(s)" in out and "hair" in out
    assert json.loads((tmp_path / "r.json").read_text())["classes"]["hair"]["images"] == 4
    assert main(["check-data", str(_broken_folder(tmp_path))]) == 1
    assert "problem: " in capsys.readouterr().out
    assert main(["check-data", str(tmp_path / "absent")]) == 2


@pytest.mark.skipif(not (SHARED_DATA / "celebamask-mini" / "splits.json").is_file(),
                    reason="../shared/data/celebamask-mini is not on this machine")
def test_shared_celebamask_mini():
    val = open_dataset(SHARED_DATA / "celebamask-mini", "val", size=64)
    assert len(val) == 100 and val.label_names == CELEBAMASK_HQ.names
    item = val[0]
    assert item["mask"].shape == (64, 64) and int(item["mask"].max()) < 19


@pytest.mark.skipif(not (SHARED_DATA / "celeb1k-hair" / "hair").is_dir(),
                    reason="../shared/data/celeb1k-hair is not on this machine")
def test_shared_hair():
    ds = open_dataset(SHARED_DATA / "celeb1k-hair", size=32)
    assert len(ds) == 742 and set(ds[0]["mask"].unique().tolist()) <= {HAIR, NOT_ANNOTATED}


def test_sides_swapped_votes_over_the_left_right_pairs():
    from fpliif.data.dataset import sides_swapped

    names = CELEBAMASK_HQ.names
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[2, 5], mask[2, 2] = names.index("l_eye"), names.index("r_eye")  # person's left eye on the viewer's right
    mask[1, 5], mask[1, 2] = names.index("l_brow"), names.index("r_brow")
    assert not sides_swapped(mask, names)
    assert sides_swapped(mask[:, ::-1], names)
    assert not sides_swapped(np.zeros((8, 8), dtype=np.uint8), names)  # no pairs: nothing to say
