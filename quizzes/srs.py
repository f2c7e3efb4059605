"""Spaced repetition with FSRS-6: every character a user has written is a card, rated by the
recognizer's verdict so nobody grades themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fsrs import Card, Rating, Scheduler

from storage.protocols import Storage

# "Easy" needs both a very sure model and a quick answer: recall was effortless.
EASY_CONFIDENCE = 0.95
EASY_WITHIN = timedelta(minutes=2)


def rating_for(
    verdict: str,
    *,
    first_try: bool,
    hints: int,
    confidence: float | None,
    answer_time: timedelta | None,
) -> Rating | None:
    """The FSRS rating a verdict earns; None when the photo could not be judged (an
    unreadable photo says nothing about the learner's memory)."""
    if verdict == "correct":
        if not first_try or hints > 0:
            return Rating.Hard
        if (
            confidence is not None
            and confidence >= EASY_CONFIDENCE
            and answer_time is not None
            and answer_time <= EASY_WITHIN
        ):
            return Rating.Easy
        return Rating.Good
    if verdict in ("wrong", "incomplete"):
        return Rating.Again
    return None


@dataclass(frozen=True, slots=True)
class Review:
    item: str
    rating: Rating
    due: datetime


class Deck:
    """A user's cards over storage; one card per character, words review each character."""

    def __init__(self, storage: Storage, scheduler: Scheduler | None = None) -> None:
        self._storage = storage
        self._scheduler = scheduler or Scheduler()

    async def review(
        self,
        user_id: int,
        target: str,
        rating: Rating,
        at: datetime,
        attempt_id: int | None = None,
    ) -> list[Review]:
        reviews: list[Review] = []
        for char in dict.fromkeys(target):  # each character once, in order
            stored = await self._storage.cards.get(user_id, char)
            card = Card.from_json(stored[1]) if stored else Card()
            card, log = self._scheduler.review_card(card, rating, at)
            card_id = await self._storage.cards.save(user_id, char, card.due, card.to_json())
            await self._storage.cards.log_review(
                card_id, attempt_id, int(rating), at, log.to_json()
            )
            reviews.append(Review(char, rating, card.due))
        return reviews

    async def next_due(self, user_id: int, now: datetime, skip: str = "") -> str | None:
        """The most overdue card, other than ``skip`` when something else is due."""
        due = await self._storage.cards.due_items(user_id, now, limit=2)
        others = [item for item in due if item != skip]
        return others[0] if others else (due[0] if due else None)
