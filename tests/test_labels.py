"""Label sets: official orders, groups, selection by name, colours, mirroring and the CelebAMask-HQ -> LaPa map."""

import pytest

from fpliif.labels import (
    CELEBAMASK_HQ,
    CELEBAMASK_TO_LAPA,
    HELEN,
    IGNORE,
    LABEL_SETS,
    LAPA,
    NOT_ANNOTATED,
    LabelSet,
    get_label_set,
    hex_color,
    label_set_for,
)

CELEBA_ORDER = ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]


def test_celebamask_official_order():
    assert list(CELEBAMASK_HQ.names) == CELEBA_ORDER


def test_lapa_and_helen_have_eleven_classes():
    assert len(LAPA) == 11 and len(HELEN) == 11
    assert LAPA.names[0] == "background" and "hair" in LAPA.names


def test_resolve_names_groups_and_ids():
    assert CELEBAMASK_HQ.resolve("hair") == [13]
    assert CELEBAMASK_HQ.resolve("hair, lips") == [11, 12, 13]
    assert CELEBAMASK_HQ.resolve(["eyes", 2]) == [2, 4, 5]
    assert CELEBAMASK_HQ.resolve("Eye-G") == [3]
    assert CELEBAMASK_HQ.resolve("17") == [17]
    face = {CELEBAMASK_HQ.names[i] for i in CELEBAMASK_HQ.resolve("face")}
    assert face == {"skin", "nose", "l_brow", "r_brow", "l_eye", "r_eye", "u_lip", "l_lip", "mouth"}


@pytest.mark.parametrize("group", ["face", "eyes", "brows", "lips", "ears", "accessories"])
def test_groups_users_want(group):
    assert group in CELEBAMASK_HQ.groups
    assert CELEBAMASK_HQ.resolve(group)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(KeyError) as err:
        CELEBAMASK_HQ.resolve("hair,beard")
    message = str(err.value)
    assert "'beard'" in message and "hair" in message and "groups" in message and "face" in message


@pytest.mark.parametrize("bad", ["", " , ", "19", [-1]])
def test_empty_or_out_of_range_selection(bad):
    with pytest.raises(KeyError):
        CELEBAMASK_HQ.resolve(bad)


def test_groups_only_where_members_exist():
    assert "ears" not in LAPA.groups and "accessories" not in LAPA.groups
    assert LAPA.resolve("lips") == [LAPA.index("u_lip"), LAPA.index("l_lip")]
    for labels in LABEL_SETS.values():
        for members in labels.groups.values():
            assert all(m in labels.names for m in members)


def test_colours():
    colours = CELEBAMASK_HQ.colors
    assert len(colours) == 19 and colours[0] == (0, 0, 0)
    assert len(set(colours)) == 19
    assert LAPA.colors[LAPA.index("hair")] == colours[CELEBAMASK_HQ.index("hair")]
    custom = LabelSet.from_names(["background", "beard", "tattoo"])
    assert len(set(custom.colors)) == 3 and all(0 <= v <= 255 for c in custom.colors for v in c)


def test_mirror_permutation_swaps_left_and_right():
    perm = CELEBAMASK_HQ.mirror_permutation()
    assert sorted(perm) == list(range(19))
    assert [perm[i] for i in perm] == list(range(19))
    assert perm[CELEBAMASK_HQ.index("l_eye")] == CELEBAMASK_HQ.index("r_eye")
    assert perm[CELEBAMASK_HQ.index("hair")] == CELEBAMASK_HQ.index("hair")


def test_celebamask_to_lapa():
    assert len(CELEBAMASK_TO_LAPA) == 19
    lapa_of = {c: LAPA.names[CELEBAMASK_TO_LAPA[i]] for i, c in enumerate(CELEBAMASK_HQ.names)}
    for shared in LAPA.names:
        assert lapa_of[shared] == shared
    assert lapa_of["eye_g"] == "skin"
    assert lapa_of["hat"] == lapa_of["cloth"] == lapa_of["l_ear"] == "background"


def test_get_label_set():
    assert get_label_set("CelebAMask_HQ") is CELEBAMASK_HQ
    with pytest.raises(KeyError, match="built-in sets"):
        get_label_set("ade20k")
    with pytest.raises(KeyError, match="unknown label"):
        LAPA.index("hat")


def test_label_sets_are_hashable():
    assert len({CELEBAMASK_HQ, LAPA, HELEN, LabelSet.from_names(CELEBAMASK_HQ.names, name="celebamask-hq")}) == 3


def test_label_set_for_a_config_and_hex_colours(tiny_config):
    assert label_set_for(CELEBAMASK_HQ.names, "celebamask-hq") is CELEBAMASK_HQ
    assert tiny_config().labels is CELEBAMASK_HQ
    custom = tiny_config(label_names=["background", "skin", "beard"], label_set="celebamask-hq").labels
    assert custom is not CELEBAMASK_HQ and custom.names == ("background", "skin", "beard")  # renamed classes
    assert hex_color((255, 0, 85)) == "#ff0055"
    assert CELEBAMASK_HQ.hex_colors[CELEBAMASK_HQ.index("u_lip")] == "#ff0000"


def test_mask_codes_are_never_class_ids():
    assert (IGNORE, NOT_ANNOTATED) == (255, 254)
    assert max(len(s) for s in LABEL_SETS.values()) < NOT_ANNOTATED
