"""The hint ladder: each ask says more, for characters and words, and never the answer early."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from PIL import Image

from quizzes.hints import (
    MAX_LEVEL,
    NOTHING_TO_SHOW,
    HintLevel,
    char_info,
    hint,
    radical_of,
)
from quizzes.hsk import load_vocabulary
from quizzes.strokes import HSK1_STROKES, MissingStrokes, StrokeData

VOCABULARY = load_vocabulary()


def size_of(png: bytes | None) -> tuple[int, int]:
    assert png is not None
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img.size


def test_each_level_says_more_and_the_ladder_stops_at_the_stroke_order() -> None:
    ladder = [hint("我", level, VOCABULARY) for level in range(1, 7)]
    assert [h.level for h in ladder] == [1, 2, 3, 4, 4, 4]
    assert [h.key for h in ladder[:4]] == [
        "hint.radical",
        "hint.strokes",
        "hint.first_stroke",
        "hint.stroke_order",
    ]
    assert ladder[5] == ladder[3]
    assert [h.is_last for h in ladder] == [False, False, False, True, True, True]
    assert hint("我", 1000, VOCABULARY).level is MAX_LEVEL is HintLevel.STROKE_ORDER
    with pytest.raises(ValueError, match="start at 1"):
        hint("我", 0, VOCABULARY)


def test_a_character_hint_gives_its_radical_then_its_stroke_count() -> None:
    first = hint("我", 1, VOCABULARY)
    assert dict(first.values) == {"radicals": "戈", "count": 1}
    assert size_of(first.image) == (256, 256)  # where the radical sits in the character
    second = hint("我", 2, VOCABULARY)
    assert dict(second.values) == {"strokes": "7", "total": 7, "count": 1}
    assert second.image is None


def test_the_picture_hints_come_as_png() -> None:
    third, fourth = hint("我", 3, VOCABULARY), hint("我", 4, VOCABULARY)
    assert size_of(third.image) == size_of(fourth.image) == (256, 256)
    assert third.image != fourth.image
    assert third.filename == "hint-3.png" and fourth.filename == "hint-4.png"


def test_a_word_gives_every_characters_information() -> None:
    radicals = hint("朋友", 1, VOCABULARY)
    assert radicals.key == "hint.radical_partial"  # the data does not name 友's radical
    assert dict(radicals.values) == {"radicals": f"月 / {NOTHING_TO_SHOW}", "count": 2}
    assert dict(hint("谢谢", 1, VOCABULARY).values)["radicals"] == "讠 / 讠"
    strokes = hint("朋友", 2, VOCABULARY)
    assert strokes.key == "hint.strokes_word"
    assert dict(strokes.values) == {"strokes": "8 + 4", "total": 12, "count": 2}
    for level in (3, 4):
        assert size_of(hint("朋友", level, VOCABULARY).image) == (512, 256)


def test_the_first_hint_never_names_the_character_itself() -> None:
    for ch in VOCABULARY.charset:
        first = hint(ch, 1, VOCABULARY)
        if first.level is HintLevel.RADICAL:
            assert ch not in str(first.values["radicals"]), ch
        else:  # nothing to show of its radical: the stroke count comes first
            assert first.key == "hint.strokes" and first.total == 3, ch
    assert dict(hint("大学", 1, VOCABULARY).values)["radicals"] == f"{NOTHING_TO_SHOW} / 子"


def test_with_no_radical_to_show_the_ladder_starts_at_the_stroke_count() -> None:
    """人 and 女儿 are their own radicals, with no part to draw: a radical rung would
    only say so, so the first hint is the stroke count and the ladder has three rungs."""
    for target in ("人", "女儿"):
        ladder = [hint(target, level, VOCABULARY) for level in range(1, 5)]
        assert [h.key for h in ladder][:3] == [
            "hint.strokes" if len(target) == 1 else "hint.strokes_word",
            "hint.first_stroke",
            "hint.stroke_order",
        ]
        assert ladder[3] == ladder[2]  # past the last rung: the last again
        assert {h.total for h in ladder} == {3}
        assert [h.is_last for h in ladder] == [False, False, True, True]
    assert hint("我", 1, VOCABULARY).total == 4


def test_every_hsk_word_has_a_full_ladder() -> None:
    for word in VOCABULARY.words:
        rung = 2 if hint(word.hanzi, 1, VOCABULARY).total == 4 else 1
        counts = dict(hint(word.hanzi, rung, VOCABULARY).values)
        assert counts["count"] == word.length
        assert str(counts["strokes"]).count("+") == word.length - 1
        assert int(counts["total"]) >= word.length


def test_radical_strokes_in_the_data_give_a_picture() -> None:
    raw = json.loads(HSK1_STROKES.read_text("utf-8"))
    data = StrokeData({"京": {**raw["京"], "radStrokes": [0, 1]}, "人": raw["人"]})
    pictured = hint("京", 1, VOCABULARY, strokes=data)
    assert pictured.key == "hint.radical_picture"  # no name for it, but its place and shape
    assert size_of(pictured.image) == (256, 256)
    assert hint("人", 1, VOCABULARY, strokes=data).image is None


def test_character_information() -> None:
    info = char_info("我", VOCABULARY)
    assert (info.strokes, info.radical, info.is_radical) == (7, "戈", False)
    assert char_info("人", VOCABULARY).is_radical
    assert radical_of("我", VOCABULARY) == "戈"
    assert radical_of("话", VOCABULARY) == "讠"
    assert radical_of("京", VOCABULARY) == ""  # no source names it (see tools/build_hsk_data.py)
    assert radical_of("A", VOCABULARY) == ""


def test_targets_outside_the_data_are_refused_clearly() -> None:
    with pytest.raises(MissingStrokes) as raised:
        hint("我口", 2, VOCABULARY)
    assert raised.value.chars == "口"
    with pytest.raises(ValueError):
        hint("", 1, VOCABULARY)


def test_a_hint_is_a_value() -> None:
    h = hint("我", 2, VOCABULARY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        h.values["total"] = 1  # type: ignore[index]
    assert hint("我", 2) == h  # the vocabulary defaults to HSK 1
