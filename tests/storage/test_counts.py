"""Counts the bot needs without loading a user's whole history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import SqliteStorage
from tests.conftest import add_chat

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_earlier_tries_counts_only_this_card_since_it_was_shown(
    storage: SqliteStorage,
) -> None:
    user = await storage.users.upsert("fake", "ann", "Ann", "en")
    other = await storage.users.upsert("fake", "bob", "Bob", "en")
    chat = await add_chat(storage, "g")
    elsewhere = await add_chat(storage, "h")

    async def answer(
        minutes: int,
        *,
        who: int = user.id,
        target: str = "学",
        kind: str = "practice",
        chat_id: int = chat.id,
    ) -> int:
        a = await storage.attempts.add(
            user_id=who,
            chat_id=chat_id,
            challenge_id=None,
            kind=kind,
            target=target,
            image_ref=f"img-{minutes}-{who}-{target}-{kind}-{chat_id}",
            received_at=T0 + timedelta(minutes=minutes),
        )
        return a.id

    await answer(-5)  # before the card was shown
    await answer(1)
    await answer(2, target="生")
    await answer(3, who=other.id)
    await answer(4, kind="daily")
    await answer(5, chat_id=elsewhere.id)
    await answer(6)
    latest = await answer(7)
    await answer(8)  # after the answer being graded

    async def count(before: int) -> int:
        return await storage.attempts.earlier_tries(
            user_id=user.id,
            chat_id=chat.id,
            kind="practice",
            target="学",
            since=T0,
            before_id=before,
        )

    assert await count(latest) == 2
    assert await count(1) == 0
    assert await storage.attempts.count_for_user(user.id) == 8
    assert await storage.attempts.count_for_user(other.id) == 1


async def test_corrections_are_counted_per_user(storage: SqliteStorage) -> None:
    ann = await storage.users.upsert("fake", "ann", "Ann", "en")
    bob = await storage.users.upsert("fake", "bob", "Bob", "en")
    for i, who in enumerate((ann.id, bob.id, ann.id)):
        await storage.corrections.add(
            user_id=who,
            attempt_id=None,
            image_ref=f"c{i}",
            predicted="人",
            label="入",
            created_at=T0,
        )
    assert await storage.corrections.count_for_user(ann.id) == 2
    assert await storage.corrections.count_for_user(bob.id) == 1
    assert await storage.corrections.count_for_user(999) == 0
