"""tools/word_rates.py and the real-word builder it shares with the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recognition.linesynth import real_word, scanned_ink
from tests.conftest import REPO, load_tool

REAL = REPO.parent / "shared" / "data" / "real-handwriting"


def _scan(width: int, height: int, paper: int = 200) -> np.ndarray:
    """A grey scan with a dark bar ``width`` x ``height`` in it."""
    scan = np.full((100, 100), paper, dtype=np.uint8)
    scan[10 : 10 + height, 20 : 20 + width] = 40
    return scan


def test_scanned_ink_whitens_the_paper_and_cuts_to_the_ink() -> None:
    ink = scanned_ink(_scan(30, 50))
    assert ink.shape == (50, 30)
    assert ink.min() == 0


def test_real_word_lays_characters_side_by_side_space_apart() -> None:
    tall, wide = _scan(20, 40), _scan(40, 20)
    word = real_word([tall, wide], height=40, space=0.25)
    cols = np.flatnonzero((word < 128).any(axis=0))
    # tall: 20 px wide at height 40; then 10 px of paper; wide: 40 px.
    assert cols[0] == 24 and cols[-1] == 24 + 20 + 10 + 40 - 1
    assert len(cols) == 60
    touching = real_word([tall, wide], height=40, space=0.0)
    assert len(np.flatnonzero((touching < 128).any(axis=0))) == 60
    overlapping = real_word([tall, wide], height=40, space=-0.25)
    assert len(np.flatnonzero((overlapping < 128).any(axis=0))) == 50


def test_another_word_differs_in_one_character_of_the_set() -> None:
    tool = load_tool("word_rates")
    charset = "一二三四五六七八九十"
    for i in range(12):
        other = tool.another("三十", charset, i)
        assert len(other) == 2 and all(c in charset for c in other)
        assert sum(a != b for a, b in zip(other, "三十", strict=True)) == 1


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared real handwriting not available")
def test_word_rates_on_a_few_real_words(capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("word_rates")
    res = tool.main(["--words", "8", "--spaces", "0.2", "--hand", "0", "--fast", "--json"])
    [name] = [k for k in res if k != "operating_point"]
    r = res[name]
    assert res["operating_point"] == "fast" and r["words"] == 8
    assert sum(r["verdicts"].values()) == 8
    assert 0.0 <= r["accepted"] <= 1.0 and 0.0 <= r["singles_accepted"] <= 1.0
    assert r["wrong_accepted"] == 0.0
    assert '"operating_point": "fast"' in capsys.readouterr().out


def test_scans_of_one_sample_or_of_several(tmp_path: Path) -> None:
    tool = load_tool("word_rates")
    from PIL import Image

    for folder in (
        tmp_path / "one" / "一",
        tmp_path / "many" / "a" / "二",
        tmp_path / "many" / "b" / "一",
    ):
        folder.mkdir(parents=True)
        Image.fromarray(_scan(10, 10)).save(folder / "1.png")
    (tmp_path / "one" / "unknown").mkdir()
    assert [c for c, _ in tool.scans(tmp_path / "one", "一二")] == ["一"]
    assert sorted(c for c, _ in tool.scans(tmp_path / "many", "一二")) == ["一", "二"]
