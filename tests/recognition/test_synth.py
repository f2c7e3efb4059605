"""The synthetic handwriting generator: reproducible, inked, labelled as promised."""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from quizzes.hsk import load_vocabulary
from recognition.training.photo import normalize_polarity, photograph
from recognition.training.strokes import (
    DEFAULT_CACHE,
    HSK1_STROKES,
    StrokeData,
    parse_svg_path,
)
from recognition.training.synth import (
    LOOKALIKES,
    UNKNOWN,
    FontFace,
    Generator,
    HandOptions,
    _draw_hand,
    _flowing_link,
    _foot,
    _pen_strokes,
    _round_off,
    _running_paths,
    _shorten_feet,
    find_cjk_fonts,
    generate,
    split_fonts,
)

CHARSET = load_vocabulary().charset
SIZE = 64


def ink(img: np.ndarray) -> int:
    """Total darkness: how much ink an image holds."""
    return int((255 - img.astype(np.int64)).sum())


@pytest.fixture(scope="module")
def hsk1() -> StrokeData:
    # The committed subset: these tests must run on a fresh clone without npm.
    return StrokeData(HSK1_STROKES)


@pytest.fixture(scope="module")
def fonts() -> tuple[FontFace, ...]:
    return split_fonts(find_cjk_fonts()).train


@pytest.fixture(scope="module")
def gen(hsk1: StrokeData, fonts: tuple[FontFace, ...]) -> Generator:
    return Generator(hsk1, fonts, seed=7, size=SIZE)


@pytest.fixture(scope="module")
def full_strokes() -> StrokeData:
    for candidate in (os.environ.get("HANZI_STROKE_DATA"), str(DEFAULT_CACHE)):
        if candidate and Path(candidate).is_dir():
            data = StrokeData(Path(candidate))
            if len(data) > 1000:
                return data
    pytest.skip(
        "the full hanzi-writer-data package is not here: run tools/fetch_stroke_data.sh "
        "or set HANZI_STROKE_DATA to its directory"
    )


def test_the_committed_stroke_data_covers_hsk1_with_its_licence(hsk1: StrokeData) -> None:
    raw = json.loads(HSK1_STROKES.read_text("utf-8"))
    assert set(raw) == set(CHARSET)
    for ch, entry in raw.items():
        assert {"strokes", "medians"} <= set(entry) <= {"strokes", "medians", "radStrokes"}
        assert len(entry["strokes"]) == len(entry["medians"]) >= 1, ch
    assert "ARPHIC PUBLIC LICENSE" in (HSK1_STROKES.parent / "LICENSE-ARPHIC.txt").read_text()
    # Converted to the unit box with y down: 我 sits inside it, its first stroke near the top.
    wo = hsk1["我"]
    points = np.vstack(wo.medians)
    assert points.min() > -0.15 and points.max() < 1.15
    assert wo.medians[0][:, 1].mean() < 0.5


def test_svg_outlines_are_flattened_into_closed_polygons() -> None:
    (square,) = parse_svg_path("M 0 0 L 10 0 Q 10 10 0 10 Z")
    assert square[0].tolist() == [0.0, 0.0]
    assert square[-1].tolist() == [0.0, 10.0]
    assert len(square) == 2 + 6  # the curve is six straight pieces
    relative = parse_svg_path("m 5 5 l 10 0 c 0 5 -10 5 -10 0 z M 0 0 L 1 1 L 0 1 Z")
    assert len(relative) == 2
    assert relative[0][1].tolist() == [15.0, 5.0]
    with pytest.raises(ValueError):
        parse_svg_path("10 10 L 5 5")


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(gen: Generator) -> None:
    for kind, label in (("char", "我"), ("incomplete", "学"), ("unknown", UNKNOWN)):
        a = gen.make(label, kind, gen.rng_for(1, 2, 3))  # type: ignore[arg-type]
        b = gen.make(label, kind, gen.rng_for(1, 2, 3))  # type: ignore[arg-type]
        c = gen.make(label, kind, gen.rng_for(1, 2, 4))  # type: ignore[arg-type]
        assert a.image.tobytes() == b.image.tobytes() and a.dropped == b.dropped
        assert a.image.tobytes() != c.image.tobytes()
    one = generate("我你", 2, seed=3, unknown=2, progress=False, strokes=HSK1_STROKES)
    two = generate("我你", 2, seed=3, unknown=2, progress=False, strokes=HSK1_STROKES)
    other = generate("我你", 2, seed=4, unknown=2, progress=False, strokes=HSK1_STROKES)
    assert one.images.tobytes() == two.images.tobytes()
    assert one.images.tobytes() != other.images.tobytes()
    # A character's samples do not depend on which other characters are in the set.
    alone = generate("你", 2, seed=3, unknown=0, progress=False, strokes=HSK1_STROKES)
    assert alone.images.tobytes() == one.images[2:4].tobytes()


def test_every_hsk1_character_renders_as_dark_ink_on_light_paper(gen: Generator) -> None:
    for i, ch in enumerate(CHARSET):
        for style in ("pen", "brush"):
            s = gen.render_char(ch, gen.rng_for(5, i), style=style)  # type: ignore[arg-type]
            assert s.image.shape == (SIZE, SIZE) and s.image.dtype == np.uint8
            assert s.label == ch and s.kind == "char"
            dark = int((s.image < 96).sum())
            assert 4 <= dark < SIZE * SIZE * 0.6, (ch, style, dark)
            assert s.image.max() == 255  # clean paper around the character


def test_font_samples_render_the_character(gen: Generator) -> None:
    if not gen.fonts:
        pytest.skip("no CJK fonts installed (apt: fonts-arphic-ukai fonts-wqy-zenhei ...)")
    for i, ch in enumerate("我爱你好学生们"):
        s = gen.render_char(ch, gen.rng_for(6, i), style="font")
        assert s.kind == "font" and s.label == ch
        assert (s.image < 96).sum() > 20


def test_photographs_keep_the_shape_and_type_and_show_ink(gen: Generator) -> None:
    for i in range(40):
        s = gen.make(CHARSET[i], "char", gen.rng_for(8, i))
        img = normalize_polarity(s.image)
        assert img.shape == (SIZE, SIZE) and img.dtype == np.uint8
        assert np.percentile(img, 90) - img.min() > 25, i  # some ink against the paper
        assert img.mean() > 90
    clean = gen.render_char("写", gen.rng_for(9), style="pen").image
    for grid in ("none", "tian", "mi", "lined", "squared"):
        photo = photograph(clean, gen.rng_for(10), grid=grid, board=False)  # type: ignore[arg-type]
        assert photo.shape == clean.shape and photo.dtype == np.uint8


def test_a_board_photo_is_light_on_dark_until_polarity_is_normalised(gen: Generator) -> None:
    for i in range(10):
        clean = gen.render_char(CHARSET[i], gen.rng_for(11, i), style="pen").image
        board = gen.photo(clean, gen.rng_for(12, i), board=True)
        assert board.mean() < 110
        fixed = normalize_polarity(board)
        assert fixed.mean() > 145
        # The chalk has become dark ink on a light background.
        assert np.percentile(fixed, 2) < np.median(fixed) - 40
        paper = gen.photo(clean, gen.rng_for(13, i), board=False)
        assert normalize_polarity(paper) is paper


def test_incomplete_variants_lack_the_dropped_strokes(gen: Generator) -> None:
    for i, ch in enumerate("我你学爱是的中国人喝"):
        for style in ("pen", "brush"):
            full = gen.render_char(ch, gen.rng_for(14, i), style=style)  # type: ignore[arg-type]
            part = gen.render_incomplete(ch, gen.rng_for(14, i), style=style)  # type: ignore[arg-type]
            n = len(gen.strokes[ch])
            assert part.kind == "incomplete" and part.label == ch
            assert part.dropped and len(part.dropped) < n
            assert all(0 <= d < n for d in part.dropped)
            assert ink(part.image) < ink(full.image), (ch, style, part.dropped)
            # Nothing appears that the full drawing does not have.
            assert (part.image >= full.image.astype(np.int64) - 1).all()


def _polyline(*corners: tuple[float, float], step: float = 0.03) -> np.ndarray:
    pts = [np.array(corners[0])]
    for a, b in itertools.pairwise(corners):
        n = int(np.ceil(np.hypot(b[0] - a[0], b[1] - a[1]) / step))
        pts += [np.array(a) + (np.array(b) - np.array(a)) * t for t in np.arange(1, n + 1) / n]
    return np.array(pts)


def test_a_running_hand_rounds_corners_and_keeps_the_ends() -> None:
    corner = _polyline((0.2, 0.2), (0.8, 0.2), (0.8, 0.8))
    fast = _round_off(corner, 0.05)
    assert fast.shape == corner.shape
    assert np.allclose(fast[[0, -1]], corner[[0, -1]])
    # The corner is cut: the path passes well inside it.
    assert np.hypot(*(fast - [0.8, 0.2]).T).min() > 0.02
    assert _round_off(corner, 0.0) is corner


def test_a_running_hand_joins_linked_strokes_into_one_path() -> None:
    hand = _draw_hand(np.random.default_rng(0), options=HandOptions(cursive=1.0))
    assert hand.running > 0 and hand.connect >= 0.5
    a, b = _polyline((0.2, 0.3), (0.7, 0.3)), _polyline((0.3, 0.5), (0.7, 0.5))
    strokes = [(a, np.ones(len(a))), (b, np.ones(len(b)))]
    joined = _running_paths([a, b], strokes, [(True, 0.1, 0.4)], (), hand)
    assert len(joined) == 1 and len(joined[0][0]) > len(a) + len(b)
    # The pen only travels between strokes: thinner there.
    assert joined[0][1].min() < hand.pen
    assert len(_running_paths([a, b], strokes, [(False, 0.1, 0.4)], (), hand)) == 2
    # A stroke left out (incomplete) breaks the path: what is left is the other stroke.
    (alone,) = _running_paths([a, b], strokes, [(True, 0.1, 0.4)], (0,), hand)
    assert len(alone[0]) == len(b)


def test_a_running_join_follows_the_pen_and_turns_back_in_a_loop() -> None:
    # 又: the first stroke ends heading down-left; the second starts up to its right,
    # heading down-right. The pen carries on, swings round and comes in along the stroke.
    a, b = _polyline((0.6, 0.3), (0.3, 0.7)), _polyline((0.4, 0.45), (0.75, 0.8))
    path = _flowing_link(a, b, 1.0)
    assert path is not None
    assert np.allclose(path[[0, -1]], [a[-1], b[0]])
    out, into, gap = a[-1] - a[-3], b[2] - b[0], b[0] - a[-1]
    assert gap @ out < 0  # the next stroke starts behind the pen ...
    assert (path[1] - path[0]) @ out > 0  # ... which leaves forwards all the same
    assert (path[-1] - path[-2]) @ into > 0  # and arrives along the stroke
    # Points close enough to draw smoothly.
    assert np.hypot(*np.diff(path, axis=0).T).max() < 0.05
    assert _flowing_link(a, _polyline((0.3, 1.5), (0.9, 1.5)), 1.0) is None  # pen lifted


def test_turn_gives_some_strokes_a_steeper_angle() -> None:
    """``HandOptions.turn`` turns about a third of the strokes well off their direction
    (a 横 written rising steeply); without it strokes keep within a few degrees."""
    rows = [_polyline((0.2, 0.1 + 0.8 * i / 300), (0.8, 0.1 + 0.8 * i / 300)) for i in range(300)]

    def angles(turn: float) -> npt.NDArray[np.float64]:
        hand = _draw_hand(np.random.default_rng(5), neat=True, options=HandOptions(turn=turn))
        drawn = _pen_strokes(rows, hand, np.random.default_rng(6))
        chords = np.array([pts[-1] - pts[0] for pts, _ in drawn])
        return np.degrees(np.abs(np.arctan2(chords[:, 1], chords[:, 0])))

    plain, turned = angles(0.0), angles(20.0)
    assert np.percentile(plain, 90) < 8
    steep = np.mean(turned > 15)
    assert 0.1 < steep < 0.35, steep  # a share of the turned third, never most strokes
    assert np.median(turned) < 8


def test_bend_cuts_short_only_the_feet_of_down_then_right_strokes(hsk1: StrokeData) -> None:
    """``HandOptions.bend`` shortens the foot of 竖弯 / 竖弯钩 (四's fourth stroke, 七's
    second, 儿's second) and leaves folds (中's 横折, 出's 竖折, 医's bottom) alone."""
    feet = {
        ch: [i for i, m in enumerate(hsk1[ch].medians) if _foot(m) is not None]
        for ch in "四七儿中出医日十"
    }
    assert feet == {
        "四": [3],
        "七": [1],
        "儿": [1],
        "中": [],
        "出": [],
        "医": [],
        "日": [],
        "十": [],
    }
    seven = hsk1["七"].medians
    cut = _shorten_feet(seven, 1.0, np.random.default_rng(0))
    assert np.array_equal(cut[0], seven[0])
    foot_of = lambda m: float(m[:, 0].max() - m[int(np.argmax(m[:, 1] - m[:, 0])), 0])  # noqa: E731
    assert 0.1 * foot_of(seven[1]) < foot_of(cut[1]) < 0.7 * foot_of(seven[1])
    assert np.array_equal(cut[1][:5], seven[1][:5])  # the upright part is untouched
    kept = _shorten_feet(seven, 0.0, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(kept, seven, strict=True))


def test_running_hand_samples_are_characters_and_can_be_incomplete(hsk1: StrokeData) -> None:
    fast = Generator(hsk1, (), seed=7, size=SIZE, hand_options=HandOptions(cursive=1.0))
    plain = Generator(hsk1, (), seed=7, size=SIZE)
    for i, ch in enumerate("我学国对客"):
        full = fast.render_char(ch, fast.rng_for(3, i), style="pen")
        assert ink(full.image) > 0
        assert not np.array_equal(
            full.image, plain.render_char(ch, plain.rng_for(3, i), style="pen").image
        )
        part = fast.render_incomplete(ch, fast.rng_for(3, i), style="pen")
        assert ink(part.image) < ink(full.image), (ch, part.dropped)


def test_the_last_stroke_is_the_one_most_often_left_out(gen: Generator) -> None:
    n = len(gen.strokes["我"])
    drops = Counter(gen.render_incomplete("我", gen.rng_for(15, i)).dropped for i in range(150))
    assert drops[(n - 1,)] == max(drops.values()) and drops[(n - 1,)] > 50
    assert any(len(d) > 1 for d in drops)
    assert any(d != (n - 1,) and len(d) == 1 for d in drops)


def test_no_incomplete_variant_is_another_target(gen: Generator) -> None:
    # 三 without any stroke is 二, 二 without either is 一: they cannot be incomplete.
    for ch in "一二三":
        assert not gen.can_be_incomplete(ch)
        with pytest.raises(ValueError):
            gen.render_incomplete(ch, gen.rng_for(16))
    seen = {gen.render_incomplete("大", gen.rng_for(17, i)).dropped for i in range(30)}
    assert (0,) not in seen  # 大 without 一 is 人
    seen = {gen.render_incomplete("少", gen.rng_for(18, i)).dropped for i in range(30)}
    assert (3,) not in seen  # 少 without its last stroke is 小


def test_unknown_samples_never_carry_or_show_a_target(gen: Generator) -> None:
    sources = Counter()
    for i in range(200):
        s = gen.render_unknown(gen.rng_for(19, i))
        assert s.label == UNKNOWN and s.kind == "unknown" and s.dropped == ()
        assert s.image.shape == (SIZE, SIZE)
        kind, _, what = s.source.partition(":")
        sources[kind] += 1
        if kind == "other":
            assert what not in CHARSET and what not in LOOKALIKES
    assert {"latin", "scribble", "blank"} <= set(sources)


def test_negatives_from_the_full_stroke_data(
    full_strokes: StrokeData, fonts: tuple[FontFace, ...]
) -> None:
    train = Generator(full_strokes, fonts, seed=1, split="train")
    test = Generator(full_strokes, fonts, seed=1, split="test")
    assert len(train._negatives) > 8000
    assert not set(train._negatives) & set(test._negatives)
    assert not (set(train._negatives) | set(test._negatives)) & (set(CHARSET) | LOOKALIKES)
    for i in range(60):
        s = train.render_unknown(train.rng_for(20, i))
        kind, _, what = s.source.partition(":")
        if kind == "other":  # from the stroke data or, now and then, from a font
            assert train._is_negative(what) and not test._is_negative(what)


def test_font_split_is_disjoint_and_stable() -> None:
    faces = [
        FontFace(f"/fonts/{pkg}/{name}.ttc", i, f"{name} {i}")
        for pkg, name in (
            ("arphic", "ukai"),
            ("arphic", "uming"),
            ("wqy", "wqy-zenhei"),
            ("wqy", "wqy-microhei"),
            ("noto", "NotoSansCJK-Bold"),
            ("lxgw-wenkai", "LXGWWenKaiMono-Regular"),
            ("seto", "setofont"),
        )
        for i in range(2)
    ]
    faces.append(FontFace("/fonts/noto/NotoSansCJK-Regular.ttc", 0, "Noto Sans CJK SC"))
    faces.append(FontFace("/fonts/lxgw-wenkai/LXGWWenKai-Regular.ttf", 0, "LXGW WenKai"))
    split = split_fonts(faces)
    assert split.train and split.held_out
    assert not {f.group for f in split.train} & {f.group for f in split.held_out}
    assert set(split.train) | set(split.held_out) == set(faces)
    assert split_fonts(list(reversed(faces))) == split
    # The faces of one package (weights, a Mono sibling) are one design and travel together.
    for group in ("noto", "lxgw-wenkai"):
        assert len({f in split.train for f in faces if f.group == group}) == 1
    installed = split_fonts(find_cjk_fonts())
    assert not set(installed.train) & set(installed.held_out)


def test_every_font_design_is_drawn_equally_often(
    hsk1: StrokeData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package of 120 faces (YOzFont) must not crowd out one of a single face."""
    many = [FontFace(f"/fonts/many/face{i}.ttf", 0, f"face{i}") for i in range(120)]
    one = FontFace("/fonts/one/only.ttf", 0, "only")
    gen = Generator(hsk1, [*many, one], seed=1)
    # The many-face design lacks 这 (as Japanese faces lack simplified-only characters).
    monkeypatch.setattr(gen, "has_glyph", lambda face, ch: face == one or ch != "这")
    picks = [gen._pick_face("四", gen.rng_for(i)) for i in range(400)]
    assert 150 < sum(p == one for p in picks) < 250
    assert {gen._pick_face("这", gen.rng_for(i)) for i in range(50)} == {one}


def test_generate_labels_counts_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    ds = generate(
        "我二", 3, seed=5, incomplete_per_class=2, unknown=4, strokes=HSK1_STROKES, fonts=()
    )
    assert ds.images.shape == (3 + 2 + 3 + 4, SIZE, SIZE) and ds.images.dtype == np.uint8
    assert Counter(zip(ds.labels, ds.kinds, strict=True)) == {
        ("我", "char"): 3,
        ("我", "incomplete"): 2,
        ("二", "char"): 3,  # 二 cannot be incomplete
        (UNKNOWN, "unknown"): 4,
    }
    assert all(bool(d) == (k == "incomplete") for d, k in zip(ds.dropped, ds.kinds, strict=True))
    assert "synth train" in capsys.readouterr().err


def test_worker_processes_give_the_same_data_as_one() -> None:
    kw = dict(seed=9, unknown=3, strokes=HSK1_STROKES, fonts=(), progress=False)
    serial = generate("你好", 3, workers=1, **kw)  # type: ignore[arg-type]
    parallel = generate("你好", 3, workers=2, **kw)  # type: ignore[arg-type]
    assert serial.images.tobytes() == parallel.images.tobytes()
    assert serial.labels == parallel.labels and serial.kinds == parallel.kinds
