"""The verdict a learner gets from the model's scores for one photo, or for a whole word."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from recognition.verifier import (
    Decision,
    Outcome,
    Scores,
    Thresholds,
    combine,
    decide,
    incomplete_of,
)

CHARSET = "一二三"
UNKNOWN = len(CHARSET)
D = 4
TH = Thresholds()

Vector = npt.NDArray[np.float32]


def unit(*values: float) -> Vector:
    v = np.zeros(D, dtype=np.float32)
    v[: len(values)] = values
    return (v / np.linalg.norm(v)).astype(np.float32)


# One template per character, each along its own axis: 一 = e0, 二 = e1, 三 = e2.
TEMPLATES = np.stack([unit(1)[None], unit(0, 1)[None], unit(0, 0, 1)[None]]).astype(np.float32)


def probs(**by_char: float) -> Vector:
    """A probability vector over the charset then "unknown"; unnamed classes share the rest."""
    names = {"yi": "一", "er": "二", "san": "三", "unknown": "unknown"}
    labels = [*CHARSET, "unknown"]
    out = np.zeros(len(labels), dtype=np.float32)
    for name, p in by_char.items():
        out[labels.index(names[name])] = p
    rest = [i for i, p in enumerate(out) if p == 0]
    if rest:
        out[rest] = (1.0 - out.sum()) / len(rest)
    return out


def scores(p: Vector, embedding: Vector | None = None, incomplete: float = 0.0) -> Scores:
    return Scores(
        probs=p, embedding=unit(1) if embedding is None else embedding, incomplete=incomplete
    )


def judge(s: Scores, target: str = "一", th: Thresholds = TH) -> Decision:
    return decide(s, target, CHARSET, TEMPLATES, th)


def test_probs_helper_sums_to_one() -> None:
    assert probs(yi=0.9).sum() == pytest.approx(1.0)
    assert probs(yi=0.9)[0] == pytest.approx(0.9)


# decide ------------------------------------------------------------------------------


def test_confident_target_with_similar_embedding_is_correct() -> None:
    decision = judge(scores(probs(yi=0.92), unit(1, 0.2)))

    assert decision.outcome is Outcome.CORRECT
    assert decision.predicted == "一"
    assert decision.confidence == pytest.approx(0.92)
    assert decision.target_probability == pytest.approx(0.92)
    assert decision.similarity == pytest.approx(1 / math.sqrt(1.04), abs=1e-5)
    assert decision.top5[0][0] == "一"
    assert decision.top5[0][1] == pytest.approx(0.92)


def test_correct_for_each_target() -> None:
    for i, char in enumerate(CHARSET):
        p = np.full(len(CHARSET) + 1, 0.02, dtype=np.float32)
        p[i] = 0.94
        embedding = TEMPLATES[i, 0]
        decision = judge(scores(p, embedding), target=char)
        assert decision.outcome is Outcome.CORRECT, char
        assert decision.predicted == char


def test_nearest_of_several_templates_counts() -> None:
    # 一 written two ways: the photo is like the second template, not the first.
    templates = np.stack(
        [
            np.stack([unit(1), unit(0, 0, 0, 1)]),
            np.stack([unit(0, 1)] * 2),
            np.stack([unit(0, 0, 1)] * 2),
        ]
    ).astype(np.float32)
    decision = decide(scores(probs(yi=0.9), unit(0, 0, 0, 1)), "一", CHARSET, templates, TH)
    assert decision.outcome is Outcome.CORRECT
    assert decision.similarity == pytest.approx(1.0)


def test_high_probability_but_embedding_far_from_template_is_not_correct() -> None:
    # The classifier is sure, but the photo looks like none of 一's templates.
    decision = judge(scores(probs(yi=0.95), unit(0, 0, 0, 1)))

    assert decision.outcome is not Outcome.CORRECT
    assert decision.outcome is Outcome.UNCLEAR
    assert decision.similarity == pytest.approx(0.0, abs=1e-6)
    assert decision.target_probability == pytest.approx(0.95)


def test_opposite_embedding_is_not_correct() -> None:
    decision = judge(scores(probs(yi=0.99), unit(-1)))
    assert decision.outcome is not Outcome.CORRECT


def test_another_confident_character_is_wrong_character() -> None:
    decision = judge(scores(probs(er=0.85), unit(0, 1)), target="一")

    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted == "二"
    assert decision.confidence == pytest.approx(0.85)
    assert decision.target_probability == pytest.approx(0.05)
    assert decision.top5[0][0] == "二"


def test_unknown_class_winning_is_wrong_character_without_a_guess() -> None:
    decision = judge(scores(probs(unknown=0.8), unit(0, 0, 0, 1)))

    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted is None
    assert decision.confidence == pytest.approx(0.8)
    assert decision.top5[0][0] == "unknown"
    assert decision.top5[0][1] == pytest.approx(0.8)


def test_flat_probabilities_are_unclear() -> None:
    # Seven classes so that each is under the 0.15 "unclear" threshold.
    charset = "一二三四五六"
    p = np.full(len(charset) + 1, 1 / 7, dtype=np.float32)
    templates = np.stack([unit(1)[None]] * len(charset)).astype(np.float32)

    decision = decide(scores(p, unit(1)), "一", charset, templates, TH)

    assert decision.outcome is Outcome.UNCLEAR
    assert decision.predicted is None


def test_flat_probabilities_are_unclear_with_a_higher_threshold() -> None:
    decision = judge(scores(probs(), unit(1)), th=Thresholds(unclear=0.3))
    assert decision.outcome is Outcome.UNCLEAR
    assert decision.predicted is None


def test_target_best_but_unsure_is_unclear_with_the_target_as_guess() -> None:
    decision = judge(scores(probs(yi=0.4), unit(1)))
    assert decision.outcome is Outcome.UNCLEAR
    assert decision.predicted == "一"
    assert decision.confidence == pytest.approx(0.4)


def test_high_incomplete_score_with_accepted_target_is_incomplete() -> None:
    decision = judge(scores(probs(yi=0.9), unit(1), incomplete=0.8))

    assert decision.outcome is Outcome.INCOMPLETE
    assert decision.predicted == "一"
    assert decision.incomplete_score == pytest.approx(0.8)


def test_high_incomplete_score_with_target_likely_is_incomplete() -> None:
    # 三 missing its last stroke looks like 二: the target is still plausible.
    decision = judge(scores(probs(er=0.7, san=0.2), unit(0, 1), incomplete=0.9), target="三")

    assert decision.outcome is Outcome.INCOMPLETE
    assert decision.predicted == "三"


def test_high_incomplete_score_but_target_implausible_is_wrong_character() -> None:
    p = np.array([0.01, 0.96, 0.02, 0.01], dtype=np.float32)
    decision = judge(scores(p, unit(0, 1), incomplete=0.9), target="三")

    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted == "二"


def test_low_incomplete_score_is_ignored() -> None:
    decision = judge(scores(probs(yi=0.9), unit(1), incomplete=0.2))
    assert decision.outcome is Outcome.CORRECT


@pytest.mark.parametrize("target", ["四", "", "一二", "a", "unknown"])
def test_invalid_target(target: str) -> None:
    decision = judge(scores(probs(yi=0.9), unit(1)), target=target)

    assert decision.outcome is Outcome.INVALID_TARGET
    assert decision.predicted is None
    assert decision.reason
    assert decision.top5, "the model's guesses are still reported"


def test_top5_is_sorted_and_labelled() -> None:
    p = np.array([0.1, 0.6, 0.05, 0.25], dtype=np.float32)
    decision = judge(scores(p, unit(0, 1)))

    assert [label for label, _ in decision.top5] == ["二", "unknown", "一", "三"]
    values = [value for _, value in decision.top5]
    assert values == sorted(values, reverse=True)


# thresholds at their boundary ---------------------------------------------------------


def boundary_case(p_target: float, similarity: float) -> Scores:
    p = np.array([p_target, 0.0, 0.0, 0.0], dtype=np.float32)
    p[1:] = (1 - p_target) / 3
    embedding = np.zeros(D, dtype=np.float32)
    embedding[0] = similarity
    embedding[1] = math.sqrt(1 - similarity**2)
    return scores(p, embedding)


def test_exactly_at_accept_and_similarity_is_accepted() -> None:
    th = Thresholds(accept=0.5, similarity=0.5)
    decision = judge(boundary_case(0.5, 0.5), th=th)
    assert decision.outcome is Outcome.CORRECT


def test_just_below_accept_is_not_accepted() -> None:
    th = Thresholds(accept=0.5, similarity=0.5)
    below = float(np.nextafter(np.float32(0.5), np.float32(0)))
    decision = judge(boundary_case(below, 0.5), th=th)
    assert decision.outcome is not Outcome.CORRECT


def test_just_below_similarity_is_not_accepted() -> None:
    th = Thresholds(accept=0.5, similarity=0.5)
    decision = judge(boundary_case(0.9, 0.49), th=th)
    assert decision.outcome is not Outcome.CORRECT


def test_thresholds_are_honoured_not_defaults() -> None:
    s = scores(probs(yi=0.7), unit(1))
    assert judge(s, th=Thresholds(accept=0.6)).outcome is Outcome.CORRECT
    assert judge(s, th=Thresholds(accept=0.8)).outcome is not Outcome.CORRECT


def test_incomplete_exactly_at_threshold_is_incomplete() -> None:
    th = Thresholds(incomplete=0.5)
    assert judge(scores(probs(yi=0.9), unit(1), incomplete=0.5), th=th).outcome is (
        Outcome.INCOMPLETE
    )
    below = float(np.nextafter(np.float32(0.5), np.float32(0)))
    assert judge(scores(probs(yi=0.9), unit(1), incomplete=below), th=th).outcome is (
        Outcome.CORRECT
    )


def test_incomplete_floor_boundary() -> None:
    th = Thresholds(incomplete=0.5, incomplete_floor=0.25)
    at_floor = np.array([0.25, 0.7, 0.025, 0.025], dtype=np.float32)
    under = np.array([0.2, 0.75, 0.025, 0.025], dtype=np.float32)
    assert judge(scores(at_floor, unit(0, 1), incomplete=0.9), th=th).outcome is (
        Outcome.INCOMPLETE
    )
    assert judge(scores(under, unit(0, 1), incomplete=0.9), th=th).outcome is (
        Outcome.WRONG_CHARACTER
    )


def test_unclear_boundary() -> None:
    # Exactly representable values, so "at the threshold" really is equal.
    p = np.array([0.125, 0.375, 0.25, 0.25], dtype=np.float32)
    at = judge(scores(p, unit(0, 1)), th=Thresholds(unclear=0.375))
    assert at.outcome is Outcome.WRONG_CHARACTER
    assert at.predicted == "二"
    above = judge(scores(p, unit(0, 1)), th=Thresholds(unclear=0.376))
    assert above.outcome is Outcome.UNCLEAR


# combine -----------------------------------------------------------------------------


def correct(char: str, confidence: float = 0.9) -> Decision:
    return Decision(Outcome.CORRECT, char, confidence)


def test_combine_single_decision_is_passed_through() -> None:
    only = Decision(Outcome.WRONG_CHARACTER, "二", 0.7)
    assert combine([only], "一") is only


def test_combine_all_correct_is_correct() -> None:
    decision = combine([correct("一", 0.9), correct("二", 0.8)], "一二")

    assert decision.outcome is Outcome.CORRECT
    assert decision.predicted == "一二"
    assert decision.confidence == pytest.approx(0.72)


def test_combine_one_wrong_is_wrong_with_the_joined_guess() -> None:
    decisions = [
        correct("一"),
        Decision(Outcome.WRONG_CHARACTER, "三", 0.8),
        correct("三"),
    ]
    decision = combine(decisions, "一二三")

    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted == "一三三"


def test_combine_unknown_character_shows_as_question_mark() -> None:
    decisions = [correct("一"), Decision(Outcome.WRONG_CHARACTER, None, 0.8)]
    decision = combine(decisions, "一二")
    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted == "一?"


def test_combine_no_character_named_has_no_guess() -> None:
    """Nothing of the word is an HSK 1 character: no "??" to show as what it looks like."""
    decisions = [
        Decision(Outcome.WRONG_CHARACTER, None, 0.9, reason="not an HSK 1 character"),
        Decision(Outcome.WRONG_CHARACTER, None, 0.8, reason="not an HSK 1 character"),
    ]
    decision = combine(decisions, "一二")
    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted is None
    assert decision.reason == "not an HSK 1 character"


def test_combine_one_unclear_is_unclear() -> None:
    decisions = [
        correct("一"),
        Decision(Outcome.UNCLEAR, None, 0.1, reason="nothing recognisable"),
        Decision(Outcome.WRONG_CHARACTER, "三", 0.8),
    ]
    decision = combine(decisions, "一二三")

    assert decision.outcome is Outcome.UNCLEAR
    assert decision.reason == "nothing recognisable"


def test_combine_one_incomplete_is_incomplete() -> None:
    decisions = [correct("一"), Decision(Outcome.INCOMPLETE, "三", 0.6, reason="strokes missing")]
    decision = combine(decisions, "一三")

    assert decision.outcome is Outcome.INCOMPLETE
    assert decision.predicted == "一三"


def test_combine_wrong_outweighs_incomplete() -> None:
    decisions = [
        Decision(Outcome.INCOMPLETE, "一", 0.6),
        Decision(Outcome.WRONG_CHARACTER, "三", 0.8),
    ]
    decision = combine(decisions, "一二")
    assert decision.outcome is Outcome.WRONG_CHARACTER
    assert decision.predicted == "一三"


def test_combine_invalid_target_wins() -> None:
    decisions = [correct("一"), Decision(Outcome.INVALID_TARGET, reason="target not in the set")]
    decision = combine(decisions, "一X")
    assert decision.outcome is Outcome.INVALID_TARGET


def test_decide_then_combine_for_a_word() -> None:
    per_char = [
        judge(scores(probs(yi=0.9), unit(1)), target="一"),
        judge(scores(probs(er=0.9), unit(0, 1)), target="二"),
    ]
    assert combine(per_char, "一二").outcome is Outcome.CORRECT
    per_char[1] = judge(scores(probs(san=0.9), unit(0, 0, 1)), target="二")
    word = combine(per_char, "一二")
    assert word.outcome is Outcome.WRONG_CHARACTER
    assert word.predicted == "一三"


# top_only: the target must also be the likeliest character -------------------------------


def test_top_only_refuses_a_target_that_another_character_beats() -> None:
    th = Thresholds(accept=0.3, similarity=-1.0, top_only=True)
    runner_up = scores(probs(er=0.55, yi=0.35))
    assert judge(runner_up, "一", th).outcome is Outcome.WRONG_CHARACTER
    assert judge(runner_up, "一", Thresholds(accept=0.3, similarity=-1.0)).outcome is (
        Outcome.CORRECT
    )


def test_top_only_ignores_the_unknown_class_when_ranking_characters() -> None:
    # Most of the mass says "not HSK 1", but among the characters the target leads.
    th = Thresholds(accept=0.3, similarity=-1.0, top_only=True)
    decision = judge(scores(probs(unknown=0.45, yi=0.4)), "一", th)
    assert decision.outcome is Outcome.CORRECT


def test_a_score_per_class_is_read_at_the_target() -> None:
    # A model with one incomplete score per class: "人 with strokes missing" is likely,
    # "大 with strokes missing" is not.
    charset = "人大"
    probs = np.array([0.1, 0.85, 0.05], np.float32)
    emb = np.array([1.0, 0.0], np.float32)
    templates = np.array([[[1.0, 0.0]], [[1.0, 0.0]]], np.float32)
    s = Scores.of(probs, emb, np.array([0.9, 0.05, 0.0], np.float32))
    assert s.incomplete == pytest.approx(0.05)  # the likeliest class's own score
    th = Thresholds(accept=0.5, similarity=0.3, incomplete=0.5, incomplete_floor=0.05)
    assert decide(s, "大", charset, templates, th).outcome is Outcome.CORRECT
    as_person = decide(s, "人", charset, templates, th)
    assert as_person.outcome is Outcome.INCOMPLETE
    assert as_person.incomplete_score == pytest.approx(0.9)
    single = Scores.of(probs, emb, np.array([0.9], np.float32))
    assert single.incomplete_by_class is None
    assert decide(single, "大", charset, templates, th).outcome is Outcome.INCOMPLETE
    labels = np.array([0, 1], np.int32)
    both = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.0]], np.float32)
    assert incomplete_of(both, labels).tolist() == pytest.approx([0.9, 0.7])
    assert incomplete_of(both[:, :1], labels).tolist() == pytest.approx([0.9, 0.2])
