"""One verdict per photo from the classifier, the embedding templates and the incomplete flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class Outcome(StrEnum):
    CORRECT = "correct"
    WRONG_CHARACTER = "wrong_character"
    INCOMPLETE = "incomplete"
    UNCLEAR = "unclear"
    INVALID_TARGET = "invalid_target"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision thresholds, chosen on the synthetic validation set and stored with the model.

    ``accept``: the target's probability needed to accept it; ``similarity``: the cosine
    of the embedding to the target's nearest template needed as well; ``incomplete``: the
    incomplete score from which an answer is called incomplete; ``incomplete_floor``: the
    target probability an incomplete answer still needs (else it is another character);
    ``known``: with no target, the best character's probability needed to name it;
    ``top_only``: accept only a target that is also the likeliest character;
    ``unclear``: below this top probability nothing is recognisable; ``min_ink_side``:
    the smallest character, in working pixels, worth reading.
    """

    accept: float = 0.5
    known: float = 0.5  # without a target: the best character's probability to name it
    top_only: bool = False  # accept the target only when it is also the likeliest character
    similarity: float = 0.3
    incomplete: float = 0.5
    incomplete_floor: float = 0.05
    unclear: float = 0.15
    min_ink_side: int = 12
    max_aspect: float = 2.2


@dataclass(frozen=True, slots=True)
class Scores:
    """What the model said about one character image.

    ``incomplete`` is the incomplete score of the likeliest class. A model with one
    incomplete output per class ("this is X with strokes missing") also gives
    ``incomplete_by_class``, and a verdict against a target reads the target's own score.
    """

    probs: Vector  # (classes,), the charset then unknown
    embedding: Vector  # (D,), L2-normalised
    incomplete: float
    incomplete_by_class: Vector | None = None

    @classmethod
    def of(cls, probs: Vector, embedding: Vector, incomplete: Vector) -> Scores:
        """From one row of the model's outputs; ``incomplete`` has 1 or ``classes`` values."""
        inc = np.asarray(incomplete, np.float32).reshape(-1)
        if inc.size == 1:
            return cls(probs, embedding, float(inc[0]))
        return cls(probs, embedding, float(inc[int(np.argmax(probs))]), inc)

    def incomplete_for(self, index: int) -> float:
        if self.incomplete_by_class is None:
            return self.incomplete
        return float(self.incomplete_by_class[index])


def incomplete_of(incomplete: npt.NDArray[np.float32], classes: npt.NDArray[np.int32]) -> Vector:
    """Each row's incomplete score for the class given (a model's (N, 1) or (N, classes)
    incomplete output)."""
    if incomplete.shape[1] == 1:
        return np.asarray(incomplete[:, 0], np.float32)
    return np.asarray(incomplete[np.arange(len(classes)), classes], np.float32)


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    predicted: str | None = None  # the best guess (the target when correct)
    confidence: float = 0.0  # probability of ``predicted`` (or of the target)
    target_probability: float = 0.0
    similarity: float = 0.0
    incomplete_score: float = 0.0
    reason: str = ""
    top5: tuple[tuple[str, float], ...] = field(default=())


def similarity_to(templates: npt.NDArray[np.float32], index: int, embedding: Vector) -> float:
    """Cosine to the nearest of a class's templates ((classes, K, D), unit vectors)."""
    return float(np.max(templates[index] @ embedding))


def top_k(
    probs: Vector, labels: str | tuple[str, ...], k: int = 5
) -> tuple[tuple[str, float], ...]:
    order = np.argsort(-probs)[:k]
    return tuple((labels[i] if i < len(labels) else "?", float(probs[i])) for i in order)


def decide(
    scores: Scores,
    target: str,
    charset: str,
    templates: npt.NDArray[np.float32],
    th: Thresholds,
) -> Decision:
    """The verdict for one character image against one target character."""
    labels = (*charset, "unknown")
    top5 = top_k(scores.probs, labels)
    index = charset.find(target) if len(target) == 1 else -1
    if index < 0:
        return Decision(Outcome.INVALID_TARGET, reason="target not in the character set", top5=top5)
    p_target = float(scores.probs[index])
    inc_score = scores.incomplete_for(index)
    sim = similarity_to(templates, index, scores.embedding)
    best = int(np.argmax(scores.probs))
    p_best = float(scores.probs[best])
    unknown = best == len(charset)

    def made(outcome: Outcome, predicted: str | None, conf: float, reason: str = "") -> Decision:
        return Decision(
            outcome,
            predicted,
            conf,
            target_probability=p_target,
            similarity=sim,
            incomplete_score=inc_score,
            reason=reason,
            top5=top5,
        )

    looks_incomplete = inc_score >= th.incomplete
    best_char = int(np.argmax(scores.probs[: len(charset)]))
    on_top = best_char == index or not th.top_only
    if p_target >= th.accept and sim >= th.similarity and on_top:
        if looks_incomplete:
            return made(Outcome.INCOMPLETE, target, p_target, "strokes missing")
        return made(Outcome.CORRECT, target, p_target)
    if looks_incomplete and (best == index or p_target >= th.incomplete_floor):
        return made(Outcome.INCOMPLETE, target, p_target, "strokes missing")
    if p_best < th.unclear:
        return made(Outcome.UNCLEAR, None, p_best, "nothing recognisable")
    if unknown:
        return made(Outcome.WRONG_CHARACTER, None, p_best, "not an HSK 1 character")
    if best == index:
        # The target is the best guess but too unsure to accept: call it what it is.
        return made(Outcome.UNCLEAR, target, p_target, "not sure enough")
    return made(Outcome.WRONG_CHARACTER, labels[best], p_best)


def combine(decisions: list[Decision], target: str) -> Decision:
    """One verdict for a word from the verdicts of its characters."""
    if len(decisions) == 1:
        return decisions[0]
    outcomes = [d.outcome for d in decisions]
    # "?" for a character that is none of the set; none named at all: no guess to show.
    named = any(d.predicted for d in decisions)
    guess = "".join(d.predicted or "?" for d in decisions) if named else None
    confidence = float(np.prod([d.confidence for d in decisions]))
    for outcome in (Outcome.INVALID_TARGET, Outcome.UNCLEAR):
        if outcome in outcomes:
            first = decisions[outcomes.index(outcome)]
            return Decision(outcome, None, confidence, reason=first.reason)
    if all(o is Outcome.CORRECT for o in outcomes):
        return Decision(Outcome.CORRECT, target, confidence)
    if Outcome.WRONG_CHARACTER in outcomes:
        reason = "" if named else "not an HSK 1 character"
        return Decision(Outcome.WRONG_CHARACTER, guess, confidence, reason=reason)
    return Decision(Outcome.INCOMPLETE, target, confidence, reason="strokes missing")
