"""The core driven through a fake adapter, as a user in a chat would meet it."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bot.core import COMMANDS
from bot.i18n import t
from bot.messages import ChatKind, ChatRef, UserRef
from recognition.api import Grade, Verdict
from recognition.service import ServiceBusy
from storage import SqliteStorage
from tests.conftest import Clock, FakeChat, ScriptedGrader, handwriting_png


async def test_help_lists_every_command_to_an_operator(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core(config={"operator_ids": frozenset({"7"})})
    operator = FakeChat(core, ChatRef("fake", "dm"), UserRef("fake", "7"), clock)
    text = await operator.text("/help")
    for name in COMMANDS:
        assert f"/{name}" in text


async def test_help_marks_admin_commands_for_ordinary_users(chat: FakeChat) -> None:
    text = await chat.text("/help")
    assert "/today" in text
    export = next(line for line in text.splitlines() if line.startswith("/export"))
    assert export.endswith(t("help.admin_marker"))


async def test_today_shows_pinyin_and_meaning_but_never_the_characters(
    chat: FakeChat, storage: SqliteStorage
) -> None:
    text = await chat.text("/today")
    chats = await storage.chats.list_active()
    challenge = await storage.challenges.get_for_date(chats[0].id, chat.clock().date())
    assert challenge is not None
    prompt = chat.core.challenges.prompt(challenge.target)
    assert prompt.pinyin in text and prompt.meaning in text
    assert f"{len(challenge.target)} character" in text
    for character in challenge.target:
        assert character not in text


async def test_today_is_the_same_all_day_and_changes_the_next_day(
    chat: FakeChat, clock: Clock, storage: SqliteStorage
) -> None:
    first = await chat.text("/today")
    clock.advance(hours=5)
    assert await chat.as_user("u2").text("/today") == first
    clock.advance(days=1)
    assert await chat.text("/today") != first
    chats = await storage.chats.list_active()
    assert len(await storage.challenges.targets_used(chats[0].id)) == 2


async def test_local_day_follows_the_chat_time_zone(
    chat: FakeChat, clock: Clock, storage: SqliteStorage
) -> None:
    assert "Asia/Shanghai" in await chat.as_user("a1", admin=True).text(
        "/settings tz Asia/Shanghai"
    )
    # 17:00 UTC is already 01:00 the next day in Shanghai.
    clock.now = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    await chat.text("/today")
    chats = await storage.chats.list_active()
    challenge = await storage.challenges.get_for_date(
        chats[0].id, clock.now.date() + timedelta(days=1)
    )
    assert challenge is not None


async def test_no_item_repeats_before_all_were_seen(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core(config={"messages_per_minute": 10_000})
    chat = FakeChat(core, ChatRef("fake", "g", ChatKind.GROUP), UserRef("fake", "u"), clock)
    assert len(core.challenges.items) == len(set(core.challenges.items)) > 178
    items = chat.core.challenges.items
    for _ in range(len(items)):
        await chat.send("/today")
        clock.advance(days=1)
    chats = await storage.chats.list_active()
    used = await storage.challenges.targets_used(chats[0].id)
    assert sorted(used) == sorted(items)


async def test_admin_sets_the_next_challenge(chat: FakeChat, storage: SqliteStorage) -> None:
    teacher = chat.as_user("t1", "Teacher", admin=True)
    reply = await teacher.text("/challenge set 谢谢")
    assert "xièxie" in reply.replace(" ", "")
    await chat.text("/today")
    chats = await storage.chats.list_active()
    today = await storage.challenges.get_for_date(chats[0].id, chat.clock().date())
    assert today is not None and today.target == "谢谢" and today.source == "admin"
    audit = await storage.audit.recent()
    assert audit[0][1] == "challenge.set"


async def test_challenge_set_is_refused_to_non_admins_in_groups(chat: FakeChat) -> None:
    reply = await chat.text("/challenge set 好")
    assert reply == t("errors.admin_only", command="/challenge")


async def test_challenge_set_rejects_non_hsk_and_bad_usage(chat: FakeChat) -> None:
    teacher = chat.as_user("t1", admin=True)
    assert "isn't in the HSK 1 list" in await teacher.text("/challenge set 龘")
    assert (await teacher.text("/challenge")).startswith("Usage: /challenge set")


async def test_unknown_commands_get_help(private_chat: FakeChat) -> None:
    assert "Did you mean /today" in await private_chat.text("/todya")
    assert "/help" in await private_chat.text("/xyzzy")


async def test_command_addressed_to_the_bot_in_a_group(chat: FakeChat) -> None:
    assert "Today's challenge" in await chat.text("/today@HanziBot")


async def test_plain_text_in_private_gets_a_hint_but_groups_stay_quiet(
    private_chat: FakeChat, chat: FakeChat
) -> None:
    assert "photo" in await private_chat.text("hello")
    assert await chat.send("hello everyone") == []


async def test_settings_time_zone_and_daily_time(chat: FakeChat, storage: SqliteStorage) -> None:
    admin = chat.as_user("a1", admin=True)
    assert "Asia/Shanghai" in await admin.text("/settings tz asia/shanghai")
    assert "08:30" in await admin.text("/settings time 08:30")
    shown = await chat.text("/settings")
    assert "Asia/Shanghai" in shown and "08:30" in shown
    assert "isn't a time zone" in await admin.text("/settings tz Mars/Olympus")
    assert "isn't a time" in await admin.text("/settings time 25:00")
    assert await chat.text("/settings time 07:00") == t("errors.admin_only", command="/settings")
    chats = await storage.chats.list_active()
    assert chats[0].daily_time.strftime("%H:%M") == "08:30"


async def test_photo_before_any_challenge_asks_for_today(chat: FakeChat) -> None:
    assert "/today" in await chat.text(photo=handwriting_png())


async def test_answer_is_stored_before_grading_even_without_a_model(
    chat: FakeChat, storage: SqliteStorage, images
) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/today")
    reply = await chat.text(photo=handwriting_png())
    assert "saved" in reply
    pending = await storage.attempts.pending()
    assert len(pending) == 1
    assert images.path(pending[0].image_ref).exists()


async def test_bad_files_get_clear_replies_and_store_nothing(
    chat: FakeChat, storage: SqliteStorage, make_core
) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/today")
    png = handwriting_png()
    assert t("photo.not_image") == await chat.text(photo=b"%PDF-1.4 not a photo")
    assert t("photo.truncated") == await chat.text(photo=handwriting_png(fmt="JPEG")[:400])
    assert t("photo.empty") == await chat.text(photo=b"")
    tiny = io.BytesIO()
    Image.new("L", (8, 8), 255).save(tiny, "PNG")
    assert "too small" in await chat.text(photo=tiny.getvalue())
    small_limit = FakeChat(
        make_core(config={"max_photo_bytes": 100}), chat.chat, chat.user, chat.clock
    )
    assert "too big" in await small_limit.text(photo=png)
    assert await storage.attempts.pending() == []


async def test_graded_answers_score_once_with_a_first_try_bonus(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    grader = ScriptedGrader(
        Grade(Verdict.CORRECT, "好", 0.97),
        Grade(Verdict.CORRECT, "好", 0.95),
    )
    alice = FakeChat(
        make_core(grader=grader),
        ChatRef("fake", "g", ChatKind.GROUP),
        UserRef("fake", "u1", "Alice"),
        clock,
    )
    await alice.send("/today")
    first = await alice.text(photo=handwriting_png())
    assert "+15 points" in first
    assert "once per day" in await alice.text(photo=handwriting_png(300))
    stats = await alice.text("/stats")
    assert "Points: 15" in stats and "2 correct of 2 graded" in stats
    board = await alice.text("/leaderboard")
    assert "1. Alice - 15 pts" in board
    target = (await storage.challenges.targets_used((await storage.chats.list_active())[0].id))[0]
    assert [seen_target for _, seen_target in grader.seen] == [target, target]


async def test_wrong_then_correct_scores_without_bonus(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    grader = ScriptedGrader(
        Grade(Verdict.WRONG, "女", 0.8),
        Grade(Verdict.INCOMPLETE, None, 0.6),
        Grade(Verdict.UNREADABLE),
        Grade(Verdict.CORRECT, "好", 0.9),
    )
    bob = FakeChat(
        make_core(grader=grader),
        ChatRef("fake", "g", ChatKind.GROUP),
        UserRef("fake", "u2", "Bob"),
        clock,
    )
    await bob.send("/today")
    wrong = await bob.send(photo=handwriting_png())
    assert "looks like 女" in wrong[0].text
    assert wrong[1].text.startswith(t("hint.header", level=1, total=4))
    incomplete = await bob.send(photo=handwriting_png(210))
    assert "strokes are missing" in incomplete[0].text
    assert incomplete[1].text.startswith(t("hint.header", level=2, total=4))
    assert "can't read" in await bob.text(photo=handwriting_png(220))
    # Two hints were given (one per wrong answer): no first-try bonus, 2 points each off.
    correct = await bob.text(photo=handwriting_png(230))
    assert "+6 points" in correct and "-4 for hints" in correct


async def test_leaderboard_ranks_ties_and_periods(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=ScriptedGrader(*[Grade(Verdict.CORRECT)] * 3))
    group = ChatRef("fake", "g", ChatKind.GROUP)
    for uid, name in (("u1", "Ann"), ("u2", "Ben"), ("u3", "Cy")):
        player = FakeChat(core, group, UserRef("fake", uid, name), clock)
        await player.send("/today")
        if uid != "u3":
            await player.send(photo=handwriting_png())
    cy = FakeChat(core, group, UserRef("fake", "u3", "Cy"), clock)
    clock.advance(days=2)
    await cy.send("/today")
    await cy.send(photo=handwriting_png())
    week = await cy.text("/leaderboard week")
    assert re.findall(r"^(\d)\. (\w+)", week, re.M) == [("1", "Ann"), ("1", "Ben"), ("1", "Cy")]
    today = await cy.text("/leaderboard today")
    assert "Cy" in today and "Ann" not in today
    assert (await cy.text("/leaderboard yesterday")).startswith("Usage: /leaderboard")


async def test_forget_needs_confirmation_then_deletes_everything(
    chat: FakeChat, storage: SqliteStorage, images
) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/today")
    await chat.send(photo=handwriting_png())
    ref = (await storage.attempts.pending())[0].image_ref
    [ask] = await chat.send("/forget")
    assert ask.buttons and ask.buttons[0].action == "/forget confirm"
    assert await storage.attempts.pending()  # nothing deleted yet
    [done] = await chat.send(action=ask.buttons[0].action)
    assert "deleted: 1 answer, 1 photo" in done.text
    assert await storage.attempts.pending() == []
    assert not images.path(ref).exists()


async def test_flood_gets_one_warning_then_silence(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core(config={"messages_per_minute": 5})
    spammer = FakeChat(core, ChatRef("fake", "g", ChatKind.GROUP), UserRef("fake", "s"), clock)
    for _ in range(5):
        assert await spammer.send("/help")
    warning = await spammer.text("/help")
    assert "faster than I can read" in warning
    assert await spammer.send("/help") == []
    other = FakeChat(core, spammer.chat, UserRef("fake", "calm"), clock)
    assert await other.send("/help")


async def test_internal_errors_get_an_apology_not_a_crash(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    class Broken:
        async def grade(self, image: bytes, target: str) -> Grade:
            raise RuntimeError("model exploded")

    user = FakeChat(
        make_core(grader=Broken()),
        ChatRef("fake", "dm", ChatKind.PRIVATE),
        UserRef("fake", "u"),
        clock,
    )
    await user.send("/today")
    assert await user.text(photo=handwriting_png()) == t("errors.internal")
    # The answer was kept for grading later.
    assert len(await user.core.storage.attempts.pending()) == 1


async def test_a_busy_recogniser_keeps_the_answer_and_says_when_to_retry(
    make_core, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    class Busy:
        async def grade(self, image: bytes, target: str) -> Grade:
            raise ServiceBusy(retry_after=2.6)

    user = FakeChat(
        make_core(grader=Busy()),
        ChatRef("fake", "dm", ChatKind.PRIVATE),
        UserRef("fake", "u"),
        clock,
    )
    await user.send("/today")
    assert await user.text(photo=handwriting_png()) == t("photo.busy", seconds=3)
    assert len(await user.core.storage.attempts.pending()) == 1


@pytest.mark.parametrize(
    ("reason", "key"),
    [("no ink", "verdict.unreadable_blank"), ("several characters", "verdict.unreadable_several")],
)
async def test_unreadable_photos_get_advice_for_their_reason(
    make_core, clock: Clock, reason: str, key: str
) -> None:  # type: ignore[no-untyped-def]
    user = FakeChat(
        make_core(grader=ScriptedGrader(Grade(Verdict.UNREADABLE, reason=reason))),
        ChatRef("fake", "dm", ChatKind.PRIVATE),
        UserRef("fake", "u"),
        clock,
    )
    await user.send("/today")
    assert await user.text(photo=handwriting_png()) == t(key)


async def test_ocr_without_a_reader_says_so(private_chat: FakeChat) -> None:
    assert await private_chat.text("/ocr") == t("photo.ocr_needs_photo")
    assert await private_chat.text("/ocr", photo=handwriting_png()) == t("photo.ocr_unavailable")
    assert await private_chat.text("ocr", photo=handwriting_png()) == t("photo.ocr_unavailable")
    assert await private_chat.text("/ocr", photo=b"nope") == t("photo.not_image")
