"""What retraining makes of an exported feedback folder, and its acceptance rule (no TensorFlow)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recognition.training.retrain import (
    Feedback,
    RetrainError,
    judge,
    load_feedback,
    main,
    split,
)
from tests.recognition.photos import blank_page

CHARSET = "一二三人大"
MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "char"


def strokes_png(seed: int) -> bytes:
    """A few dark pen strokes on light paper: writing, as far as preprocessing can tell."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", (160, 160), 230)
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x0, y0, x1, y1 = rng.integers(30, 130, 4).tolist()
        draw.line([(x0, y0), (x1, y1)], fill=25, width=7)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_an_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / "大").mkdir(parents=True)
    with pytest.raises(RetrainError, match="no images in"):
        load_feedback(tmp_path / "empty", CHARSET, 48)
    with pytest.raises(RetrainError, match="is not a folder"):
        load_feedback(tmp_path / "missing", CHARSET, 48)


def test_a_folder_of_unusable_images_says_why(tmp_path: Path) -> None:
    write(tmp_path / "大" / "a.png", b"not an image")
    write(tmp_path / "大" / "b.png", blank_page())
    with pytest.raises(RetrainError, match="1 not a readable image, 1 no ink found"):
        load_feedback(tmp_path, CHARSET, 48)


def test_odd_entries_are_skipped_or_counted_as_unknown_and_reported(tmp_path: Path) -> None:
    write(tmp_path / "大" / "1.png", strokes_png(1))
    write(tmp_path / "大" / "broken.png", b"\x89PNG broken")
    write(tmp_path / "猫" / "1.png", strokes_png(2))  # one character outside the set
    write(tmp_path / "unknown" / "1.png", strokes_png(3))
    write(tmp_path / "你好" / "1.png", strokes_png(4))  # a word is not a label
    write(tmp_path / "大" / "notes.txt", b"not an image file at all")
    write(tmp_path / "二" / "1.png", strokes_png(5))  # an admin turned this correction down
    manifest = [
        {"file": "大/1.png", "user": "u1", "status": "accepted"},
        {"file": "二/1.png", "user": "u2", "status": "rejected"},
    ]
    lines = [json.dumps(m, ensure_ascii=False) for m in manifest]
    (tmp_path / "manifest.jsonl").write_text("\n".join([*lines, "not json", "[1]"]) + "\n")

    fb = load_feedback(tmp_path, CHARSET, 48)

    assert fb.found == 6
    assert sorted(fb.files) == ["unknown/1.png", "大/1.png", "猫/1.png"]
    labels = dict(zip(fb.files, fb.labels.tolist(), strict=True))
    assert labels == {"大/1.png": 4, "猫/1.png": 5, "unknown/1.png": 5}
    assert fb.as_unknown == {"猫": 1}
    assert fb.skipped["not a readable image"] == ["大/broken.png"]
    assert fb.skipped["folder is not one character or 'unknown'"] == ["你好/1.png"]
    assert fb.skipped["correction rejected by an admin (manifest status)"] == ["二/1.png"]
    assert len(fb.skipped["manifest.jsonl lines unreadable (writers unknown for them)"]) == 2
    assert dict(zip(fb.files, fb.writers, strict=True))["大/1.png"] == "u1"
    assert fb.x.shape == (3, 48, 48) and fb.x.dtype == np.uint8


def fake_feedback(writers: list[str]) -> Feedback:
    n = len(writers)
    return Feedback(
        np.zeros((n, 48, 48), np.uint8),
        np.zeros(n, np.int32),
        tuple(f"大/{i}.png" for i in range(n)),
        tuple(writers),
        n,
    )


def test_the_held_out_part_never_shares_a_writer_with_training() -> None:
    fb = fake_feedback([f"u{i % 7}" for i in range(70)])
    train, held, how = split(fb, 0.25, seed=3)
    assert "by writer (7 writers" in how
    assert 0 < len(held) <= 0.25 * 70
    assert {fb.writers[i] for i in train}.isdisjoint({fb.writers[i] for i in held})
    assert sorted([*train, *held]) == list(range(70))
    again = split(fb, 0.25, seed=3)
    assert again[0].tolist() == train.tolist() and again[1].tolist() == held.tolist()


def test_without_writers_single_images_are_held_out() -> None:
    fb = fake_feedback([""] * 20)
    train, held, how = split(fb, 0.25, seed=3)
    assert "by image" in how
    assert len(held) == 5 and len(train) == 15


def test_one_huge_writer_is_never_the_whole_held_out_side() -> None:
    fb = fake_feedback(["big"] * 30 + ["small"] * 4)
    train, held, _ = split(fb, 0.25, seed=1)
    assert {fb.writers[i] for i in held} == {"small"}
    assert len(train) == 30


def test_the_rule_installs_only_when_nothing_got_worse_beyond_the_tolerance() -> None:
    old = {
        "feedback": {"verify_accept_correct": 0.70, "verify_accept_wrong": 0.01},
        "synthetic": {"top1": 0.98},
    }
    better = {
        "feedback": {"verify_accept_correct": 0.80, "verify_accept_wrong": 0.015},
        "synthetic": {"top1": 0.975},
    }
    result = judge(old, better, tolerance=0.01)
    assert [c.passed for c in result] == [True, True, None, True]  # no unknown images

    worse = {
        "feedback": {"verify_accept_correct": 0.90, "verify_accept_wrong": 0.03},
        "synthetic": {"top1": 0.99},
    }
    failed = [c.label for c in judge(old, worse, tolerance=0.01) if c.passed is False]
    assert failed == ["feedback wrong answers accepted"]


def test_the_command_reports_an_empty_folder_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "char"
    shutil.copytree(MODEL_DIR, model)
    (tmp_path / "feedback").mkdir()
    (tmp_path / "feedback" / "manifest.jsonl").write_text(json.dumps({"file": "x.png"}) + "\n")

    code = main(["--feedback", str(tmp_path / "feedback"), "--model-dir", str(model)])

    assert code == 2
    assert "no images in" in capsys.readouterr().err


def test_feedback_ink_is_raised_to_the_models_input_gamma(tmp_path: Path) -> None:
    write(tmp_path / "大" / "1.png", strokes_png(1))
    plain = load_feedback(tmp_path, CHARSET, 48).x[0].astype(np.float32) / 255
    raised = load_feedback(tmp_path, CHARSET, 48, gamma=0.5).x[0].astype(np.float32) / 255
    # What the bot's model reads of the same photo: faint ink lifted, paper and the
    # darkest ink where they were.
    assert np.allclose(raised, np.sqrt(plain), atol=2 / 255)
    assert raised.max() == plain.max() and (raised[plain == 0] == 0).all()
    assert (raised >= plain).all() and (raised > plain + 0.05).any()
