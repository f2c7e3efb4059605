"""Leaderboard ranks from the score tables: ties share a rank, my rank beyond the top 10, and
no rank without points."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from storage import SqliteStorage
from storage.protocols import Award, Board, ChatRecord, LeaderboardRow, UserRecord
from tests.conftest import add_chat

DAY = date(2026, 3, 10)


async def chat(storage: SqliteStorage, name: str = "group") -> ChatRecord:
    return await add_chat(storage, name)


async def user(storage: SqliteStorage, name: str) -> UserRecord:
    return await storage.users.upsert("fake", name, name, "en")


async def answer(
    storage: SqliteStorage,
    where: ChatRecord,
    who: UserRecord,
    points: int,
    day: date = DAY,
    verdict: str = "correct",
) -> int:
    """One graded answer to the day's challenge; ``points`` is what the game awards it."""
    challenge = await storage.challenges.create(where.id, day, "好", "auto")
    attempt = await storage.attempts.add(
        user_id=who.id,
        chat_id=where.id,
        challenge_id=challenge.id,
        kind="daily",
        target="好",
        image_ref=f"{who.id}-{day}.png",
        received_at=datetime.combine(day, time(10), UTC),
    )
    award = Award(where.id, who.id, day, points) if verdict == "correct" else None
    await storage.attempts.record_grade(
        attempt.id,
        verdict=verdict,
        predicted="好",
        confidence=0.9,
        graded_at=datetime.combine(day, time(10, 1), UTC),
        award=award,
    )
    return attempt.id


def ranked(rows: list[LeaderboardRow]) -> list[tuple[str, int, int]]:
    return [(row.display_name, row.points, row.rank) for row in rows]


async def test_ties_share_a_rank_and_the_next_rank_skips(storage: SqliteStorage) -> None:
    group = await chat(storage)
    for name, points in (("Ann", 15), ("Ben", 15), ("Cy", 10), ("Dee", 10), ("Eve", 4)):
        await answer(storage, group, await user(storage, name), points)
    board = Board(group.id)
    assert ranked(await storage.scores.leaderboard(board)) == [
        ("Ann", 15, 1),
        ("Ben", 15, 1),
        ("Cy", 10, 3),
        ("Dee", 10, 3),
        ("Eve", 4, 5),
    ]
    dee = await storage.users.find("fake", "Dee")
    assert dee is not None
    mine = await storage.scores.rank(board, dee.id)
    assert mine is not None and (mine.points, mine.rank) == (10, 3)


async def test_my_rank_outside_the_top_10_counts_everyone_above_me(
    storage: SqliteStorage,
) -> None:
    group = await chat(storage)
    # Eleven tied at the top, then me: the top 10 cannot show me, my rank is 12.
    for i in range(11):
        await answer(storage, group, await user(storage, f"P{i:02d}"), 15)
    me = await user(storage, "Me")
    await answer(storage, group, me, 10)
    for board in (Board(group.id), Board(group.id, DAY, DAY), Board(None)):
        top = await storage.scores.leaderboard(board, limit=10)
        assert len(top) == 10 and {row.rank for row in top} == {1}
        assert me.id not in {row.user_id for row in top}
        mine = await storage.scores.rank(board, me.id)
        assert mine is not None and (mine.display_name, mine.points, mine.rank) == ("Me", 10, 12)


async def test_no_points_no_rank(storage: SqliteStorage) -> None:
    group = await chat(storage)
    ann, wrong, revoked = [await user(storage, n) for n in ("Ann", "Wrong", "Revoked")]
    await answer(storage, group, ann, 12)
    await answer(storage, group, wrong, 0, verdict="wrong")
    taken = await answer(storage, group, revoked, 15)
    assert await storage.attempts.revoke(taken, "wrong", DAY) == 15
    for board in (Board(group.id), Board(group.id, DAY, DAY), Board(None)):
        assert [row.display_name for row in await storage.scores.leaderboard(board)] == ["Ann"]
        assert await storage.scores.rank(board, wrong.id) is None
        assert await storage.scores.rank(board, revoked.id) is None


async def test_a_week_is_seven_local_days_and_global_adds_up_every_chat(
    storage: SqliteStorage,
) -> None:
    one, two = await chat(storage, "one"), await chat(storage, "two")
    old, recent = await user(storage, "Old"), await user(storage, "Recent")
    await answer(storage, one, old, 15, day=DAY - timedelta(days=7))
    await answer(storage, one, recent, 10, day=DAY - timedelta(days=6))
    await answer(storage, two, old, 4, day=DAY)
    week = Board(one.id, DAY - timedelta(days=6), DAY)
    assert ranked(await storage.scores.leaderboard(week)) == [("Recent", 10, 1)]
    assert await storage.scores.rank(week, old.id) is None
    assert ranked(await storage.scores.leaderboard(Board(one.id))) == [
        ("Old", 15, 1),
        ("Recent", 10, 2),
    ]
    assert ranked(await storage.scores.leaderboard(Board(None))) == [
        ("Old", 19, 1),
        ("Recent", 10, 2),
    ]
