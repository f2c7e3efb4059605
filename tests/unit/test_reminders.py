"""Reminders a learner asked for: due cards and a streak about to break, once a day each."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.i18n import t
from bot.messages import ChatKind, ChatRef, UserRef
from bot.scheduler import DailyPoster
from recognition.api import Grade, Verdict
from storage import SqliteStorage
from tests.conftest import Clock, FakeChat, ScriptedGrader, handwriting_png
from tests.unit.test_scheduler import Outbox

DM = ChatRef("fake", "dm-ann", ChatKind.PRIVATE, "Ann")
GROUP = ChatRef("fake", "class-1", ChatKind.GROUP, "Class 1")
ANN = UserRef("fake", "ann", "Ann")


def texts(outbox: Outbox) -> list[str]:
    return [r.text for _, r in outbox.posts if not r.text.startswith("Today's challenge")]


async def test_remind_is_asked_for_in_private(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core()
    assert await FakeChat(core, GROUP, ANN, clock).text("/remind on") == t("remind.private_only")
    dm = FakeChat(core, DM, ANN, clock)
    assert await dm.text("/remind") == t("remind.status_off")
    assert "Reminders on" in await dm.text("/remind on")
    assert await dm.text("/remind") == t("remind.status_on")
    assert (await dm.text("/remind maybe")).startswith("Usage: /remind")


async def test_due_cards_are_reminded_once_a_day(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=ScriptedGrader(Grade(Verdict.CORRECT, None, 0.9)))
    dm = FakeChat(core, DM, ANN, clock)
    await dm.send("/settings daily off")  # only the reminders are under test here
    await dm.send("/today")
    await dm.send(photo=handwriting_png())
    await dm.send("/remind on")
    outbox = Outbox()
    poster = DailyPoster(core, {"fake": outbox}, spacing=0)
    await poster.run_once()
    assert texts(outbox) == []  # nothing is due on the day it was learnt
    clock.now = datetime(2026, 12, 30, 8, 0, tzinfo=UTC)
    await poster.run_once()
    assert texts(outbox) == []  # not before the chat's daily time (09:00)
    clock.now = clock.now.replace(hour=9, minute=1)
    await poster.run_once()
    await poster.run_once()
    [reminder] = texts(outbox)
    assert reminder.startswith("You have") and "due for review" in reminder
    clock.advance(days=1)
    await poster.run_once()
    assert len(texts(outbox)) == 2
    await dm.send("/remind off")
    clock.advance(days=1)
    await poster.run_once()
    assert len(texts(outbox)) == 2


async def test_a_streak_about_to_break_is_reminded_in_the_evening(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=ScriptedGrader(*[Grade(Verdict.CORRECT, None, 0.9)] * 3))
    group = FakeChat(core, GROUP, ANN, clock)
    await group.send("/today")
    await group.send(photo=handwriting_png())
    dm = FakeChat(core, DM, ANN, clock)
    await dm.send("/settings daily off")
    await dm.send("/remind on")
    outbox = Outbox()
    poster = DailyPoster(core, {"fake": outbox}, spacing=0)
    # The next day: nothing in the morning (cards are not due yet either), a warning at 20:00.
    clock.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    await poster.run_once()
    clock.now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    await poster.run_once()
    await poster.run_once()
    streak_texts = [x for x in texts(outbox) if x.startswith(t("remind.streak"))]
    assert len(streak_texts) == 1 and "1 day(s) in Class 1" in streak_texts[0]
    # Answered the day after: no warning that evening.
    clock.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    await group.send("/today")
    await group.send(photo=handwriting_png())
    clock.now = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)
    await poster.run_once()
    assert len([x for x in texts(outbox) if x.startswith(t("remind.streak"))]) == 1
