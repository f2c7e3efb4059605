"""Each chat's daily challenge: the item for a local date, none repeated before all are seen."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from quizzes.hsk import Vocabulary
from storage.protocols import ChallengeRecord, ChatRecord, Storage

BLANK = "＿"


@dataclass(frozen=True, slots=True)
class Prompt:
    """What a learner is shown: never the characters themselves."""

    pinyin: str
    meaning: str
    length: int


def local_date(chat: ChatRecord, now: datetime) -> date:
    return now.astimezone(ZoneInfo(chat.timezone)).date()


def post_time_reached(chat: ChatRecord, now: datetime) -> bool:
    """Whether the chat's daily time has come on its local today. Wall-clock comparison:
    a time skipped by a daylight-saving jump (02:30 on the spring-forward night) is
    reached at the first minute after the jump, and a repeated hour posts once because
    the database already holds the day's post."""
    local = now.astimezone(ZoneInfo(chat.timezone))
    return local.time().replace(tzinfo=None) >= chat.daily_time


def day_start(chat: ChatRecord, day: date) -> datetime:
    """Midnight starting ``day`` in the chat's time zone, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(chat.timezone))


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
        # A character's meaning quotes the words it is used in ("as in 现在 (xiànzài): now"):
        # blank the character itself out, or the prompt would give the answer away.
        for char in set(target):
            meaning = meaning.replace(char, BLANK)
        return Prompt(pinyin=item.pinyin, meaning=meaning, length=len(target))

    async def claim_post(self, chat: ChatRecord, now: datetime) -> ChallengeRecord | None:
        """Today's challenge if it is time to post it and nobody has yet; the claim is
        taken in the database, so a restart or a second scheduler never posts it twice.
        The caller posts it and then calls ``posted``, or ``release`` if sending failed."""
        if not (chat.active and chat.daily_enabled) or not post_time_reached(chat, now):
            return None
        existing = await self.current(chat, now)
        if existing is not None and existing.posted_at is not None:
            return None
        challenge = existing or await self.today(chat, now)
        if not await self._storage.challenges.claim_post(challenge.id, now):
            return None
        return challenge

    async def posted(self, challenge: ChallengeRecord, message_id: str, at: datetime) -> None:
        await self._storage.challenges.mark_posted(challenge.id, message_id, at)

    async def release(self, challenge: ChallengeRecord) -> None:
        await self._storage.challenges.release_post(challenge.id)

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
        weights = difficulty_weights(
            candidates, await self._storage.attempts.item_outcomes(chat.id)
        )
        # Seeded by chat and day so a restart mid-choice picks the same item.
        rng = random.Random(f"{chat.platform}:{chat.external_id}:{day}")
        return rng.choices(candidates, weights=weights)[0]


def difficulty_weights(items: list[str], outcomes: dict[str, tuple[int, int]]) -> list[float]:
    """Chance weights that favour items whose characters the chat's members often miss.

    Outcomes are per answered target; a character's miss rate pools every target that
    contains it, smoothed towards 1 in 4 so a single miss does not dominate."""
    misses: Counter[str] = Counter()
    graded: Counter[str] = Counter()
    for target, (missed, total) in outcomes.items():
        for char in set(target):
            misses[char] += missed
            graded[char] += total
    weights = []
    for item in items:
        rates = [(misses[c] + 0.5) / (graded[c] + 2.0) for c in item]
        weights.append(0.5 + 4.0 * sum(rates) / len(rates))
    return weights
