"""The game over Telegram end to end: daily posts, graded photos, buttons, admins, albums."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bot.core import Core
from bot.i18n import t
from bot.scheduler import DailyPoster, Sender
from recognition.api import Grade, TextLine, TextPage, Verdict
from storage import SqliteStorage
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.test_telegram import (  # noqa: F401
    ALICE,
    BOB,
    DM,
    GROUP,
    LIMIT,
    eventually,
    fake,
    polling,
    reply_to,
    settings_for,
)
from tests.conftest import ScriptedGrader, handwriting_png

MakeCore = Callable[..., Core]


class Running:
    """What a test holds while the bot runs: the fake server, the core and its senders."""

    def __init__(self, server: FakeTelegram, core: Core, senders: dict[str, Sender]) -> None:
        self.fake = server
        self.core = core
        self.senders = senders

    def poster(self) -> DailyPoster:
        return DailyPoster(self.core, self.senders, spacing=0)


class FakeReader:
    """Reads every photo as the same page, and counts them."""

    def __init__(self, page: TextPage) -> None:
        self.page = page
        self.seen = 0

    async def read(self, image: bytes) -> TextPage:
        self.seen += 1
        return self.page


Start = Callable[..., AbstractAsyncContextManager[Running]]


@pytest.fixture
def start(
    fake: FakeTelegram,  # noqa: F811
    make_core: MakeCore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> Start:
    """``async with start(grader=..., reader=...) as bot``: the bot polling the fake server."""
    caplog.set_level(logging.INFO)

    @asynccontextmanager
    async def run(**core_parts: object) -> AsyncIterator[Running]:
        core = make_core(config={"max_photo_bytes": LIMIT}, **core_parts)
        senders: dict[str, Sender] = {}
        async with polling(fake, core, settings_for(fake, tmp_path), senders=senders):
            yield Running(fake, core, senders)

    return run


def correct(target: str = "") -> Grade:
    return Grade(Verdict.CORRECT, target or None, 0.97)


async def user_id(storage: SqliteStorage, user: FakeUser) -> int:
    record = await storage.users.find("telegram", str(user.id))
    assert record is not None
    return record.id


# -- the daily challenge ---------------------------------------------------------------


async def test_the_daily_prompt_is_posted_once_and_a_photo_replying_to_it_is_graded(
    start: Start, storage: SqliteStorage
) -> None:
    grader = ScriptedGrader(correct())
    async with start(grader=grader) as bot:
        fake = bot.fake
        await reply_to(fake, fake.push_text(DM, ALICE, "/help"))  # the chat exists now
        assert "telegram" in bot.senders  # registered while connected

        assert await bot.poster().run_once() == 1
        assert await bot.poster().run_once() == 0  # posted once, never twice
        prompt = fake.calls_to("sendMessage")[-1]
        assert prompt.chat_id == DM.id and "Today's challenge" in prompt.text
        [[hint]] = prompt.json("reply_markup")["inline_keyboard"]
        assert hint == {"text": t("buttons.hint"), "callback_data": "/hint"}
        prompt_id = max(fake.bot_messages)

        answer = await reply_to(
            fake, fake.push_photo(DM, ALICE, handwriting_png(), reply_to=prompt_id), "sendPhoto"
        )
    target = grader.seen[0][1]
    assert answer.text.startswith(f"Correct! That's {target}.")
    assert answer.files["photo"][:8] == b"\x89PNG\r\n\x1a\n"  # your writing beside the model's
    [[not_mine]] = answer.json("reply_markup")["inline_keyboard"]
    assert not_mine["text"] == t("buttons.not_what_i_wrote")
    [attempt] = await storage.attempts.for_user(await user_id(storage, ALICE))
    challenge = await storage.challenges.find_by_prompt(attempt.chat_id, str(prompt_id))
    assert challenge is not None and attempt.challenge_id == challenge.id


async def test_a_flood_control_answer_during_the_daily_round_is_waited_out(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB's RetryAfter warns about its own int attribute unless told to use timedelta; the
    # rate limiter reads the timedelta either way.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with start() as bot:
        fake = bot.fake
        await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
        await reply_to(fake, fake.push_text(GROUP, ALICE, "/help"))
        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)

        assert await bot.poster().run_once() == 2
    # PTB's rate limiter waited and sent again: each chat got its prompt exactly once.
    prompts = [c for c in fake.sent() if "Today's challenge" in c.text]
    assert sorted(c.chat_id for c in prompts) == sorted([DM.id, GROUP.id])
    assert len([c for c in fake.calls_to("sendMessage") if c.failed]) == 1


async def test_a_chat_that_blocked_the_bot_leaves_the_daily_round(
    start: Start, storage: SqliteStorage
) -> None:
    async with start() as bot:
        fake = bot.fake
        await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
        fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")

        assert await bot.poster().run_once() == 0
    assert await storage.chats.list_active() == []


# -- grading and its buttons -----------------------------------------------------------


async def test_the_leaderboard_shows_points_after_a_graded_photo(
    start: Start,
) -> None:
    async with start(grader=ScriptedGrader(correct())) as bot:
        fake = bot.fake
        await reply_to(fake, fake.push_text(GROUP, ALICE, "/today"))
        checks = len(fake.calls_to("getChatMember"))
        answer = await reply_to(fake, fake.push_photo(GROUP, ALICE, handwriting_png()), "sendPhoto")
        assert answer.text.startswith("Correct!")
        assert answer.json("reply_parameters")["message_id"] > 0  # threaded under the photo
        # A photo needs no admin check (each one would count against the group's limit).
        assert len(fake.calls_to("getChatMember")) == checks
        # Groups get no chat actions: they would count against the group's limit too.
        assert fake.calls_to("sendChatAction") == []

        board = await reply_to(fake, fake.push_text(GROUP, BOB, "/leaderboard"))
    lines = board.text.splitlines()
    assert lines[0] == t("leaderboard.header_week")
    assert lines[1].startswith("1. Alice Liu - ") and lines[1].endswith(" pts")


async def test_the_bot_is_wrong_button_records_a_correction_only_an_admin_accepts(
    start: Start, storage: SqliteStorage
) -> None:
    wrong = Grade(Verdict.WRONG, "女", 0.8)
    grader = ScriptedGrader(wrong)
    async with start(grader=grader) as bot:
        fake = bot.fake
        fake.admins.add((GROUP.id, ALICE.id))
        await reply_to(fake, fake.push_text(GROUP, BOB, "/today"))

        # The verdict comes with a drawing of what the photo looks like (女), then a hint.
        verdict = await reply_to(fake, fake.push_photo(GROUP, BOB, handwriting_png()), "sendPhoto")
        await fake.wait_for("sendPhoto", 2)  # the next hint, drawn
        target = grader.seen[0][1]
        assert verdict.text.startswith("Not quite: that looks like 女")
        [[button]] = verdict.json("reply_markup")["inline_keyboard"]
        assert button["text"] == t("buttons.bot_is_wrong", target=target)

        thanks = await reply_to(fake, fake.push_callback(GROUP, BOB, button["callback_data"]))
        assert thanks.text.startswith(f"Thanks! I noted that your photo shows {target}")
        [correction] = await storage.corrections.list()
        assert correction.status == "pending"

        refused = await reply_to(fake, fake.push_text(GROUP, BOB, "/review"))
        assert refused.text == t("errors.admin_only", command="/review")
        shown = await reply_to(fake, fake.push_text(GROUP, ALICE, "/review"), "sendPhoto")
        assert shown.files["photo"]  # the photo in question
        assert f"Correction #{correction.id}" in shown.text
        accept = next(
            b
            for [b] in shown.json("reply_markup")["inline_keyboard"]
            if b["text"] == t("buttons.accept")
        )
        # The button, pressed by a member, is refused like the command.
        refused = await reply_to(fake, fake.push_callback(GROUP, BOB, accept["callback_data"]))
        assert refused.text == t("errors.admin_only", command="/review")
        accepted = await reply_to(fake, fake.push_callback(GROUP, ALICE, accept["callback_data"]))
    assert accepted.text.startswith(f"Correction #{correction.id} accepted.")
    [correction] = await storage.corrections.list()
    assert correction.status == "accepted"


async def test_export_sends_the_dataset_as_a_zip_document_to_admins_only(
    start: Start,
) -> None:
    wrong = Grade(Verdict.WRONG, "女", 0.8)
    async with start(grader=ScriptedGrader(wrong)) as bot:
        fake = bot.fake
        fake.admins.add((GROUP.id, ALICE.id))
        await reply_to(fake, fake.push_text(GROUP, BOB, "/today"))
        verdict = await reply_to(fake, fake.push_photo(GROUP, BOB, handwriting_png()), "sendPhoto")
        await fake.wait_for("sendPhoto", 2)
        [[button]] = verdict.json("reply_markup")["inline_keyboard"]
        await reply_to(fake, fake.push_callback(GROUP, BOB, button["callback_data"]))

        refused = await reply_to(fake, fake.push_text(GROUP, BOB, "/export"))
        assert refused.text == t("errors.admin_only", command="/export")
        document = await reply_to(fake, fake.push_text(GROUP, ALICE, "/export"), "sendDocument")
    assert document.chat_id == GROUP.id
    with zipfile.ZipFile(io.BytesIO(document.files["document"])) as archive:
        assert any(name.endswith((".png", ".jpg")) for name in archive.namelist())


# -- OCR and albums --------------------------------------------------------------------


def page(text: str) -> TextPage:
    box = ((10.0, 10.0), (190.0, 10.0), (190.0, 60.0), (10.0, 60.0))
    line = TextLine(text, 0.99, box, tuple(0.99 for _ in text))
    return TextPage((line,), 200, 200)


async def test_ocr_as_a_caption_reads_the_photo(start: Start) -> None:
    reader = FakeReader(page("你好"))
    async with start(reader=reader) as bot:
        fake = bot.fake
        pushed = fake.push_photo(DM, ALICE, handwriting_png(), caption="/ocr")
        boxes = await reply_to(fake, pushed, "sendPhoto")
    plain = fake.calls_to("sendMessage")[-1]
    assert plain.text == "你好"  # the text alone, easy to copy
    assert boxes.text.startswith(t("ocr.header", count=1, plural=""))
    assert reader.seen == 1


async def test_an_album_answers_with_its_first_photo(start: Start, storage: SqliteStorage) -> None:
    grader = ScriptedGrader(correct(), correct(), correct())
    async with start(grader=grader) as bot:
        fake = bot.fake
        await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
        for _ in range(3):
            await fake.push_photo(DM, ALICE, handwriting_png(), album="album-1")
        await fake.wait_for("sendPhoto", 1)
        await fake.wait_for_update_consumed()
        # A later message is answered only after the album's photos were handled.
        await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
    assert len(grader.seen) == 1
    assert len(await storage.attempts.for_user(await user_id(storage, ALICE))) == 1
    assert len(fake.calls_to("sendPhoto")) == 1
    # The sender is told once why the other two photos were not graded.
    told = [c for c in fake.calls_to("sendMessage") if c.text == t("telegram.album_extra")]
    assert len(told) == 1


async def test_an_album_captioned_ocr_reads_every_photo(start: Start) -> None:
    reader = FakeReader(page("我"))
    async with start(reader=reader) as bot:
        fake = bot.fake
        await fake.push_photo(DM, ALICE, handwriting_png(), caption="/ocr", album="pages")
        await fake.push_photo(DM, ALICE, handwriting_png(), album="pages")
        await fake.push_photo(DM, ALICE, handwriting_png(), album="pages")
        await fake.wait_for("sendPhoto", 3)
    assert reader.seen == 3


# -- joining and leaving groups --------------------------------------------------------


async def test_being_added_to_a_group_welcomes_it_and_activates_its_daily_post(
    start: Start, storage: SqliteStorage
) -> None:
    async with start() as bot:
        fake = bot.fake
        welcome = await reply_to(fake, fake.push_my_chat_member_added(GROUP, ALICE))
        assert welcome.chat_id == GROUP.id
        assert welcome.text.startswith("Hi Alice Liu! I help you learn to write")
        [chat] = await storage.chats.list_active()
        assert chat.external_id == str(GROUP.id) and chat.kind == "group"

        await fake.push_my_chat_member(GROUP, ALICE, old="member", new="left")

        async def inactive() -> bool:
            return await storage.chats.list_active() == []

        await eventually(inactive)
        assert await bot.poster().run_once() == 0  # no post where the bot is not

        # Added back: active again, and welcomed again.
        await reply_to(fake, fake.push_my_chat_member_added(GROUP, BOB))
        assert len(await storage.chats.list_active()) == 1
        # Made an admin: nothing to say.
        sent = len(fake.sent())
        await fake.push_my_chat_member(GROUP, ALICE, old="member", new="administrator")
        await fake.wait_for_update_consumed()
        await reply_to(fake, fake.push_text(GROUP, ALICE, "/help"))
        assert len(fake.sent()) == sent + 1
