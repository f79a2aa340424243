"""Label sets (names, colours, groups) for CelebAMask-HQ, LaPa and Helen, selection by name, and the two
special mask values every dataset, loss and metric shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["LabelSet", "CELEBAMASK_HQ", "LAPA", "HELEN", "LABEL_SETS", "get_label_set", "label_set_for",
           "CELEBAMASK_TO_LAPA", "IGNORE", "NOT_ANNOTATED", "hex_color", "DISPLAY_NAMES", "ALIASES"]

# Mask values that are not class ids (masks are uint8, so real classes stay below 254).
IGNORE = 255  # unknown: no loss, not counted by the metrics
NOT_ANNOTATED = 254  # none of this sample's annotated classes (partial labels); not counted by the metrics

# One colour per label name, so that every label set draws the same part in the same colour. Chosen to show the
# parser's mistakes over a photo: no class is drawn in a skin or hair tone, and neighbours differ in hue (skin
# teal, hair violet, the person's left and right parts in different hues, lips red and wine, inner mouth cyan).
COLORS: dict[str, tuple[int, int, int]] = {
    "background": (0, 0, 0),
    "skin": (0, 180, 160),
    "nose": (255, 150, 0),
    "eye_g": (255, 255, 255),
    "l_eye": (0, 60, 255),
    "r_eye": (255, 0, 200),
    "l_brow": (255, 235, 0),
    "r_brow": (140, 255, 0),
    "l_ear": (255, 80, 80),
    "r_ear": (255, 170, 200),
    "mouth": (0, 255, 255),
    "u_lip": (255, 0, 0),
    "l_lip": (170, 0, 90),
    "hair": (120, 60, 255),
    "hat": (0, 120, 0),
    "ear_r": (255, 255, 150),
    "neck_l": (0, 255, 120),
    "neck": (230, 90, 40),
    "cloth": (150, 150, 60),
}

# What people call each class (the ids and machine names stay for scripts). "Left" and "right" are the person's
# own: the person's left eye is on the viewer's right in an upright, unmirrored photo.
DISPLAY_NAMES: dict[str, str] = {
    "background": "background",
    "skin": "skin",
    "nose": "nose",
    "eye_g": "eyeglasses",
    "l_eye": "left eye (person's left)",
    "r_eye": "right eye (person's right)",
    "l_brow": "left eyebrow (person's left)",
    "r_brow": "right eyebrow (person's right)",
    "l_ear": "left ear (person's left)",
    "r_ear": "right ear (person's right)",
    "mouth": "inner mouth",
    "u_lip": "upper lip",
    "l_lip": "lower lip",
    "hair": "hair",
    "hat": "hat",
    "ear_r": "earring",
    "neck_l": "necklace",
    "neck": "neck",
    "cloth": "clothes",
}
# Other words users type for a class (``resolve`` accepts them, as it does display names).
ALIASES: dict[str, str] = {
    "glasses": "eye_g", "eyeglasses": "eye_g", "spectacles": "eye_g",
    "left_eye": "l_eye", "right_eye": "r_eye", "left_eyebrow": "l_brow", "right_eyebrow": "r_brow",
    "left_brow": "l_brow", "right_brow": "r_brow", "left_ear": "l_ear", "right_ear": "r_ear",
    "inner_mouth": "mouth", "teeth": "mouth", "upper_lip": "u_lip", "lower_lip": "l_lip",
    "earring": "ear_r", "earrings": "ear_r", "necklace": "neck_l", "clothes": "cloth", "clothing": "cloth",
}

_FACE = ("skin", "nose", "l_brow", "r_brow", "l_eye", "r_eye", "u_lip", "l_lip", "mouth")
GROUPS: dict[str, tuple[str, ...]] = {
    "face": _FACE,
    "eyes": ("l_eye", "r_eye"),
    "brows": ("l_brow", "r_brow"),
    "lips": ("u_lip", "l_lip"),
    "mouth_area": ("mouth", "u_lip", "l_lip"),
    "ears": ("l_ear", "r_ear"),
    "features": ("nose", "l_brow", "r_brow", "l_eye", "r_eye", "u_lip", "l_lip", "mouth"),
    "accessories": ("eye_g", "hat", "ear_r", "neck_l"),
    "jewellery": ("ear_r", "neck_l"),
    "head": (*_FACE, "eye_g", "l_ear", "r_ear", "ear_r", "hair", "hat"),
    "skin_all": ("skin", "nose", "l_ear", "r_ear", "neck"),
    "person": (*_FACE, "eye_g", "l_ear", "r_ear", "ear_r", "hair", "hat", "neck_l", "neck", "cloth"),
}

# Left and right as the annotators drew them (the person's own left is on the image's right in CelebAMask-HQ).
LEFT_RIGHT_PAIRS: tuple[tuple[str, str], ...] = (("l_eye", "r_eye"), ("l_brow", "r_brow"), ("l_ear", "r_ear"))


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of class names; index ``i`` is the class id in label maps.

    Attributes:
        name: short id, e.g. ``"celebamask-hq"``.
        names: class names in id order; id 0 is the background.
        groups: named unions of classes (only the groups whose members all exist in ``names``).
    """

    name: str
    names: tuple[str, ...]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_names(cls, names: Iterable[str], name: str = "custom") -> LabelSet:
        names = tuple(names)
        groups = {g: m for g, m in GROUPS.items() if g not in names and all(n in names for n in m)}
        return cls(name=name, names=names, groups=groups)

    def __len__(self) -> int:
        return len(self.names)

    def __hash__(self) -> int:  # the groups dict is derived from the names, and dicts are not hashable
        return hash((self.name, self.names))

    @property
    def colors(self) -> list[tuple[int, int, int]]:
        """One RGB colour per class; names without a fixed colour get a stable one from their index."""
        return [COLORS.get(n, _fallback_color(i)) for i, n in enumerate(self.names)]

    @property
    def display_names(self) -> list[str]:
        """What people call each class, in id order (``"left eye (person's left)"`` for ``l_eye``)."""
        return [DISPLAY_NAMES.get(n, n.replace("_", " ")) for n in self.names]

    def display(self, name_or_id: str | int) -> str:
        """The display name of one class."""
        i = name_or_id if isinstance(name_or_id, int) else self.index(name_or_id)
        return self.display_names[i]

    @property
    def hex_colors(self) -> list[str]:
        """:attr:`colors` as ``"#rrggbb"`` strings (for web front ends)."""
        return [hex_color(c) for c in self.colors]

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(self._unknown(name)) from None

    def resolve(self, selection: str | Iterable[str | int]) -> list[int]:
        """Class ids for labels, groups and ids, given as a list or a comma-separated string.

        >>> CELEBAMASK_HQ.resolve("hair, lips")
        [11, 12, 13]
        """
        if isinstance(selection, str):
            selection = [s for s in selection.replace(";", ",").split(",")]
        ids: set[int] = set()
        for item in selection:
            if isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit()):
                i = int(item)
                if not 0 <= i < len(self.names):
                    raise KeyError(f"label id {i} is out of range 0..{len(self.names) - 1} for {self.name}")
                ids.add(i)
                continue
            key = _key(item)
            if not key:
                continue
            key = self._by_display.get(key, ALIASES.get(key, key))
            if key in self.names:
                ids.add(self.names.index(key))
            elif key in self.groups:
                ids.update(self.names.index(n) for n in self.groups[key])
            else:
                raise KeyError(self._unknown(item))
        if not ids:
            raise KeyError(f"no labels selected; choose from {self._valid()}")
        return sorted(ids)

    @property
    def _by_display(self) -> dict[str, str]:
        return {_key(d): n for n, d in zip(self.names, self.display_names)}

    def mirror_permutation(self) -> list[int]:
        """Class ids after a horizontal flip: left and right classes swap."""
        perm = list(range(len(self.names)))
        for left, right in LEFT_RIGHT_PAIRS:
            if left in self.names and right in self.names:
                i, j = self.names.index(left), self.names.index(right)
                perm[i], perm[j] = j, i
        return perm

    def _valid(self) -> str:
        groups = f"; groups: {', '.join(self.groups)}" if self.groups else ""
        return f"labels: {', '.join(self.names)}{groups}"

    def _unknown(self, name: object) -> str:
        return f"unknown label or group {name!r} for label set {self.name!r}; valid {self._valid()}"


def _key(text: str) -> str:
    """A typed label name, normalised: ``"Left eye (person's left)"`` -> ``"left_eye_(person's_left)"``."""
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def hex_color(rgb: Sequence[int]) -> str:
    """``(r, g, b)`` in 0..255 -> ``"#rrggbb"``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _fallback_color(i: int) -> tuple[int, int, int]:
    # A golden-ratio hue walk gives distinct, stable colours for user label sets.
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


CELEBAMASK_HQ = LabelSet.from_names(
    ("background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
     "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"),
    name="celebamask-hq",
)
# LaPa and Helen share one 11-class order; "mouth" is the inner mouth, as in CelebAMask-HQ.
LAPA = LabelSet.from_names(
    ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "nose", "u_lip", "mouth", "l_lip", "hair"),
    name="lapa",
)
HELEN = LabelSet.from_names(LAPA.names, name="helen")
LABEL_SETS: dict[str, LabelSet] = {s.name: s for s in (CELEBAMASK_HQ, LAPA, HELEN)}

# CelebAMask-HQ id -> LaPa id. Parts LaPa does not label become background, except glasses frames,
# which lie on the skin LaPa marks around the eyes.
_CELEBA_EXTRA_TO_LAPA = {"eye_g": "skin"}
CELEBAMASK_TO_LAPA: list[int] = [
    LAPA.names.index(_CELEBA_EXTRA_TO_LAPA.get(n, n)) if _CELEBA_EXTRA_TO_LAPA.get(n, n) in LAPA.names else 0
    for n in CELEBAMASK_HQ.names
]


def get_label_set(name: str) -> LabelSet:
    """A built-in label set by name (``celebamask-hq``, ``lapa`` or ``helen``)."""
    key = name.lower().replace("_", "-")
    if key not in LABEL_SETS:
        raise KeyError(f"unknown label set {name!r}; built-in sets: {', '.join(LABEL_SETS)}")
    return LABEL_SETS[key]


def label_set_for(names: Sequence[str], name: str = "custom") -> LabelSet:
    """The built-in set ``name`` when its classes are exactly ``names`` (same colours and groups), else a set
    made from ``names`` (e.g. a model fine-tuned on its own labels)."""
    try:
        built_in = get_label_set(name)
    except KeyError:
        built_in = None
    if built_in is not None and list(built_in.names) == list(names):
        return built_in
    return LabelSet.from_names(names, name=name)
