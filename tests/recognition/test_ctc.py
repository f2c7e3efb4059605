"""CTC decoding on hand-made scores: greedy (repeats, blanks, confidences, empty output,
batches) and the lexicon beam search."""

from __future__ import annotations

import numpy as np
import pytest

from recognition.ctc import (
    CTCResult,
    Lexicon,
    align,
    beam_decode,
    greedy_decode,
    greedy_decode_batch,
    softmax,
)

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


# --- beam search with a lexicon -----------------------------------------------------------


def rows(*steps: dict[int, float]) -> np.ndarray:
    """One step per dict of class -> probability; the blank (class 0) takes what is left."""
    out = np.zeros((len(steps), 4), dtype=np.float32)
    for t, step in enumerate(steps):
        for cls, p in step.items():
            out[t, cls] = p
        out[t, 0] += 1.0 - out[t].sum()
    return out


def test_without_a_bonus_or_penalty_the_beam_is_greedy() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        logits = rng.normal(scale=3.0, size=(12, 4)).astype(np.float32)
        greedy = greedy_decode(logits, CHARSET, probabilities=False)
        for lexicon in (None, Lexicon(["我们"])):
            beam = beam_decode(logits, CHARSET, probabilities=False, lexicon=lexicon, bonus=0.0)
            assert beam == greedy


def test_the_search_itself_reads_clear_writing_as_greedy_does() -> None:
    # A bonus for words that are not in the line: the search runs, and changes nothing.
    rng = np.random.default_rng(2)
    lexicon = Lexicon(["你好"])
    for _ in range(20):
        winners = rng.integers(0, 4, size=15).tolist()
        peaks = rng.uniform(0.8, 0.99, size=15).tolist()
        scores = probs(*zip(winners, peaks, strict=True))
        greedy = greedy_decode(scores, CHARSET)
        beam = beam_decode(scores, CHARSET, lexicon=lexicon, bonus=1.0)
        assert beam.text == greedy.text
        assert [(c.start, c.end) for c in beam.chars] == [(c.start, c.end) for c in greedy.chars]
        assert beam.confidences == pytest.approx(greedy.confidences)


def test_a_bonus_picks_the_lexicon_word_over_a_near_tie() -> None:
    # 我, then 学 (0.5) just ahead of 们 (0.45): "我们" is a word, "我学" is not.
    scores = rows({1: 0.95}, {}, {3: 0.5, 2: 0.45})
    assert greedy_decode(scores, CHARSET).text == "我学"
    assert beam_decode(scores, CHARSET, lexicon=Lexicon(["我们"]), bonus=0.5).text == "我们"
    # A small bonus does not overturn a clear reading.
    clear = rows({1: 0.95}, {}, {3: 0.9, 2: 0.05})
    assert beam_decode(clear, CHARSET, lexicon=Lexicon(["我们"]), bonus=0.5).text == "我学"


def test_the_chosen_character_keeps_an_honest_confidence() -> None:
    scores = rows({1: 0.95}, {}, {3: 0.5, 2: 0.45}, {3: 0.5, 2: 0.4})
    result = beam_decode(scores, CHARSET, lexicon=Lexicon(["我们"]), bonus=1.0)
    assert result.text == "我们"
    # Its own probability over the steps it was read from, not the bonus.
    assert result.chars[1].confidence == pytest.approx(0.425)
    assert (result.chars[1].start, result.chars[1].end) == (2, 4)


def test_a_stroke_read_as_a_dash_becomes_a_character() -> None:
    charset = "一—3"  # classes 1..3
    dash = np.array([[0.05, 0.4, 0.55, 0.0], [0.9, 0.05, 0.05, 0.0]], dtype=np.float32)
    assert greedy_decode(dash, charset).text == "—"
    assert beam_decode(dash, charset, non_han_penalty=1.0).text == "一"
    # A clearly written digit stays a digit.
    digit = np.array([[0.02, 0.02, 0.01, 0.95], [0.9, 0.05, 0.05, 0.0]], dtype=np.float32)
    assert beam_decode(digit, charset, non_han_penalty=1.0).text == "3"


def test_the_beam_keeps_repeats_apart_only_across_a_blank() -> None:
    lexicon = Lexicon(["我"])
    held = rows({1: 0.9}, {1: 0.9}, {})
    assert beam_decode(held, CHARSET, lexicon=lexicon, bonus=1.0).text == "我"
    twice = rows({1: 0.9}, {}, {1: 0.9})
    assert beam_decode(twice, CHARSET, lexicon=lexicon, bonus=1.0).text == "我我"


def test_lexicon_words_continue_or_start_afresh() -> None:
    lexicon = Lexicon(["不客气", "客"])
    assert lexicon.words == 2
    node = lexicon.advance(0, "不")
    assert node is not None
    inside = lexicon.advance(node, "客")
    assert inside is not None and lexicon.advance(inside, "气") is not None
    assert lexicon.advance(0, "气") is None  # 气 starts no word
    assert lexicon.advance(node, "不") is not None  # a new 不 after 不
    assert Lexicon.hsk().advance(0, "谢") is not None


def test_align_finds_the_greedy_spans_of_the_greedy_text() -> None:
    scores = probs((1, 0.9), (1, 0.7), (0, 0.9), (2, 0.8), (0, 0.6), (2, 0.7))
    greedy = greedy_decode(scores, CHARSET)
    assert greedy.text == "我们们"
    assert align(scores, [c.index for c in greedy.chars]) == [
        (c.start, c.end) for c in greedy.chars
    ]
    assert align(scores, []) == []
