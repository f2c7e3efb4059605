"""Daily posts: at each chat's local time, exactly once per local day, across restarts,
time-zone changes and daylight-saving shifts, with a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from bot.core import Core
from bot.messages import Reply
from bot.scheduler import ChatGone, DailyPoster
from storage import SqliteStorage
from storage.protocols import ChatRecord
from tests.conftest import Clock, add_chat


class Outbox:
    """A fake adapter: records what the scheduler posts, and can be told to fail."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Reply]] = []
        self.fail_with: BaseException | None = None

    async def send(self, chat: ChatRecord, reply: Reply) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append((chat.external_id, reply))
        return f"m{len(self.posts)}"


def poster(core: Core, outbox: Outbox) -> DailyPoster:
    return DailyPoster(core, {"fake": outbox}, spacing=0)


async def test_posts_at_the_local_time_once_and_never_shows_the_answer(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core()
    await add_chat(storage, "g1")
    outbox = Outbox()
    daily = poster(core, outbox)
    clock.now = datetime(2026, 11, 21, 8, 59, tzinfo=UTC)
    assert await daily.run_once() == 0
    clock.now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert await daily.run_once() == 1
    for minutes in range(1, 30):
        clock.now += timedelta(minutes=minutes)
        assert await daily.run_once() == 0
    [(_, reply)] = outbox.posts
    challenge = await storage.challenges.get_for_date(1, datetime(2026, 11, 21).date())
    assert challenge is not None and challenge.prompt_message_id == "m1"
    assert not set(challenge.target) & set(reply.text)
    assert "Today's challenge" in reply.text


async def test_a_restart_does_not_post_twice_and_a_missed_post_is_made_if_the_day_is_not_over(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    await add_chat(storage, "g1")
    outbox = Outbox()
    # Down at 09:00; back at 15:00 the same day: the post is made then.
    clock.now = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    assert await poster(make_core(), outbox).run_once() == 1
    # A restart (new core and poster on the same database) posts nothing more today.
    assert await poster(make_core(), outbox).run_once() == 0
    # Down all of the next day, back at 00:30 the day after: that day is over, not posted;
    # the new day's post waits for 09:00.
    clock.now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert await poster(make_core(), outbox).run_once() == 0
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert await poster(make_core(), outbox).run_once() == 1
    assert len(outbox.posts) == 2


async def test_two_schedulers_at_once_post_once(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    for i in range(20):
        await add_chat(storage, f"g{i}")
    outbox = Outbox()
    clock.now = datetime(2026, 11, 21, 9, 5, tzinfo=UTC)
    counts = await asyncio.gather(
        poster(make_core(), outbox).run_once(), poster(make_core(), outbox).run_once()
    )
    assert sum(counts) == 20 and len(outbox.posts) == 20


async def test_spring_forward_posts_a_skipped_time_right_after_the_jump(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    # New York, 14 March 2027: 02:00 EST jumps to 03:00 EDT; 02:30 never happens.
    await add_chat(storage, "ny", zone="America/New_York", at=time(2, 30))
    outbox = Outbox()
    daily = poster(make_core(), outbox)
    clock.now = datetime(2027, 3, 14, 6, 59, tzinfo=UTC)  # 01:59 EST
    assert await daily.run_once() == 0
    clock.now = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert await daily.run_once() == 1
    clock.now = datetime(2027, 3, 15, 6, 29, tzinfo=UTC)  # 02:29 EDT the next day
    assert await daily.run_once() == 0
    clock.now = datetime(2027, 3, 15, 6, 30, tzinfo=UTC)  # 02:30 EDT
    assert await daily.run_once() == 1


async def test_fall_back_posts_a_repeated_time_once(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    # New York, 7 November 2027: 01:00-01:59 happens twice (EDT, then EST).
    await add_chat(storage, "ny", zone="America/New_York", at=time(1, 30))
    outbox = Outbox()
    daily = poster(make_core(), outbox)
    clock.now = datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert await daily.run_once() == 1
    clock.now = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # 01:30 EST, an hour later
    assert await daily.run_once() == 0
    assert len(outbox.posts) == 1


async def test_a_time_zone_change_posts_once_per_local_day(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    chat = await add_chat(storage, "g1")
    outbox = Outbox()
    daily = poster(make_core(), outbox)
    clock.now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert await daily.run_once() == 1
    # Moving to Shanghai at 10:00 UTC: it is 18:00 on the same date there, already posted.
    await storage.chats.update_settings(chat.id, timezone="Asia/Shanghai")
    clock.now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert await daily.run_once() == 0
    # At 16:00 UTC it is 00:00 on the 22nd in Shanghai: the post waits for 09:00 there.
    clock.now = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert await daily.run_once() == 0
    clock.now = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert await daily.run_once() == 1
    # Moving back to UTC, where it is still the 22nd: that date already has its post.
    await storage.chats.update_settings(chat.id, timezone="UTC")
    clock.now = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert await daily.run_once() == 0
    assert len(outbox.posts) == 2


async def test_a_failed_send_is_retried_and_a_removed_chat_is_paused(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    await add_chat(storage, "g1")
    gone = await add_chat(storage, "g2")
    outbox = Outbox()
    daily = poster(make_core(), outbox)
    clock.now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    outbox.fail_with = ConnectionError("network down")
    assert await daily.run_once() == 0
    outbox.fail_with = None
    assert await daily.run_once() == 2
    clock.advance(days=1)
    outbox.fail_with = ChatGone("bot was kicked")
    assert await daily.run_once() == 0
    active = [c.external_id for c in await storage.chats.list_active()]
    assert gone.external_id not in active and active == []
    outbox.fail_with = None
    assert await daily.run_once() == 0  # paused chats get nothing until they write again


async def test_chats_with_daily_posts_off_or_no_connected_adapter_get_nothing(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    off = await add_chat(storage, "quiet")
    await storage.chats.update_settings(off.id, daily_enabled=False)
    await add_chat(storage, "x", platform="elsewhere")
    outbox = Outbox()
    clock.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert await poster(make_core(), outbox).run_once() == 0


async def started_poster(
    make_core, clock: Clock, storage: SqliteStorage, outbox: Outbox
) -> DailyPoster:  # type: ignore[no-untyped-def]
    """One chat and a DailyPoster started on APScheduler, whose first round runs at once."""
    await add_chat(storage, "g1")
    clock.now = datetime.now(UTC).replace(hour=23, minute=59)
    daily = DailyPoster(make_core(), {"fake": outbox}, interval=timedelta(seconds=3600))
    daily.start()
    return daily


async def test_the_apscheduler_job_posts_on_start(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox()
    daily = await started_poster(make_core, clock, storage, outbox)
    try:
        for _ in range(100):
            if outbox.posts:
                break
            await asyncio.sleep(0.02)
    finally:
        await daily.stop()
    assert len(outbox.posts) == 1


class SlowOutbox(Outbox):
    """Holds each post until told to go on: a send in flight when the bot stops."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.go_on = asyncio.Event()

    async def send(self, chat: ChatRecord, reply: Reply) -> str:
        self.sending.set()
        await self.go_on.wait()
        return await super().send(chat, reply)


async def test_stopping_lets_the_round_in_progress_finish_its_post(
    make_core, clock: Clock, storage: SqliteStorage, caplog
) -> None:  # type: ignore[no-untyped-def]
    outbox = SlowOutbox()
    daily = await started_poster(make_core, clock, storage, outbox)
    await asyncio.wait_for(outbox.sending.wait(), 5)
    stopping = asyncio.create_task(daily.stop())
    await asyncio.sleep(0.05)
    outbox.go_on.set()
    await asyncio.wait_for(stopping, 5)

    # Posted and recorded, not cancelled half-way (and no error logged for it).
    assert len(outbox.posts) == 1
    challenge = await storage.challenges.get_for_date(1, clock.now.date())
    assert challenge is not None and challenge.prompt_message_id == "m1"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
