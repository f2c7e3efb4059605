"""tools/incomplete_rates.py on a tiny synthetic test split with the committed model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recognition.training.dataset import build
from tests.conftest import REPO, load_tool


def test_incomplete_rates_count_each_kind_once(tmp_path: Path) -> None:
    tool = load_tool("incomplete_rates")
    build(
        "一大学", n_per_class=3, incomplete_per_class=2, unknown=4, seed=11, split="test",
        size=48, workers=1, cache_dir=tmp_path, progress=False,
    )  # fmt: skip
    [npz] = tmp_path.glob("test-*.npz")
    data = np.load(npz)
    from recognition.charmodel import CharModel

    model = CharModel(REPO / "models" / "char")
    res = tool.rates(model, npz)
    n = len(model.charset)
    known = data["labels"] < n
    assert res["incomplete_images"] == int((known & (data["incomplete"] == 1)).sum()) > 0
    complete = known & (data["incomplete"] == 0) & (data["blank"] == 0)
    assert res["complete_images"] == int(complete.sum()) > 0
    assert res["threshold"] == model.thresholds.incomplete
    for key in ("incomplete_flagged", "complete_falsely_flagged", "incomplete_accepted_as_correct"):
        assert 0.0 <= res[key] <= 1.0
    assert res["score_flagged_at_5pct_false_flags"] >= res["score_flagged_at_3pct_false_flags"]


def test_photos_are_judged_as_the_bot_judges_them_at_both_points() -> None:
    tool = load_tool("incomplete_rates")
    from recognition.charmodel import load_char_model

    photos, targets, kinds = tool.render_test_photos("学校", 4, unknown=6)
    assert len(photos) == len(targets) == len(kinds)
    # 4 complete and 2 incomplete of each character, and the negatives.
    assert [int(np.sum(kinds == k)) for k in ("incomplete", "unknown")] == [4, 6]
    assert set(kinds[: len(kinds) - 6]) <= {"char", "font", "incomplete"}
    assert all(p.startswith(b"\x89PNG") for p in photos)
    model = load_char_model(REPO / "models" / "char")
    try:
        asked = model.tally.doubtful
        res = tool.photo_verdicts(model, photos, targets, kinds)
        # The thorough point asks the readers for every character at least.
        assert model.tally.doubtful - asked >= len(photos)
    finally:
        model.close()
    assert set(res) == {"fast", "thorough"}
    for point in res.values():
        assert point["incomplete_flagged"] + point["incomplete_accepted_as_correct"] <= 1.0
        assert point["complete_falsely_flagged"] + point["complete_accepted"] <= 1.0
        # Clean renders of two common characters: most are read as themselves, and most
        # negatives are turned away.
        assert point["complete_accepted"] >= 0.75
        assert point["unknown_rejected"] >= 0.5
