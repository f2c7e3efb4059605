"""Radicals in the shipped data: the stroke file marks them, the vocabulary names them, and the
first hint shows them; the builder's stroke matching never names a wrong one."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from quizzes.hints import NOTHING_TO_SHOW, hint
from quizzes.hsk import load_vocabulary
from quizzes.strokeorder import radical_image
from quizzes.strokes import HSK1_STROKES, StrokeData, load_strokes
from tests.conftest import load_tool

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "quizzes" / "data" / "hsk1.json"
PACKAGE = REPO / ".cache" / "hanzi-writer-data"
VOCABULARY = load_vocabulary()
STROKES = load_strokes()


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return load_tool("build_hsk_data")


def shipped_characters() -> list[dict[str, str]]:
    data: dict[str, list[dict[str, str]]] = json.loads(SHIPPED.read_text("utf-8"))
    return data["characters"]


def is_png(data: bytes | None) -> bool:
    return data is not None and Image.open(io.BytesIO(data)).format == "PNG"


# --- the stroke file ---------------------------------------------------------------------------


def test_the_stroke_file_marks_radical_strokes() -> None:
    raw = json.loads(HSK1_STROKES.read_text("utf-8"))
    assert raw["话"]["radStrokes"] == [0, 1]  # 讠
    marked = [ch for ch in VOCABULARY.charset if raw[ch].get("radStrokes")]
    # The package leaves them out where the radical is the whole character (人, 大) and for a
    # few others (东, 师): most of HSK 1 has them.
    assert len(marked) >= 130
    assert "人" not in marked
    for ch in marked:
        strokes = raw[ch]["radStrokes"]
        assert strokes == sorted(set(strokes)) and strokes[-1] < len(raw[ch]["medians"]), ch
        assert STROKES[ch].radical_strokes == tuple(strokes)
    assert set(raw) == set(VOCABULARY.charset)
    assert {key for entry in raw.values() for key in entry} == {"strokes", "medians", "radStrokes"}


def test_the_extractor_keeps_radical_strokes(tmp_path: Path) -> None:
    extract = load_tool("extract_stroke_data").extract
    raw = json.loads(HSK1_STROKES.read_text("utf-8"))
    for ch in "话人":
        (tmp_path / f"{ch}.json").write_text(json.dumps(raw[ch]), "utf-8")
    out = json.loads(extract(tmp_path, "话人"))
    assert out["话"] == raw["话"] and "radStrokes" in out["话"]
    assert out["人"] == raw["人"] and "radStrokes" not in out["人"]

    (tmp_path / "话.json").write_text(json.dumps({**raw["话"], "radStrokes": [1, 0]}), "utf-8")
    with pytest.raises(SystemExit, match="radStrokes"):
        extract(tmp_path, "话")


@pytest.mark.skipif(not (PACKAGE / "ARPHICPL.TXT").exists(), reason="hanzi-writer-data not fetched")
def test_the_committed_stroke_file_is_what_the_extractor_writes() -> None:
    assert load_tool("extract_stroke_data").main([str(PACKAGE), "--check"]) == 0


# --- the vocabulary and the first hint ---------------------------------------------------------


def test_most_characters_have_a_radical_and_say_where_it_came_from() -> None:
    chars = shipped_characters()
    named = [c for c in chars if c["radical"]]
    assert len(named) >= 160  # of 178; see radicals_from_strokes for why the rest have none
    for c in chars:
        origin = c.get("radical_from", "")
        assert bool(c["radical"]) or not origin, c
        assert origin in ("", "hsk-new-level1.json", "Kangxi radical") or origin.startswith(
            "radStrokes as in "
        ), c
    by = {c["hanzi"]: c for c in chars}
    assert by["话"]["radical"] == "讠" and by["们"]["radical"] == "亻"  # from the HSK 3.0 list
    assert (by["语"]["radical"], by["语"]["radical_from"]) == ("讠", "radStrokes as in 说")
    assert (by["气"]["radical"], by["气"]["radical_from"]) == ("气", "Kangxi radical")


def test_every_named_radical_is_the_first_hint() -> None:
    for ch in VOCABULARY.charset:
        entry = VOCABULARY.character(ch)
        assert entry is not None
        first = hint(ch, 1, VOCABULARY)
        if entry.radical and entry.radical != ch:
            assert first.key == "hint.radical", ch
            assert first.values["radicals"] == entry.radical, ch
        elif first.key == "hint.radical_picture":  # no name, but a part to draw
            assert first.values["radicals"] == NOTHING_TO_SHOW, ch
        else:  # nothing to show: the ladder starts at the stroke count
            assert first.key == "hint.strokes", ch


def test_a_proper_part_is_drawn() -> None:
    assert is_png(radical_image("话"))
    assert is_png(hint("话", 1, VOCABULARY).image)
    # Each character whose radical is a part of it; 人 (no radStrokes) alone has no picture.
    parts = [
        ch for ch in VOCABULARY.charset if 0 < len(STROKES[ch].radical_strokes) < len(STROKES[ch])
    ]
    assert len(parts) >= 130
    for ch in parts[::10]:
        assert is_png(radical_image(ch)), ch
    assert radical_image("人") is None


# --- the builder's stroke matching -------------------------------------------------------------


def test_stroke_matching_never_names_a_wrong_radical(build: ModuleType) -> None:
    """Hide each radical the word lists give and match it again: right or no answer."""
    listed = {
        c["hanzi"]: c["radical"]
        for c in shipped_characters()
        if c["radical"] and c.get("radical_from", "hsk-new-level1.json") == "hsk-new-level1.json"
    }
    examples = {}
    for ch, radical in listed.items():
        comp = build.component(STROKES[ch])
        if comp is not None:
            examples[ch] = (comp, radical)
    ambiguous = build.confusable(examples)
    # The lists call 月 月 in 有 but ⺼ in 能, and 日 日 in 是 but 曰 in 电.
    assert ambiguous == {"月", "⺼", "日", "曰"}
    named = 0
    for ch, (comp, radical) in examples.items():
        found = build.match_radical(comp, examples, ambiguous)
        if found is not None:
            assert found[0] == radical, (ch, found)
            named += 1
    assert named >= 50


def test_stroke_matching_rules(build: ModuleType) -> None:
    Radical = build.Radical
    known = {"说": Radical("讠", ""), "朋": Radical("月", ""), "有": Radical("月", "")}
    known |= {"能": Radical("⺼", ""), "人": Radical("人", "")}
    found = build.radicals_from_strokes("语气脑京师", known, STROKES)
    assert found == {
        "语": Radical("讠", "radStrokes as in 说"),
        "气": Radical("气", "Kangxi radical"),  # no radical strokes, and a radical itself
    }  # 脑: 月 or ⺼; 京: no character with 亠; 师: no radical strokes, not a radical
    with pytest.raises(build.BuildError, match="Kangxi"):
        build.radicals_from_strokes("", {"人": Radical("一", "")}, STROKES)


def test_word_lists_must_agree_on_radicals(build: ModuleType) -> None:
    first = [{"simplified": "话", "radical": "讠"}, {"simplified": "们", "radical": ""}]
    other = [{"simplified": "电话", "radical": "曰"}]  # the radical of its first character, 电
    found = build.list_radicals([("", first), ("other", other)])
    assert found == {"话": build.Radical("讠", ""), "电": build.Radical("曰", "other")}
    with pytest.raises(build.BuildError, match="话"):
        build.list_radicals([("", first), ("other", [{"simplified": "话说", "radical": "言"}])])


def test_the_builder_matches_on_any_stroke_data(build: ModuleType) -> None:
    raw = json.loads(HSK1_STROKES.read_text("utf-8"))
    strokes = StrokeData({ch: raw[ch] for ch in "说语"})
    words = [{"hanzi": "说", "radical": "讠"}, {"hanzi": "汉语", "radical": "氵"}]
    found = build.find_radicals("说汉语", [("", words)], strokes)
    assert found["语"] == build.Radical("讠", "radStrokes as in 说")
    assert found["汉"].radical == "氵" and "说" in found
