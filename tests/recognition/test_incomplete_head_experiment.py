"""The incomplete-head experiment reads the shipped head out of the IR exactly, and its
fine-tuning learns from the true class's column only."""

from __future__ import annotations

import json
from types import ModuleType

import numpy as np
import pytest

from recognition.charmodel import DEFAULT_DIR
from recognition.preprocess import raise_ink
from tests.conftest import load_tool


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool("incomplete_head_experiment")


def test_the_head_read_from_the_ir_gives_the_irs_incomplete_scores(tool: ModuleType) -> None:
    meta = json.loads((DEFAULT_DIR / "model.json").read_text("utf-8"))
    size, gamma = int(meta["input_size"]), float(meta["input_gamma"])
    compiled, head = tool.load(DEFAULT_DIR / meta["ir"])
    rng = np.random.default_rng(3)
    inks = np.zeros((6, size, size), np.float32)
    for i, ink in enumerate(inks):  # a few bars of ink, different in each image
        for _ in range(i + 1):
            r, c = rng.integers(4, size - 12, 2)
            ink[r : r + 3, c : c + 10] = 1.0
    feats = tool.features(compiled, inks, gamma)
    assert feats.shape == (6, head.w1.shape[1])
    out = compiled(raise_ink(inks, gamma)[..., None])
    ir_scores = np.asarray(out[compiled.output("incomplete")], np.float32)
    np.testing.assert_allclose(head.scores(feats), ir_scores, atol=1e-4)
    assert ir_scores.std() > 1e-3  # the images do differ, so the match says something


def test_fine_tuning_learns_the_true_class_column_and_leaves_the_others(tool: ModuleType) -> None:
    rng = np.random.default_rng(0)
    d, hidden, classes = 8, 6, 3
    head = tool.Head(
        (rng.normal(size=(hidden, d)) * 0.3).astype(np.float32),
        np.zeros(hidden, np.float32),
        (rng.normal(size=(classes, hidden)) * 0.3).astype(np.float32),
        np.zeros(classes, np.float32),
    )
    feats = rng.normal(size=(400, d)).astype(np.float32)
    flags = (feats[:, 0] > 0).astype(np.float32)  # "strokes missing" when feature 0 is up
    cls = np.zeros(400, np.int64)  # every row of class 0
    weights = np.ones(400, np.float32)
    before = head.at(feats, cls)
    tuned = tool.fine_tune(head, feats, cls, flags, weights, epochs=30, seed=1, lr=1e-2)
    after = tuned.at(feats, cls)
    accuracy = np.mean((after >= 0.5) == (flags == 1))
    assert accuracy > 0.9 > np.mean((before >= 0.5) == (flags == 1))
    # Only class 0's output row was trained; classes 1 and 2 keep theirs.
    np.testing.assert_array_equal(tuned.w2[1:], head.w2[1:])
    np.testing.assert_array_equal(tuned.b2[1:], head.b2[1:])
