"""Dataset layouts on disk: which files form a sample, and which label names the masks use.

Supported layouts (``layout="auto"`` picks one from the folder's contents):

- ``celebamask-hq``: the official CelebAMask-HQ release. ``CelebA-HQ-img/<id>.jpg`` and the part masks
  ``CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png``, merged in the official order (later parts
  overwrite earlier ones, as the release's ``g_mask.py`` does). The split comes from
  ``CelebA-HQ-to-CelebA-mapping.txt`` (columns ``idx orig_idx orig_file``) and, when present, CelebA's
  ``list_eval_partition.txt`` (``<orig_file> <0|1|2>`` for train, val, test); without the partition file the
  official CelebA ranges of ``orig_file`` are used (train up to 162770, val up to 182637, test after).
  ``list_eval_partition.csv`` (``image_id,partition``) is read too, and masks already merged by ``g_mask.py``
  into ``CelebAMask-HQ-mask/<id>.png`` are used instead of the parts when present.
- ``lapa``: ``train|val|test/images/<id>.jpg`` and ``.../labels/<id>.png`` (11 LaPa classes).
- ``folder``: ``images/<id>.<ext>``, ``masks/<id>.png`` index PNGs, optional ``splits.json``
  (``{"train": [ids], "val": [ids]}``; without it every split is all ids) and optional ``labels.txt``
  (one class name per line, id order; without it the 19 CelebAMask-HQ names).
- ``hair``: ``images/<id>.jpg`` and ``hair/<id>.png`` binary masks (255 = hair), a partial label.
- ``images``: every image under the folder, recursively, with no labels (for pseudo-labelling).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..image import IMAGE_EXTENSIONS, list_images
from ..labels import CELEBAMASK_HQ, LAPA

__all__ = ["Sample", "Listing", "LAYOUTS", "detect_layout", "list_samples", "read_label_names"]

LAYOUTS = ("celebamask-hq", "lapa", "folder", "hair", "images")
SPLITS_FILE = "splits.json"
LABELS_FILE = "labels.txt"
CELEBA_IMG, CELEBA_ANNO, CELEBA_MERGED = "CelebA-HQ-img", "CelebAMask-HQ-mask-anno", "CelebAMask-HQ-mask"
CELEBA_MAPPING, CELEBA_PARTITION = "CelebA-HQ-to-CelebA-mapping.txt", "list_eval_partition.txt"
CELEBA_PART_ORDER = CELEBAMASK_HQ.names[1:]  # g_mask.py's label_list: class id = position + 1
# Official CelebA partition by original file number (list_eval_partition.txt): 0 train, 1 val, 2 test.
CELEBA_LAST_TRAIN, CELEBA_LAST_VAL = 162770, 182637
SPLIT_CODES = {"train": "0", "val": "1", "test": "2"}
ALL_SPLITS = (None, "all")


@dataclass(frozen=True)
class Sample:
    """One image and where its labels are.

    Attributes:
        id: unique name within the dataset (file stem, or relative path with ``/`` -> ``_``).
        image: the image file.
        mask: an index PNG in the layout's label ids (``None`` when unlabelled or given by ``parts``).
        parts: official CelebAMask-HQ part masks as ``(class id, file)``, merged in this order.
        binary: the mask is 0 / 255 (the ``hair`` layout): nonzero means class 1.
    """

    id: str
    image: Path
    mask: Path | None = None
    parts: tuple[tuple[int, Path], ...] = ()
    binary: bool = False

    @property
    def labelled(self) -> bool:
        return self.mask is not None or bool(self.parts)


@dataclass(frozen=True)
class Listing:
    """The samples of one split and the label names their masks use (``()`` when unlabelled)."""

    layout: str
    samples: list[Sample]
    names: tuple[str, ...]
    problems: tuple[str, ...] = ()  # e.g. images without masks; reported by ``check-data``


def detect_layout(root: str | Path) -> str:
    """The layout of a dataset folder, from the names of its subfolders."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    if (root / CELEBA_IMG).is_dir() and ((root / CELEBA_ANNO).is_dir() or (root / CELEBA_MERGED).is_dir()):
        return "celebamask-hq"
    if any((root / s / "images").is_dir() and (root / s / "labels").is_dir() for s in ("train", "val", "test")):
        return "lapa"
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "folder"
    if (root / "images").is_dir() and (root / "hair").is_dir():
        return "hair"
    if list_images(root, recursive=True):
        return "images"
    raise ValueError(
        f"{root} matches no known dataset layout and holds no images; expected one of: images/ + masks/ "
        f"(folder), images/ + hair/ (hair), train|val|test/images + labels/ (lapa), {CELEBA_IMG}/ + "
        f"{CELEBA_ANNO}/ (celebamask-hq), or a folder of images"
    )


def list_samples(root: str | Path, layout: str = "auto", split: str | None = "train") -> Listing:
    """The samples of ``split`` (``None`` or ``"all"`` for every sample) in the dataset at ``root``."""
    root = Path(root)
    layout = detect_layout(root) if layout == "auto" else layout
    readers = {"celebamask-hq": _celebamask_hq, "lapa": _lapa, "folder": _folder, "hair": _hair, "images": _images}
    if layout not in readers:
        raise ValueError(f"unknown dataset layout {layout!r}; choose auto or one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    return readers[layout](root, split)


def read_label_names(path: str | Path) -> tuple[str, ...]:
    """Class names from a ``labels.txt`` (one per line, id order; blank lines and ``#`` comments skipped)."""
    lines = Path(path).read_text().splitlines()
    names = tuple(s.strip() for s in lines if s.strip() and not s.strip().startswith("#"))
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"{path} must list at least 2 distinct class names, one per line; got {list(names)}")
    return names


def _by_stem(folder: Path, suffixes: tuple[str, ...] = IMAGE_EXTENSIONS) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes and p.is_file()}


def _pair(images: dict[str, Path], masks: dict[str, Path], ids: list[str], binary: bool = False):
    samples, problems = [], []
    for i in ids:
        if i not in images and i not in masks:
            problems.append(f"{i}: listed in {SPLITS_FILE} but has no image and no mask")
        elif i not in images:
            problems.append(f"{masks[i]}: mask without an image")
        elif i not in masks:
            problems.append(f"{images[i]}: image without a mask")
        else:
            samples.append(Sample(i, images[i], masks[i], binary=binary))
    return samples, tuple(problems)


def _select_ids(root: Path, split: str | None, found: list[str]) -> list[str]:
    """Ids of ``split`` from ``splits.json``; all found ids when there is no splits file or split is all."""
    splits_path = root / SPLITS_FILE
    if split in ALL_SPLITS or not splits_path.is_file():
        return found
    try:
        splits = json.loads(splits_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{splits_path} is not valid JSON ({e})") from e
    if split not in splits:
        raise ValueError(f"{splits_path} has no split {split!r}; it has {', '.join(splits)} (or use split='all')")
    return [str(i) for i in splits[split]]


def _folder(root: Path, split: str | None) -> Listing:
    images, masks = _by_stem(root / "images"), _by_stem(root / "masks", (".png",))
    ids = _select_ids(root, split, sorted(set(images) | set(masks)))
    samples, problems = _pair(images, masks, ids)
    labels = root / LABELS_FILE
    names = read_label_names(labels) if labels.is_file() else CELEBAMASK_HQ.names
    return Listing("folder", samples, names, problems)


def _hair(root: Path, split: str | None) -> Listing:
    images, masks = _by_stem(root / "images"), _by_stem(root / "hair", (".png",))
    ids = _select_ids(root, split, sorted(set(images) | set(masks)))
    samples, problems = _pair(images, masks, ids, binary=True)
    return Listing("hair", samples, ("background", "hair"), problems)


def _images(root: Path, split: str | None) -> Listing:
    files = list_images(root, recursive=True)
    samples = [Sample(p.relative_to(root).with_suffix("").as_posix().replace("/", "_"), p) for p in files]
    return Listing("images", samples, ())


def _lapa(root: Path, split: str | None) -> Listing:
    splits = ("train", "val", "test") if split in ALL_SPLITS else (split,)
    samples, problems = [], []
    for s in splits:
        if not (root / s / "images").is_dir():
            if split in ALL_SPLITS:
                continue
            raise FileNotFoundError(f"LaPa folder {root} has no {s}/images; splits are train, val and test")
        images, masks = _by_stem(root / s / "images"), _by_stem(root / s / "labels", (".png",))
        found, bad = _pair(images, masks, sorted(set(images) | set(masks)))
        samples += found
        problems += bad
    return Listing("lapa", samples, LAPA.names, tuple(problems))


def _celebamask_hq(root: Path, split: str | None) -> Listing:
    images = _by_stem(root / CELEBA_IMG)
    ids = sorted((i for i in images if i.isdigit()), key=int)
    if split not in ALL_SPLITS:
        wanted = _celeba_split_ids(root, split)
        ids = [i for i in ids if int(i) in wanted]
    anno, merged = root / CELEBA_ANNO, _by_stem(root / CELEBA_MERGED, (".png",))
    samples, problems = [], []
    for i in ids:
        if i in merged:  # g_mask.py's output: one index PNG per image, already merged
            samples.append(Sample(i, images[i], merged[i]))
            continue
        folder = anno / str(int(i) // 2000)
        parts = tuple((k + 1, folder / f"{int(i):05d}_{part}.png") for k, part in enumerate(CELEBA_PART_ORDER))
        parts = tuple((k, p) for k, p in parts if p.is_file())
        if parts:
            samples.append(Sample(i, images[i], parts=parts))
        else:
            problems.append(f"{images[i]}: no part masks in {folder}")
    return Listing("celebamask-hq", samples, CELEBAMASK_HQ.names, tuple(problems))


def _celeba_split_ids(root: Path, split: str) -> set[int]:
    """CelebA-HQ ids in ``split``, via the HQ-to-CelebA mapping and CelebA's own partition."""
    if split not in SPLIT_CODES:
        raise ValueError(f"CelebAMask-HQ splits are train, val, test (or all), got {split!r}")
    mapping = root / CELEBA_MAPPING
    if not mapping.is_file():
        raise FileNotFoundError(
            f"{mapping} is missing; it ships with CelebAMask-HQ and defines the split (or use split='all')"
        )
    partition = _read_partition(root / CELEBA_PARTITION)
    wanted = set()
    for line in mapping.read_text().splitlines()[1:]:
        cols = line.split()
        if len(cols) < 3 or not cols[0].isdigit():
            continue
        code = partition.get(cols[2]) if partition else _partition_by_number(int(Path(cols[2]).stem))
        if code == SPLIT_CODES[split]:
            wanted.add(int(cols[0]))
    return wanted


def _read_partition(path: Path) -> dict[str, str]:
    """``<orig_file> <code>`` lines of ``list_eval_partition.txt``, or the ``.csv`` form (``image_id,partition``)."""
    if not path.is_file():
        path = path.with_suffix(".csv")
        if not path.is_file():
            return {}
    pairs = (line.replace(",", " ").split() for line in path.read_text().splitlines())
    return {cols[0]: cols[1] for cols in pairs if len(cols) == 2 and cols[1] in ("0", "1", "2")}


def _partition_by_number(number: int) -> str:
    if number <= CELEBA_LAST_TRAIN:
        return "0"
    return "1" if number <= CELEBA_LAST_VAL else "2"
