"""Each chat's daily challenge: the item for a local date, none repeated before all are seen."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from quizzes.hsk import Vocabulary
from storage.protocols import ChallengeRecord, ChatRecord, Storage


@dataclass(frozen=True, slots=True)
class Prompt:
    """What a learner is shown: never the characters themselves."""

    pinyin: str
    meaning: str
    length: int


def local_date(chat: ChatRecord, now: datetime) -> date:
    return now.astimezone(ZoneInfo(chat.timezone)).date()


class Challenges:
    def __init__(self, storage: Storage, vocabulary: Vocabulary) -> None:
        self._storage = storage
        self._vocabulary = vocabulary
        # Words first, then the characters that are not words on their own.
        words = [w.hanzi for w in vocabulary.words]
        self.items: tuple[str, ...] = tuple(
            words + [c.hanzi for c in vocabulary.characters if c.hanzi not in set(words)]
        )

    def prompt(self, target: str) -> Prompt:
        item = self._vocabulary.item(target)
        if item is None:
            raise LookupError(f"{target!r} is not in the vocabulary")
        meaning = item.gloss if hasattr(item, "gloss") else item.meaning
        return Prompt(pinyin=item.pinyin, meaning=meaning, length=len(target))

    async def current(self, chat: ChatRecord, now: datetime) -> ChallengeRecord | None:
        return await self._storage.challenges.get_for_date(chat.id, local_date(chat, now))

    async def today(self, chat: ChatRecord, now: datetime) -> ChallengeRecord:
        """The chat's challenge for its local today, choosing and storing it if needed."""
        day = local_date(chat, now)
        existing = await self._storage.challenges.get_for_date(chat.id, day)
        if existing is not None:
            return existing
        if chat.next_target:
            target, source = chat.next_target, "admin"
        else:
            target, source = await self._choose(chat, day), "auto"
        created = await self._storage.challenges.create(chat.id, day, target, source)
        if source == "admin" and created.target == chat.next_target:
            await self._storage.chats.set_next_target(chat.id, None)
        return created

    async def _choose(self, chat: ChatRecord, day: date) -> str:
        # Every item once before any repeats: draw among the least-used items.
        used = Counter(await self._storage.challenges.targets_used(chat.id))
        fewest = min(used.get(item, 0) for item in self.items)
        candidates = [item for item in self.items if used.get(item, 0) == fewest]
        # Seeded by chat and day so a restart mid-choice picks the same item.
        return random.Random(f"{chat.platform}:{chat.external_id}:{day}").choice(candidates)
