"""CTC decoding: per-step class scores to text, per-character confidence and step spans;
greedy, or a prefix beam search that favours the words of a lexicon."""

from __future__ import annotations

import heapq
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
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


# --- beam search with a lexicon ---------------------------------------------------------


class Lexicon:
    """Words whose characters a beam search favours, as a character trie (node 0 the root)."""

    def __init__(self, words: Iterable[str]) -> None:
        self._next: list[dict[str, int]] = [{}]
        self.words = 0
        for word in words:
            if not word:
                continue
            self.words += 1
            node = 0
            for ch in word:
                child = self._next[node].get(ch)
                if child is None:
                    child = len(self._next)
                    self._next[node][ch] = child
                    self._next.append({})
                node = child

    def advance(self, node: int, char: str) -> int | None:
        """The node after ``char``: the word in progress continued if it can be, else a new
        word started; None when ``char`` continues no word and starts none."""
        child = self._next[node].get(char)
        if child is None and node:
            child = self._next[0].get(char)
        return child

    @classmethod
    def hsk(cls, level: str = "hsk1", extra: Iterable[str] = ()) -> Lexicon:
        """The HSK vocabulary of ``level`` plus ``extra`` words."""
        from quizzes.hsk import load_vocabulary

        return cls([*(w.hanzi for w in load_vocabulary(level).words), *extra])


# Punctuation and marks a Chinese sentence uses (〇 is the zero of 二〇二六年): never
# penalised as "not Han".
CJK_PUNCTUATION = frozenset("，。？！：；、（）“”‘’《》…·〇")


def is_han(char: str) -> bool:
    """A Chinese character (CJK unified or compatibility ideograph)."""
    return unicodedata.name(char, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


@lru_cache(maxsize=4)
def _non_han(labels: str | tuple[str, ...]) -> frozenset[int]:
    """Positions in ``labels`` of symbols, Latin letters and digits (not the space or Chinese
    punctuation): what a handwritten stroke is misread as (一 as a dash, 二 as =, 十 as +).
    Cached: PP-OCR's charset has 6,624 labels to look at."""
    return frozenset(
        i
        for i, label in enumerate(labels)
        if any(ch != " " and ch not in CJK_PUNCTUATION and not is_han(ch) for ch in label)
    )


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _log(p: float) -> float:
    return math.log(p) if p > 0.0 else -1e30


@dataclass(slots=True)
class _Beam:
    """A prefix's log probability ending in a blank and ending in its last label, its trie
    node, and its summed lexicon bonuses and penalties."""

    blank: float
    label: float
    node: int
    prior: float

    @property
    def score(self) -> float:
        return _logaddexp(self.blank, self.label) + self.prior


def align(probs: Scores, indices: Sequence[int], *, blank: int = 0) -> list[tuple[int, int]]:
    """The most probable path that reads ``indices`` (Viterbi over the CTC lattice): the
    steps ``[start, end)`` each label occupies. Needs a path to exist."""
    steps, length = len(probs), len(indices)
    if length == 0:
        return []
    ext = np.full(2 * length + 1, blank, dtype=np.int64)
    ext[1::2] = indices
    states = len(ext)
    logp = np.log(np.maximum(np.asarray(probs, dtype=np.float64)[:, ext], 1e-30))
    # A label may be reached by skipping the blank before it unless it repeats the previous.
    skip = np.zeros(states, dtype=bool)
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    score = np.full(states, -np.inf)
    score[:2] = logp[0, :2]
    back = np.zeros((steps, states), dtype=np.int8)
    for t in range(1, steps):
        stay = score
        step = np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        moves = np.stack([stay, step, jump])
        back[t] = moves.argmax(axis=0)
        score = moves[back[t], np.arange(states)] + logp[t]
    state = states - 1 if score[-1] >= score[-2] else states - 2
    path = np.empty(steps, dtype=np.int64)
    for t in range(steps - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    spans: list[tuple[int, int]] = []
    for k in range(length):
        at = np.flatnonzero(path == 2 * k + 1)
        spans.append((int(at[0]), int(at[-1]) + 1))
    return spans


def beam_decode(
    scores: Scores,
    charset: str | Sequence[str],
    *,
    blank: int = 0,
    probabilities: bool = True,
    reduce: Reduce = "mean",
    lexicon: Lexicon | None = None,
    bonus: float = 0.0,
    non_han_penalty: float = 0.0,
    width: int = 8,
    prune: float = 1e-3,
) -> CTCResult:
    """Decode (T, C) scores with a CTC prefix beam search that adds ``bonus`` (in log
    probability) for every character that continues or starts a ``lexicon`` word and
    subtracts ``non_han_penalty`` for every symbol, Latin letter or digit.

    Only classes with probability >= ``prune`` at a step are tried there. Without a bonus
    or a penalty this is plain greedy decoding: the search alone changed nothing we
    measured. Characters get the steps of the best path that reads the chosen text, and
    confidences from them as in greedy decoding.
    """
    array = np.asarray(scores)
    if array.ndim != 2:
        raise ValueError(f"expected scores of shape (T, C), got {array.shape}")
    labels = _labels(charset, array.shape[1], blank)
    if (lexicon is None or bonus == 0.0) and non_han_penalty == 0.0:
        return greedy_decode(array, labels, blank=blank, probabilities=probabilities, reduce=reduce)
    probs = array.astype(np.float32, copy=False) if probabilities else softmax(array)
    foreign: frozenset[int] = frozenset()
    if non_han_penalty:
        foreign = _non_han(labels if isinstance(labels, str) else tuple(labels))

    def label(index: int) -> str:
        return labels[index if index < blank else index - 1]

    beams: dict[tuple[int, ...], _Beam] = {(): _Beam(0.0, -math.inf, 0, 0.0)}
    candidates = [np.flatnonzero(row >= prune).tolist() for row in probs]
    for t in range(len(probs)):
        row = probs[t]
        log_blank = _log(float(row[blank]))
        nxt: dict[tuple[int, ...], _Beam] = {}
        for prefix, beam in beams.items():
            total = _logaddexp(beam.blank, beam.label)
            entry = nxt.get(prefix)
            if entry is None:
                entry = nxt[prefix] = _Beam(-math.inf, -math.inf, beam.node, beam.prior)
            entry.blank = _logaddexp(entry.blank, total + log_blank)
            last = prefix[-1] if prefix else -1
            if last >= 0:
                # The last label held for another step: the same prefix.
                entry.label = _logaddexp(entry.label, beam.label + _log(float(row[last])))
            for c in candidates[t]:
                if c == blank:
                    continue
                # A repeated label needs a blank between, else it is the same emission.
                source = beam.blank if c == last else total
                extended = nxt.get((*prefix, c))
                if extended is None:
                    node, gain = 0, 0.0
                    if lexicon is not None and bonus:
                        child = lexicon.advance(beam.node, label(c))
                        if child is not None:
                            node, gain = child, bonus
                    if (c if c < blank else c - 1) in foreign:
                        gain -= non_han_penalty
                    extended = nxt[(*prefix, c)] = _Beam(
                        -math.inf, -math.inf, node, beam.prior + gain
                    )
                extended.label = _logaddexp(extended.label, source + _log(float(row[c])))
        beams = dict(heapq.nlargest(width, nxt.items(), key=lambda kv: kv[1].score))
    best = max(beams.items(), key=lambda kv: kv[1].score)[0]
    chars: list[DecodedChar] = []
    for index, (start, end) in zip(best, align(probs, best, blank=blank), strict=True):
        run = probs[start:end, index]
        value = float(run.mean() if reduce == "mean" else run.max())
        chars.append(DecodedChar(label(index), index, value, start, end))
    return CTCResult("".join(c.char for c in chars), tuple(chars), len(probs))
