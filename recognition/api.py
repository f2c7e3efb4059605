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


class Grader(Protocol):
    """Judges a photo of handwriting against the character or word the user was asked for."""

    async def grade(self, image: bytes, target: str) -> Grade: ...


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    confidence: float


class LineReader(Protocol):
    """Reads the handwritten text lines in a photo, top to bottom."""

    async def read(self, image: bytes) -> list[TextLine]: ...
