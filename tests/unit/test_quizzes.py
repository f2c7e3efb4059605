"""The study group's game through the core: points, leaderboards, hints, practice, corrections,
review, export and forgetting, as users in chats meet them."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import Core
from bot.i18n import t
from bot.messages import ChatKind, ChatRef, UserRef
from recognition.api import Grade, Verdict
from recognition.evaluate import collect
from storage import SqliteStorage
from tests.conftest import Clock, FakeChat, ScriptedGrader, add_chat, handwriting_png

GROUP = ChatRef("fake", "class-1", ChatKind.GROUP, "Class 1")


def correct(confidence: float = 0.97) -> Grade:
    return Grade(
        Verdict.CORRECT,
        None,
        confidence,
        scores=(("target_probability", confidence),),
        model_version="v-test",
    )


class Graders:
    """Grades every photo with the verdict set for its user (correct by default)."""

    def __init__(self) -> None:
        self.next: dict[int, Grade] = {}

    async def grade(self, image: bytes, target: str) -> Grade:
        # The photo's size tells users apart in these tests.
        return self.next.get(len(image), Grade(Verdict.CORRECT, target, 0.97))


async def today_target(core: Core, storage: SqliteStorage, chat: ChatRef, clock: Clock) -> str:
    record = await add_chat(
        storage, chat.chat_id, platform=chat.platform, kind=chat.kind.value, title=chat.title
    )
    return (await core.challenges.today(record, clock())).target


async def test_leaderboards_rank_ties_and_show_my_rank_outside_the_top_10(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=Graders(), config={"photos_per_minute": 100})
    players = [
        FakeChat(core, GROUP, UserRef("fake", f"u{i}", f"P{i:02d}"), clock) for i in range(13)
    ]
    await players[0].send("/today")
    # Twelve answer at once; the 13th answers after a wrong try and so scores less.
    await asyncio.gather(*(p.send(photo=handwriting_png()) for p in players[:12]))
    last = players[12]
    core.grader.next[len(handwriting_png(240))] = Grade(Verdict.WRONG, "女", 0.9)
    await last.send(photo=handwriting_png(240))
    await last.send(photo=handwriting_png(250))
    board = await last.text("/leaderboard today")
    ranks = re.findall(r"^(\d+)\. (P\d+) - (\d+) pts", board, re.M)
    assert len(ranks) == 11  # the top 10 (all tied) and my own line
    assert {rank for rank, _, _ in ranks[:10]} == {"1"}
    assert ranks[-1][0] == "13" and ranks[-1][1] == "P12"
    assert board.splitlines()[-1].endswith(t("leaderboard.you"))
    # Display names are kept current.
    await FakeChat(core, GROUP, UserRef("fake", "u0", "Zed"), clock).send("/help")
    assert "Zed" in await last.text("/leaderboard all")
    # The global board adds up every chat; another chat's player shows up there only.
    other = FakeChat(
        core, ChatRef("fake", "dm-x", ChatKind.PRIVATE), UserRef("fake", "x", "X"), clock
    )
    await other.send("/today")
    await other.send(photo=handwriting_png(260))
    assert "X" not in re.findall(r"\d+\. (\w+)", await last.text("/leaderboard all"))
    mine = (await other.text("/leaderboard global")).splitlines()[-1]
    assert mine == t("leaderboard.row", rank=1, name="X", points=15) + t("leaderboard.you")


async def test_concurrent_correct_answers_from_one_user_count_once(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=Graders(), config={"photos_per_minute": 100})
    alice = FakeChat(core, GROUP, UserRef("fake", "a", "Alice"), clock)
    await alice.send("/today")
    replies = await asyncio.gather(*(alice.text(photo=handwriting_png()) for _ in range(5)))
    assert sum(r.startswith("Correct! That's") for r in replies) == 1
    stats = await storage.attempts.stats((await storage.users.find("fake", "a")).id)  # type: ignore[union-attr]
    assert stats.attempts == 5 and stats.correct == 5
    row = await storage.connection.execute_fetchall("SELECT points FROM chat_totals")
    assert [r[0] for r in row] == [stats.points]


async def test_wrong_answers_earn_hints_one_rung_at_a_time(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    grader = ScriptedGrader(*[Grade(Verdict.WRONG, "女", 0.8)] * 5)
    bob = FakeChat(make_core(grader=grader), GROUP, UserRef("fake", "b", "Bob"), clock)
    await bob.send("/today")
    headers = []
    for size in range(200, 250, 10):
        replies = await bob.send(photo=handwriting_png(size))
        headers.append(replies[-1].text.splitlines()[0])
    assert headers == [t("hint.header", level=n, total=4) for n in (1, 2, 3, 4, 4)]
    pictures = [r.image for r in bob.sent if r.text.startswith("Hint 4")]
    assert pictures and pictures[0] is not None  # the full stroke order
    # /hint asks for one without answering; the challenge's characters are never in text.
    hint = await bob.text("/hint")
    assert hint.startswith(t("hint.header", level=4, total=4))


async def test_a_word_of_radicals_alone_gets_a_three_rung_ladder(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """女儿: both characters are radicals with no part to draw, so the first hint after a
    wrong answer is the stroke count, not a rung that only says there is nothing to say."""
    grader = ScriptedGrader(*[Grade(Verdict.WRONG, "女", 0.8)] * 4)
    bob = FakeChat(make_core(grader=grader), GROUP, UserRef("fake", "b", "Bob"), clock)
    await bob.as_user("t", "Teacher", admin=True).send("/challenge set 女儿")
    await bob.send("/today")
    texts = []
    for size in range(200, 240, 10):
        texts.append((await bob.send(photo=handwriting_png(size)))[-1].text)
    headers = [text.splitlines()[0] for text in texts]
    assert headers == [t("hint.header", level=n, total=3) for n in (1, 2, 3, 3)]
    assert texts[0].splitlines()[1] == t("hint.strokes_word", strokes="3 + 2", total=5)
    # /hint past the last rung gives the last one again, still "of 3".
    assert (await bob.text("/hint")).startswith(t("hint.header", level=3, total=3))


async def test_a_hint_that_cannot_be_shown_costs_nothing(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from quizzes.strokes import StrokeData

    grader = ScriptedGrader(Grade(Verdict.CORRECT, "好", 0.9))
    core = make_core(grader=grader, strokes=StrokeData({}))  # no stroke data on this machine
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann"), clock)
    await ann.send("/today")
    assert await ann.text("/hint") == t("hint.unavailable")
    assert await ann.text("/hint") == t("hint.unavailable")
    correct = await ann.text(photo=handwriting_png())
    assert "+15 points" in correct and "for hints" not in correct


async def test_hint_needs_a_challenge_and_is_not_given_after_success(
    make_core, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    ann = FakeChat(make_core(grader=Graders()), GROUP, UserRef("fake", "a", "Ann"), clock)
    assert await ann.text("/hint") == t("hint.nothing")
    await ann.send("/today")
    await ann.send(photo=handwriting_png())
    assert await ann.text("/hint") == t("hint.already_done")


async def test_a_correct_answer_shows_my_writing_beside_the_model_answer(
    make_core, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    ann = FakeChat(make_core(grader=Graders()), GROUP, UserRef("fake", "a", "Ann"), clock)
    await ann.send("/today")
    [reply] = await ann.send(photo=handwriting_png())
    assert reply.image is not None and reply.image.data.startswith(b"\x89PNG")
    assert "Streak: 1 day" in reply.text and "first try" in reply.text
    assert reply.buttons[0].action.startswith("/wrong #")


async def test_practice_reviews_due_cards_and_rates_them_by_the_verdict(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    grader = Graders()
    core = make_core(grader=grader)
    dm = FakeChat(core, ChatRef("fake", "dm-a", ChatKind.PRIVATE), UserRef("fake", "a", "A"), clock)
    assert await dm.text("/practice") == t("practice.nothing_due", total=0)
    await dm.send("/today")
    target = await today_target(core, storage, dm.chat, clock)
    await dm.send(photo=handwriting_png())
    user = await storage.users.find("fake", "a")
    assert user is not None
    assert await storage.cards.count(user.id) == len(set(target))
    clock.advance(days=30)
    [card] = await dm.send("/practice")
    assert "Practice" in card.text
    chat_record = (await storage.chats.list_active())[0]
    shown = await storage.practice.current(user.id, chat_record.id)
    assert shown is not None and shown[0] in target
    assert shown[0] not in card.text  # the prompt never shows the character
    # A wrong photo is graded against the card and rated Again; a hint follows.
    grader.next[len(handwriting_png(230))] = Grade(Verdict.WRONG, "女", 0.9)
    wrong = await dm.send(photo=handwriting_png(230))
    assert "looks like 女" in wrong[0].text and wrong[1].text.startswith("Hint 1")
    # Drawn beside the photo: what 女 looks like, never the card's own character.
    assert wrong[0].image is not None and wrong[0].image.data.startswith(b"\x89PNG")
    ratings = await storage.connection.execute_fetchall(
        "SELECT rating FROM srs_review_log ORDER BY id"
    )
    assert [r[0] for r in ratings][-1] == 1  # Again
    right = await dm.send(photo=handwriting_png())
    assert right[0].text.startswith("Correct!")
    assert right[-1].text.startswith(
        ("Practice", t("practice.all_done", total=len(set(target)))[:20])
    )
    attempts = await storage.attempts.for_user(user.id)
    assert [a.kind for a in attempts] == ["daily", "practice", "practice"]


async def test_practice_is_private_unless_the_group_allows_it(
    chat: FakeChat, make_core, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    assert await chat.text("/practice") == t("practice.private_only")
    group = FakeChat(make_core(config={"group_practice": True}), GROUP, chat.user, clock)
    assert await group.text("/practice") == t("practice.nothing_due", total=0)


async def test_a_disputed_verdict_is_reviewed_and_accepting_fixes_points_and_streak(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    grader = Graders()
    core = make_core(grader=grader)
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann"), clock)
    await ann.send("/today")
    target = await today_target(core, storage, GROUP, clock)
    grader.next[len(handwriting_png())] = Grade(Verdict.WRONG, "女", 0.6, model_version="v1")
    [verdict, _hint] = await ann.send(photo=handwriting_png())
    dispute = verdict.buttons[0]
    assert dispute.action.endswith(f" {target}")
    assert "An admin will review" in await ann.text(text=dispute.action)
    assert "0 (best 0)" in await ann.text("/stats")

    # Ann is no admin: refused, and the attempt is in the audit log.
    assert await ann.text("/review") == t("errors.admin_only", command="/review")
    audit = await storage.audit.recent()
    assert audit[0][1:] == ("refused", "/review")

    teacher = ann.as_user("t", "Teacher", admin=True)
    [pending] = await teacher.send("/review")
    assert f"shows {target}" in pending.text and pending.image is not None
    accept = pending.buttons[0].action
    replies = await teacher.send(text=accept)
    assert re.search(r"accepted\. (\d+) points", replies[0].text)
    assert replies[-1].text == t("review.none")
    stats = await ann.text("/stats")
    assert "Streak: 1 (best 1)" in stats and "Points: 0" not in stats
    # Accepting twice does not pay twice.
    again = await teacher.text(text=accept)
    assert "already reviewed" in again
    correction = (await storage.corrections.list())[0]
    assert correction.status == "accepted" and correction.model_version == "v1"


async def test_wrong_needs_a_hanzi_and_an_answer_of_mine(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    ann = FakeChat(make_core(grader=Graders()), GROUP, UserRef("fake", "a", "Ann"), clock)
    assert await ann.text("/wrong 好") == t("wrong.nothing")
    await ann.send("/today")
    await ann.send(photo=handwriting_png())
    assert "isn't a Chinese character" in await ann.text("/wrong abc")
    assert await ann.text("/wrong #999 好") == t("wrong.not_yours")
    assert "/wrong #" in await ann.text("/wrong")
    bob = ann.as_user("b", "Bob")
    assert await bob.text("/wrong #1 好") == t("wrong.not_yours")


async def test_export_is_admin_only_and_reads_back_as_an_evaluation_set(
    make_core, clock: Clock, storage: SqliteStorage, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    grader = Graders()
    core = make_core(grader=grader, config={"pseudonym_key": b"k" * 32})
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann"), clock)
    teacher = ann.as_user("t", "Teacher", admin=True)
    assert await ann.text("/export") == t("errors.admin_only", command="/export")
    assert await teacher.text("/export") == t("export.nothing")
    await teacher.send("/challenge set 好")
    await ann.send("/today")
    target = await today_target(core, storage, GROUP, clock)
    grader.next[len(handwriting_png(210))] = Grade(Verdict.WRONG, "女", 0.6)
    await ann.send(photo=handwriting_png(210))
    await ann.send(f"/wrong {target}")
    bob = ann.as_user("b", "Bob")
    await bob.send(photo=handwriting_png())  # confirmed: correct at 0.97
    [reply] = await teacher.send("/export")
    assert reply.document is not None and reply.document.filename.endswith(".zip")
    folder = Path(reply.text.rsplit(" ", 1)[-1])
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["source"] for m in manifest) == ["confirmed", "correction"]
    for m in manifest:
        assert (folder / m["file"]).is_file() and m["label"] == target == "好"
        assert m["user"] != "a" and len(m["user"]) == 16  # pseudonymous
    assert {m["predicted"] for m in manifest} == {"女", "好"}
    items = collect(folder, core.vocabulary.charset)
    assert [i.label for i in items] == ["好", "好"]
    assert "hanzi-bot retrain --feedback" in (folder / "README").read_text()


async def test_settings_refuse_bad_zones_times_and_switches(
    chat: FakeChat,
) -> None:
    admin = chat.as_user("t", admin=True)
    assert "Mars/Olympus isn't a time zone" in await admin.text("/settings tz Mars/Olympus")
    assert "25:00 isn't a time" in await admin.text("/settings time 25:00")
    assert (await admin.text("/settings daily maybe")).startswith("Usage: /settings")
    assert await chat.text("/settings daily off") == t("errors.admin_only", command="/settings")
    assert "off in this chat" in await admin.text("/settings daily off")
    assert "Daily challenge: off" in await chat.text("/settings")


async def test_a_photo_with_daily_posts_off_or_for_an_old_prompt_gets_a_clear_reply(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=Graders())
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann", is_chat_admin=True), clock)
    await ann.send("/settings daily off")
    assert await ann.text(photo=handwriting_png()) == t("photo.daily_off")
    await ann.send("/settings daily on")
    assert await ann.text(photo=handwriting_png()) == t("photo.no_challenge")
    chats = await storage.chats.list_active()
    clock.now = clock.now.replace(hour=9, minute=30)
    claimed = await core.claim_daily_post(chats[0])
    assert claimed is not None
    await core.daily_posted(claimed[0], "msg-1")
    clock.advance(days=1)
    [reply] = await ann.send(photo=handwriting_png(), reply_to_message_id="msg-1")
    assert reply.text == t("photo.old_prompt", date=claimed[0].local_date.isoformat())
    assert await storage.attempts.for_user((await storage.users.find("fake", "a")).id) == []  # type: ignore[union-attr]


async def test_challenge_set_rejects_latin_text(chat: FakeChat) -> None:
    assert "isn't in the HSK 1 list" in await chat.as_user("t", admin=True).text(
        "/challenge set abc"
    )


async def test_forget_removes_my_points_from_the_leaderboard(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=Graders())
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann"), clock)
    await ann.send("/today")
    await ann.send(photo=handwriting_png())
    assert "Ann" in await ann.text("/leaderboard")
    await ann.send("/forget confirm")
    assert await ann.text("/leaderboard") == t("leaderboard.empty")
    assert "Points: 0" in await ann.text("/stats")


async def test_stats_show_streak_accuracy_and_cards(make_core, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=Graders())
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann"), clock)
    for _ in range(3):
        await ann.send("/today")
        await ann.send(photo=handwriting_png())
        clock.advance(days=1)
    stats = await ann.text("/stats")
    assert "Streak: 3 (best 3)" in stats and "accuracy 100%" in stats
    assert t("stats.at_risk") in stats  # today not answered yet
    clock.advance(days=3)
    assert "Streak: 0 (best 3)" in await ann.text("/stats")


def test_export_feedback_command_filters_by_status_and_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from quizzes.feedback import review
    from storage import ImageStore, open_storage

    database, data = tmp_path / "bot.sqlite3", tmp_path / "data"
    for name in [n for n in os.environ if n.startswith("HANZI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HANZI_DATABASE_PATH", str(database))
    monkeypatch.setenv("HANZI_DATA_DIR", str(data))

    async def seed() -> None:
        storage = await open_storage(database)
        images = ImageStore(data)
        user = await storage.users.upsert("fake", "u1", "Ann", "")
        when = datetime(2026, 11, 20, 12, tzinfo=UTC)
        for label, day in (("好", 18), ("人", 20), ("大", 21)):
            ref = await images.put(handwriting_png(), "png")
            await storage.corrections.add(
                user_id=user.id,
                attempt_id=None,
                image_ref=ref,
                predicted="女",
                label=label,
                created_at=when.replace(day=day),
            )
        await review(storage, 2, True, user.id, when)
        await storage.close()

    asyncio.run(seed())
    out = tmp_path / "accepted"
    assert main(["export-feedback", "--out", str(out), "--status", "accepted"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README", "manifest.jsonl", "人"]
    recent = tmp_path / "recent"
    assert main(["export-feedback", "--out", str(recent), "--since", "2026-11-20"]) == 0
    assert sorted(i.label for i in collect(recent, "好人大")) == ["人", "大"]
    assert "Exported 2 images (2 corrections" in capsys.readouterr().out


async def test_settings_channel_chooses_where_a_servers_prompt_is_posted(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core()
    server = ChatRef("fake", "guild-1", ChatKind.GROUP, "Server")
    admin = FakeChat(core, server, UserRef("fake", "t", "T", is_chat_admin=True), clock)
    [reply] = await admin.send("/settings channel", channel_id="555")
    assert reply.text == t("settings.channel_set", channel="<#555>")
    assert (await storage.chats.list_active())[0].daily_channel == "555"
    await admin.send("/settings channel <#777>", channel_id="555")
    assert (await storage.chats.list_active())[0].daily_channel == "777"
    assert (await admin.text("/settings channel general")).startswith("Usage: /settings")
    assert await admin.text("/settings channel") == t("settings.no_channels")
    member = admin.as_user("m", "M")
    assert await member.text("/settings channel") == t("errors.admin_only", command="/settings")


async def test_an_honest_correction_of_a_too_kind_verdict_takes_the_points_back(
    make_core, clock: Clock, storage: SqliteStorage
) -> None:  # type: ignore[no-untyped-def]
    core = make_core(grader=Graders())
    ann = FakeChat(core, GROUP, UserRef("fake", "a", "Ann"), clock)
    teacher = ann.as_user("t", "Teacher", admin=True)
    await teacher.send("/challenge set 好")
    await ann.send("/today")
    [verdict] = await ann.send(photo=handwriting_png())
    assert verdict.text.startswith("Correct!")
    assert verdict.buttons[0].action.startswith("/wrong #")
    assert "/wrong #" in await ann.text(text=verdict.buttons[0].action)  # which character?
    await ann.send(verdict.buttons[0].action + " 女")
    [pending] = await teacher.send("/review")
    replies = await teacher.send(pending.buttons[0].action)
    assert "taken back" in replies[0].text
    assert "Points: 0" in await ann.text("/stats")
    assert "Streak: 0" in await ann.text("/stats")
    assert await ann.text("/leaderboard") == t("leaderboard.empty")
