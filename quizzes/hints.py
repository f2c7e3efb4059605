"""The hint ladder for a target: its radicals, then stroke counts, first strokes, stroke order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

from quizzes.hsk import Vocabulary, load_vocabulary
from quizzes.strokeorder import radical_image, stroke_order_image
from quizzes.strokes import StrokeData, load_strokes

__all__ = [
    "MAX_LEVEL",
    "NOTHING_TO_SHOW",
    "CharInfo",
    "Hint",
    "HintLevel",
    "char_info",
    "hint",
    "radical_of",
]

# Stands in a word's list of radicals for a character with no smaller part to show.
NOTHING_TO_SHOW = "—"


class HintLevel(IntEnum):
    RADICAL = 1
    STROKES = 2
    FIRST_STROKE = 3
    STROKE_ORDER = 4


MAX_LEVEL = HintLevel.STROKE_ORDER


@dataclass(frozen=True)
class CharInfo:
    """What the data says about one character's parts, without showing the character."""

    char: str
    strokes: int
    radical: str  # "" when the vocabulary does not know it
    radical_strokes: tuple[int, ...]  # which strokes form the radical, when the data says

    @property
    def is_radical(self) -> bool:
        """The character is a radical itself (人, 大, 日): naming it would give it away."""
        return self.radical == self.char or len(self.radical_strokes) == self.strokes

    @property
    def shown_radical(self) -> str:
        """The radical as a hint may show it, or "" when there is nothing to show."""
        return "" if self.is_radical else self.radical


@dataclass(frozen=True)
class Hint:
    """One rung of the ladder: a message key and its values for the caller's i18n, and a PNG
    for the image rungs. ``values`` is read-only; ``count`` is the number of characters.
    ``total``: the rungs of this target's ladder (fewer than MAX_LEVEL when a rung would
    have nothing to say)."""

    level: HintLevel
    key: str
    values: Mapping[str, str | int] = field(default_factory=lambda: MappingProxyType({}))
    image: bytes | None = None
    total: int = MAX_LEVEL

    @property
    def filename(self) -> str:
        return f"hint-{int(self.level)}.png"

    @property
    def is_last(self) -> bool:
        """No further hint would say more."""
        return self.level == MAX_LEVEL


def radical_of(char: str, vocabulary: Vocabulary | None = None) -> str:
    """The radical the HSK data files ``char`` under, or "" when it does not say."""
    entry = (vocabulary or load_vocabulary()).character(char)
    return entry.radical if entry is not None else ""


def char_info(
    char: str, vocabulary: Vocabulary | None = None, *, strokes: StrokeData | None = None
) -> CharInfo:
    """Stroke count and radical of one character; quizzes.strokes.MissingStrokes (a KeyError)
    when the stroke data lacks it."""
    data = (strokes if strokes is not None else load_strokes())[char]
    return CharInfo(
        char=char,
        strokes=len(data),
        radical=radical_of(char, vocabulary),
        radical_strokes=data.radical_strokes,
    )


def hint(
    target: str,
    level: int,
    vocabulary: Vocabulary | None = None,
    *,
    strokes: StrokeData | None = None,
) -> Hint:
    """Hint number ``level`` (1 = first) for writing ``target``, a character or a word; levels
    past the last give the last one again. For a word each rung covers every character.
    The radical rung is left out when there is nothing to show (人, 女儿: each character is
    its own radical and the data has no part to draw), so the first hint always helps.

    Raises ValueError for a level below 1 or an empty target, and
    quizzes.strokes.MissingStrokes (a KeyError) for characters without stroke data.
    """
    if level < 1:
        raise ValueError(f"hint levels start at 1, not {level}")
    data = strokes if strokes is not None else load_strokes()
    data.of(target)  # refuses an empty target, and names every character it cannot draw
    infos = [char_info(ch, vocabulary, strokes=data) for ch in target]
    ladder = [r for r in HintLevel if r is not HintLevel.RADICAL or _radical_to_show(infos)]
    total = len(ladder)
    rung = ladder[min(level, total) - 1]
    count = len(infos)
    if rung is HintLevel.RADICAL:
        return _radical_hint(target, infos, data, total)
    if rung is HintLevel.STROKES:
        return Hint(
            rung,
            "hint.strokes" if count == 1 else "hint.strokes_word",
            MappingProxyType(
                {
                    "strokes": " + ".join(str(i.strokes) for i in infos),
                    "total": sum(i.strokes for i in infos),
                    "count": count,
                }
            ),
            total=total,
        )
    upto = 1 if rung is HintLevel.FIRST_STROKE else None
    return Hint(
        rung,
        "hint.first_stroke" if upto else "hint.stroke_order",
        MappingProxyType({"count": count}),
        stroke_order_image(target, upto=upto, strokes=data),
        total=total,
    )


def _radical_to_show(infos: list[CharInfo]) -> bool:
    """Whether the radical rung has something to show: a radical named for some character,
    or one drawn as a proper part of it (what ``radical_image`` draws; it is None
    otherwise). Known without drawing, so the other rungs draw nothing they do not show."""
    return any(i.shown_radical or 0 < len(i.radical_strokes) < i.strokes for i in infos)


def _radical_hint(target: str, infos: list[CharInfo], data: StrokeData, total: int) -> Hint:
    """The radical rung (``_radical_to_show`` says there is something to show)."""
    shown = [i.shown_radical or NOTHING_TO_SHOW for i in infos]
    image = radical_image(target, strokes=data)
    values: Mapping[str, str | int] = MappingProxyType(
        {"radicals": " / ".join(shown), "count": len(infos)}
    )
    if all(s == NOTHING_TO_SHOW for s in shown):
        # Only the picture (from the stroke data) knows where the radical sits.
        key = "hint.radical_picture"
    else:
        key = "hint.radical" if NOTHING_TO_SHOW not in shown else "hint.radical_partial"
    return Hint(HintLevel.RADICAL, key, values, image, total=total)
