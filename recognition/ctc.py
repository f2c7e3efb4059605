"""Greedy CTC decoding: per-step class scores to text, per-character confidence and step spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.floating]
Reduce = Literal["mean", "max"]


@dataclass(frozen=True, slots=True)
class DecodedChar:
    """One emitted character: its class index, confidence and the steps ``[start, end)``
    that produced it (a run of consecutive steps whose best class is this one)."""

    char: str
    index: int
    confidence: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class CTCResult:
    """A decoded sequence; ``chars`` lines up with ``text`` one to one."""

    text: str
    chars: tuple[DecodedChar, ...]
    steps: int

    @property
    def confidences(self) -> tuple[float, ...]:
        return tuple(c.confidence for c in self.chars)

    @property
    def confidence(self) -> float:
        """The weakest character's confidence: one doubtful character makes a doubtful
        reading. 0.0 for an empty reading, which never counts as a confident one."""
        return min(self.confidences, default=0.0)


def softmax(scores: Scores, axis: int = -1) -> npt.NDArray[np.float32]:
    """Numerically stable softmax (shifting by the maximum avoids overflow in exp)."""
    x = np.asarray(scores, dtype=np.float32)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    out: npt.NDArray[np.float32] = shifted / shifted.sum(axis=axis, keepdims=True)
    return out


def _labels(charset: str | Sequence[str], classes: int, blank: int) -> Sequence[str]:
    if not 0 <= blank < classes:
        raise ValueError(f"blank index {blank} is outside the {classes} classes")
    if len(charset) + 1 != classes:
        raise ValueError(
            f"charset has {len(charset)} labels but the scores have {classes} classes: "
            f"expected {classes - 1} labels plus the blank"
        )
    return charset


def greedy_decode(
    scores: Scores,
    charset: str | Sequence[str],
    *,
    blank: int = 0,
    probabilities: bool = True,
    reduce: Reduce = "mean",
) -> CTCResult:
    """Decode one sequence of shape (T, C) by taking the best class at each step.

    ``charset`` holds the labels of the non-blank classes in class order (the blank's
    slot removed), so it has C - 1 entries. Set ``probabilities=False`` for raw logits:
    confidences are then computed on their softmax. ``reduce`` picks how a character's
    steps become its confidence.
    """
    array = np.asarray(scores)
    if array.ndim != 2:
        raise ValueError(f"expected scores of shape (T, C), got {array.shape}")
    labels = _labels(charset, array.shape[1], blank)
    probs = array.astype(np.float32, copy=False) if probabilities else softmax(array)
    best = probs.argmax(axis=1)
    steps = len(best)
    chars: list[DecodedChar] = []
    start = 0
    # Walk runs of equal best class: a run is one emission, blanks separate repeats.
    while start < steps:
        index = int(best[start])
        end = start + 1
        while end < steps and best[end] == index:
            end += 1
        if index != blank:
            run = probs[start:end, index]
            value = float(run.mean() if reduce == "mean" else run.max())
            label = labels[index if index < blank else index - 1]
            chars.append(DecodedChar(label, index, value, start, end))
        start = end
    return CTCResult("".join(c.char for c in chars), tuple(chars), steps)


def greedy_decode_batch(
    scores: Scores,
    charset: str | Sequence[str],
    *,
    blank: int = 0,
    probabilities: bool = True,
    reduce: Reduce = "mean",
    lengths: Sequence[int] | None = None,
) -> list[CTCResult]:
    """Decode a batch of shape (N, T, C); ``lengths`` trims each item's padded steps."""
    array = np.asarray(scores)
    if array.ndim != 3:
        raise ValueError(f"expected scores of shape (N, T, C), got {array.shape}")
    if lengths is not None and len(lengths) != array.shape[0]:
        raise ValueError(f"{len(lengths)} lengths for a batch of {array.shape[0]}")
    # Softmax once for the whole batch rather than per item.
    probs = array if probabilities else softmax(array)
    return [
        greedy_decode(
            probs[i] if lengths is None else probs[i, : lengths[i]],
            charset,
            blank=blank,
            probabilities=True,
            reduce=reduce,
        )
        for i in range(array.shape[0])
    ]
