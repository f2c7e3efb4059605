"""The small interfaces the rest of the product uses to ask recognition about a photo."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Verdict(StrEnum):
    CORRECT = "correct"
    WRONG = "wrong"  # another character; Grade.predicted says which
    INCOMPLETE = "incomplete"  # the target with strokes missing
    UNREADABLE = "unreadable"
    INVALID_TARGET = "invalid_target"  # the target is outside the model's character set


@dataclass(frozen=True, slots=True)
class Grade:
    verdict: Verdict
    predicted: str | None = None
    confidence: float | None = None
    reason: str = ""  # why, in a few words, for logs and the unreadable reply
    # The model's figures behind the verdict (target probability, similarity, ...), kept
    # with the answer so corrections can be exported with what the model thought.
    scores: tuple[tuple[str, float], ...] = ()
    model_version: str = ""


class Grader(Protocol):
    """Judges a photo of handwriting against the character or word the user was asked for."""

    async def grade(self, image: bytes, target: str) -> Grade: ...


Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line read from a photo. ``box`` holds its corners (top-left, top-right,
    bottom-right, bottom-left) in pixels of the upright photo; ``char_confidences`` lines
    up with ``text`` one to one."""

    text: str
    confidence: float
    box: tuple[Point, ...] = ()
    char_confidences: tuple[float, ...] = ()


class PageProblem(StrEnum):
    """Why a photo gave no text, so the reply can say what to do differently."""

    NO_TEXT = "no_text"
    BLURRY = "blurry"
    TOO_SMALL = "too_small"


@dataclass(frozen=True, slots=True)
class TextPage:
    """Everything read from one photo, in reading order. ``width`` and ``height`` are the
    upright photo's size, the frame of the boxes; ``truncated`` says more text boxes were
    found than were read."""

    lines: tuple[TextLine, ...] = ()
    width: int = 0
    height: int = 0
    truncated: bool = False
    problem: PageProblem | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class LineReader(Protocol):
    """Reads the handwritten text lines in a photo, top to bottom."""

    async def read(self, image: bytes) -> TextPage: ...
