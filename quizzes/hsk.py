"""The HSK words and characters the bot teaches, loaded from the data files in quizzes/data."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_LEVEL_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class Word:
    """An HSK word with the one reading a learner is taught and a few short English glosses."""

    hanzi: str
    pinyin: str
    meanings: tuple[str, ...]
    radical: str
    frequency: int

    @property
    def gloss(self) -> str:
        return "; ".join(self.meanings)

    @property
    def length(self) -> int:
        return len(self.hanzi)


@dataclass(frozen=True)
class Character:
    """A character of the level's charset, explained through the HSK words it is used in."""

    hanzi: str
    pinyin: str
    meaning: str
    radical: str
    words: tuple[str, ...]


class Vocabulary:
    """One HSK level: its words in list order and its characters in order of first use."""

    def __init__(
        self, level: str, words: tuple[Word, ...], characters: tuple[Character, ...]
    ) -> None:
        self.level = level
        self.words = words
        self.characters = characters
        self._words = {w.hanzi: w for w in words}
        self._characters = {c.hanzi: c for c in characters}
        if len(self._words) != len(words) or len(self._characters) != len(characters):
            raise ValueError(f"{level}: duplicate words or characters")
        missing = {ch for w in words for ch in w.hanzi} - self._characters.keys()
        if missing:
            raise ValueError(f"{level}: characters without an entry: {''.join(sorted(missing))}")
        self._longest = max((w.length for w in words), default=0)

    def __repr__(self) -> str:
        return (
            f"Vocabulary({self.level!r}, {len(self.words)} words, "
            f"{len(self.characters)} characters)"
        )

    def __contains__(self, hanzi: object) -> bool:
        return hanzi in self._words or hanzi in self._characters

    @property
    def charset(self) -> str:
        return "".join(c.hanzi for c in self.characters)

    def word(self, hanzi: str) -> Word | None:
        return self._words.get(hanzi)

    def character(self, hanzi: str) -> Character | None:
        return self._characters.get(hanzi)

    def item(self, hanzi: str) -> Word | Character | None:
        """The word if ``hanzi`` is an HSK word (一 is both: the word wins), else the character."""
        word = self._words.get(hanzi)
        return word if word is not None else self._characters.get(hanzi)

    def words_in(self, text: str) -> list[Word]:
        """HSK words in ``text``, left to right, longest match first, without overlaps."""
        found: list[Word] = []
        i = 0
        while i < len(text):
            for size in range(min(self._longest, len(text) - i), 0, -1):
                word = self._words.get(text[i : i + size])
                if word is not None:
                    found.append(word)
                    i += size
                    break
            else:
                i += 1
        return found


def _word(raw: dict[str, Any]) -> Word:
    return Word(
        hanzi=str(raw["hanzi"]),
        pinyin=str(raw["pinyin"]),
        meanings=tuple(str(m) for m in raw["meanings"]),
        radical=str(raw.get("radical", "")),
        frequency=int(raw["frequency"]),
    )


def _character(raw: dict[str, Any]) -> Character:
    return Character(
        hanzi=str(raw["hanzi"]),
        pinyin=str(raw["pinyin"]),
        meaning=str(raw["meaning"]),
        radical=str(raw.get("radical", "")),
        words=tuple(str(w) for w in raw["words"]),
    )


def load_vocabulary(level: str = "hsk1") -> Vocabulary:
    """Load ``quizzes/data/{level}.json`` (e.g. "hsk1"); works from an installed package too."""
    return _load(level)


@cache  # keyed on the level alone, so load_vocabulary() and load_vocabulary("hsk1") share it
def _load(level: str) -> Vocabulary:
    if not _LEVEL_NAME.fullmatch(level):
        raise ValueError(f"not a vocabulary level name: {level!r}")
    resource = resources.files("quizzes") / "data" / f"{level}.json"
    if not resource.is_file():
        raise ValueError(f"no vocabulary data for level {level!r}")
    data = json.loads(resource.read_text(encoding="utf-8"))
    return Vocabulary(
        level=level,
        words=tuple(_word(w) for w in data["words"]),
        characters=tuple(_character(c) for c in data["characters"]),
    )
