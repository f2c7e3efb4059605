"""Greedy CTC decoding on hand-made scores: repeats, blanks, confidences, empty output, batches."""

from __future__ import annotations

import numpy as np
import pytest

from recognition.ctc import CTCResult, greedy_decode, greedy_decode_batch, softmax

# Classes: 0 = blank, 1 = 我, 2 = 们, 3 = 学.
CHARSET = "我们学"


def probs(*rows: tuple[int, float]) -> np.ndarray:
    """One step per row: the winning class gets `p`, the rest share what is left."""
    out = np.zeros((len(rows), 4), dtype=np.float32)
    for t, (cls, p) in enumerate(rows):
        out[t] = (1.0 - p) / 3
        out[t, cls] = p
    return out


def test_repeats_collapse_into_one_character() -> None:
    result = greedy_decode(probs((1, 0.9), (1, 0.7), (2, 0.8)), CHARSET)
    assert result.text == "我们"
    assert [(c.start, c.end) for c in result.chars] == [(0, 2), (2, 3)]
    assert result.steps == 3


def test_a_blank_between_repeats_keeps_both() -> None:
    result = greedy_decode(probs((1, 0.9), (0, 0.9), (1, 0.6), (0, 0.9)), CHARSET)
    assert result.text == "我我"
    assert [(c.start, c.end) for c in result.chars] == [(0, 1), (2, 3)]


def test_confidence_is_the_mean_or_max_of_the_characters_steps() -> None:
    scores = probs((3, 0.9), (3, 0.5), (0, 0.99))
    mean = greedy_decode(scores, CHARSET)
    best = greedy_decode(scores, CHARSET, reduce="max")
    assert mean.chars[0].confidence == pytest.approx(0.7)
    assert best.chars[0].confidence == pytest.approx(0.9)
    assert mean.chars[0].index == 3
    assert mean.confidences == (pytest.approx(0.7),)


def test_a_reading_is_as_confident_as_its_weakest_character() -> None:
    result = greedy_decode(probs((1, 0.95), (0, 0.9), (2, 0.55)), CHARSET)
    assert result.confidence == pytest.approx(0.55)


def test_all_blanks_decode_to_nothing() -> None:
    result = greedy_decode(probs((0, 0.9), (0, 0.8)), CHARSET)
    assert result == CTCResult("", (), 2)
    assert result.confidence == 0.0


def test_zero_steps_decode_to_nothing() -> None:
    assert greedy_decode(np.zeros((0, 4), np.float32), CHARSET).text == ""


def test_logits_are_softmaxed_first() -> None:
    logits = np.log(probs((2, 0.8), (0, 0.9))) + 5.0  # a shift softmax must undo
    result = greedy_decode(logits, CHARSET, probabilities=False)
    assert result.text == "们"
    assert result.chars[0].confidence == pytest.approx(0.8, abs=1e-5)


def test_softmax_survives_large_logits() -> None:
    out = softmax(np.array([[1000.0, 0.0, 1000.0]]))
    assert np.allclose(out, [[0.5, 0.0, 0.5]])


def test_blank_need_not_be_class_zero() -> None:
    # Open Model Zoo models put the blank last.
    scores = probs((0, 0.9), (3, 0.9), (1, 0.9))
    assert greedy_decode(scores, CHARSET, blank=3).text == "我们"


def test_a_batch_decodes_item_by_item_and_lengths_trim_padding() -> None:
    batch = np.stack([probs((1, 0.9), (2, 0.9), (3, 0.9)), probs((3, 0.9), (3, 0.9), (2, 0.9))])
    assert [r.text for r in greedy_decode_batch(batch, CHARSET)] == ["我们学", "学们"]
    trimmed = greedy_decode_batch(batch, CHARSET, lengths=[1, 2])
    assert [r.text for r in trimmed] == ["我", "学"]
    assert [r.steps for r in trimmed] == [1, 2]


def test_logit_batches_match_single_decoding() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 7, 4)).astype(np.float32)
    batch = greedy_decode_batch(logits, CHARSET, probabilities=False)
    singles = [greedy_decode(x, CHARSET, probabilities=False) for x in logits]
    assert batch == singles


def test_a_charset_that_does_not_fit_the_scores_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 3 labels plus the blank"):
        greedy_decode(probs((1, 0.9)), "我们")
    with pytest.raises(ValueError, match="shape"):
        greedy_decode(np.zeros((2, 3, 4)), CHARSET)
    with pytest.raises(ValueError, match="blank index"):
        greedy_decode(probs((1, 0.9)), CHARSET, blank=4)
