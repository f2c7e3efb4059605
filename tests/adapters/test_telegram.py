"""The Telegram adapter: real python-telegram-bot talking HTTP to a fake Bot API server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import BadRequest

from bot.app import run_bot
from bot.core import Core
from bot.i18n import t
from bot.messages import Button, Reply, ReplyFile, ReplyImage
from bot.scheduler import ChatGone, Sender
from bot.telegram.adapter import (
    MAX_TEXT,
    AdminCache,
    CallbackActions,
    TelegramAdapter,
    TelegramSender,
    run_telegram,
    split_text,
)
from config import Settings, load_settings
from storage import ImageStore, SqliteStorage
from tests.adapters.fake_telegram import Call, FakeChat, FakeTelegram, FakeUser
from tests.conftest import add_chat, handwriting_png

TOKEN = "123456789:AAHfakeTokenForTheTestsOnly_abcdefgh"
LIMIT = 2_000_000
ALICE = FakeUser(1001, "Alice", "Liu", username="alice", language_code="en")
BOB = FakeUser(1002, "Bob")
DM = FakeChat(ALICE.id, "private", first_name="Alice")
GROUP = FakeChat(-1001234, "supergroup", title="Class 1")

MakeCore = Callable[..., Core]


def settings_for(fake: FakeTelegram, tmp_path: Path, token: str = TOKEN) -> Settings:
    return load_settings(
        {
            "HANZI_TELEGRAM_TOKEN": token,
            "HANZI_TELEGRAM_BASE_URL": fake.base_url,
            "HANZI_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "HANZI_MAX_PHOTO_BYTES": str(LIMIT),
            "HANZI_DATA_DIR": str(tmp_path / "app-data"),
            "HANZI_DATABASE_PATH": str(tmp_path / "app.sqlite3"),
        }
    )


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the records carry: message, structured fields and tracebacks."""
    lines = []
    for record in caplog.records:
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        lines.append(f"{record.getMessage()} {getattr(record, 'fields', '')} {trace}")
    return "\n".join(lines)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(TOKEN)
    await server.start()
    yield server
    await server.close()


@asynccontextmanager
async def polling(
    fake: FakeTelegram,
    core: Core,
    settings: Settings,
    *,
    senders: dict[str, Sender] | None = None,
) -> AsyncIterator[None]:
    """run_telegram from start to a clean stop."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(core, settings, stop, senders=senders))
    await fake.wait_for("getUpdates")
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def running(
    fake: FakeTelegram, make_core: MakeCore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[FakeTelegram]:
    """The bot, polling the fake server until the test ends."""
    caplog.set_level(logging.INFO)
    async with polling(
        fake, make_core(config={"max_photo_bytes": LIMIT}), settings_for(fake, tmp_path)
    ):
        yield fake


async def reply_to(
    fake: FakeTelegram, send: Awaitable[object], method: str = "sendMessage"
) -> Call:
    """Do ``send`` and return the next message the bot sends with ``method``."""
    before = len(fake.calls_to(method))
    await send
    return (await fake.wait_for(method, before + 1))[before]


# -- conversations ---------------------------------------------------------------------


async def test_help_and_today_are_answered(running: FakeTelegram) -> None:
    fake = running
    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
    assert answer.chat_id == DM.id
    assert "/leaderboard" in answer.text and "/export" in answer.text
    assert "reply_parameters" not in answer.params  # a private chat needs no threading

    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    assert "Today's challenge" in answer.text


async def test_the_command_menus_are_published_at_start(running: FakeTelegram) -> None:
    menus = {}
    for call in running.calls_to("setMyCommands"):
        scope = call.json("scope")["type"] if "scope" in call.params else "default"
        menus[scope] = {c["command"]: c["description"] for c in call.json("commands")}
    assert "language_code" not in running.calls_to("setMyCommands")[0].params
    # Private chats (the default scope): everything, nothing marked, all of it is yours.
    private = menus["default"]
    assert private["today"] == t("commands.today")
    assert private["export"] == t("commands.export")
    # Group members do not see what would only be refused to them.
    members = menus["all_group_chats"]
    assert "today" in members and "wrong" in members
    assert not {"challenge", "review", "export"} & set(members)
    # Group admins see everything, the admin commands marked.
    admins = menus["all_chat_administrators"]
    assert admins["challenge"] == t("commands.challenge") + t("help.admin_marker")
    assert admins["today"] == t("commands.today")


async def test_a_photo_is_downloaded_stored_and_answered(
    running: FakeTelegram, storage: SqliteStorage, images: ImageStore
) -> None:
    fake, png = running, handwriting_png()
    await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    answer = await reply_to(fake, fake.push_photo(DM, ALICE, png))

    assert "your answer for today is saved" in answer.text
    [action] = fake.calls_to("sendChatAction")
    assert action.params["action"] == "typing"
    [download] = fake.downloads
    assert download.endswith("photo.jpg") and fake.calls_to("getFile")[0].params["file_id"] == (
        "file-2"  # the full size, not the thumbnail
    )
    [attempt] = await storage.attempts.pending()
    assert attempt.kind == "daily"
    assert await images.read(attempt.image_ref) == png


async def test_an_image_document_counts_as_a_photo(running: FakeTelegram) -> None:
    fake = running
    await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    answer = await reply_to(
        fake,
        fake.push_document(
            DM, ALICE, handwriting_png(), file_name="scan.png", mime_type="image/png"
        ),
    )
    assert "your answer for today is saved" in answer.text


async def test_ocr_as_a_photo_caption_reaches_the_core(running: FakeTelegram) -> None:
    fake = running
    answer = await reply_to(fake, fake.push_photo(DM, ALICE, handwriting_png(), caption="/ocr"))
    assert answer.text == t("photo.ocr_unavailable")


async def test_a_document_that_is_not_an_image_gets_a_clear_reply(
    running: FakeTelegram, storage: SqliteStorage
) -> None:
    fake = running
    await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    answer = await reply_to(
        fake,
        fake.push_document(
            DM, ALICE, b"just some notes", file_name="notes.txt", mime_type="text/plain"
        ),
    )
    assert answer.text == t("photo.not_image")
    assert fake.downloads == []  # its type says enough
    # A file of no particular type is fetched, and the core judges its bytes.
    answer = await reply_to(
        fake,
        fake.push_document(
            DM, ALICE, b"%PDF-1.7", file_name="scan", mime_type="application/octet-stream"
        ),
    )
    assert answer.text == t("photo.not_image")
    assert len(fake.downloads) == 1
    assert await storage.attempts.pending() == []


async def test_an_oversized_document_is_refused_without_downloading(
    running: FakeTelegram, storage: SqliteStorage
) -> None:
    fake = running
    await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    answer = await reply_to(
        fake,
        fake.push_document(
            DM, ALICE, b"\xff\xd8 big", file_name="huge.jpg", mime_type="image/jpeg", size=5_000_000
        ),
    )
    assert answer.text == t("photo.too_large", size_mb="5.0", limit_mb="2")
    assert fake.calls_to("getFile") == [] and fake.downloads == []
    assert await storage.attempts.pending() == []


async def test_a_file_the_bot_api_will_not_serve_is_called_too_large(
    fake: FakeTelegram, make_core: MakeCore, tmp_path: Path
) -> None:
    # Our own limit is 50 MB, but the Bot API serves 20 MB at most.
    limit = 50_000_000
    settings = load_settings(
        {
            "HANZI_TELEGRAM_TOKEN": TOKEN,
            "HANZI_TELEGRAM_BASE_URL": fake.base_url,
            "HANZI_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            "HANZI_MAX_PHOTO_BYTES": str(limit),
        }
    )
    async with polling(fake, make_core(config={"max_photo_bytes": limit}), settings):
        pushed = fake.push_document(
            DM, ALICE, b"\xff\xd8", file_name="big.jpg", mime_type="image/jpeg", size=25_000_000
        )
        answer = await reply_to(fake, pushed)
    assert answer.text == t("photo.too_large", size_mb="25.0", limit_mb="20")
    assert fake.downloads == []


async def test_a_failed_download_is_explained(running: FakeTelegram) -> None:
    fake = running
    await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    fake.fail_next("getFile", 400, "Bad Request: file is too big")
    answer = await reply_to(fake, fake.push_photo(DM, ALICE, handwriting_png()))
    assert answer.text == t("photo.download_failed")


async def test_forget_asks_with_a_button_and_pressing_it_deletes(
    running: FakeTelegram, storage: SqliteStorage
) -> None:
    fake = running
    await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    await reply_to(fake, fake.push_photo(DM, ALICE, handwriting_png()))
    assert len(await storage.attempts.pending()) == 1

    question = await reply_to(fake, fake.push_text(DM, ALICE, "/forget"))
    [[button]] = question.json("reply_markup")["inline_keyboard"]
    assert button["text"] == t("forget.confirm_button")

    before = len(fake.calls_to("answerCallbackQuery"))
    answer = await reply_to(fake, fake.push_callback(DM, ALICE, button["callback_data"]))
    assert "deleted: 1 answer, 1 photo" in answer.text
    answered = fake.calls_to("answerCallbackQuery")[before]
    assert answered.params["callback_query_id"].startswith("query-")
    assert await storage.attempts.pending() == []


async def test_a_button_from_before_a_restart_is_answered_not_ignored(
    running: FakeTelegram,
) -> None:
    fake = running
    pressed = fake.push_callback(DM, ALICE, "#77")
    answered = await reply_to(fake, pressed, "answerCallbackQuery")
    assert answered.params["text"] == t("buttons.expired")
    assert fake.calls_to("sendMessage") == []


# -- groups ----------------------------------------------------------------------------


async def test_only_group_admins_choose_the_next_challenge(running: FakeTelegram) -> None:
    fake = running
    fake.admins.add((GROUP.id, ALICE.id))

    pushed = fake.push_text(GROUP, BOB, "/challenge set 好")
    answer = await reply_to(fake, pushed)
    assert answer.text == t("errors.admin_only", command="/challenge")
    # In a group the bot answers as a reply to the message it is answering.
    asked = fake.calls_to("getChatMember")[-1]
    assert int(asked.params["user_id"]) == BOB.id
    assert answer.json("reply_parameters")["message_id"] > 0

    # Changing the settings is for admins too; showing them is for everyone.
    answer = await reply_to(fake, fake.push_text(GROUP, BOB, "/settings daily off"))
    assert answer.text == t("errors.admin_only", command="/settings")
    answer = await reply_to(fake, fake.push_text(GROUP, BOB, "/settings"))
    assert answer.text.startswith("Settings of this chat:")

    answer = await reply_to(fake, fake.push_text(GROUP, ALICE, "/challenge@hanzi_test_bot set 好"))
    assert answer.text.startswith("Next challenge set: 好")
    answer = await reply_to(fake, fake.push_text(GROUP, ALICE, "/challenge set 你"))
    assert answer.text.startswith("Next challenge set: 你")
    assert len(fake.calls_to("getChatMember")) == 2  # Alice's status was remembered


async def test_answers_stay_in_the_forum_topic_they_were_asked_in(
    running: FakeTelegram,
) -> None:
    fake = running
    answer = await reply_to(fake, fake.push_text(GROUP, BOB, "/help", thread=77))
    assert answer.params["message_thread_id"] == "77"
    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
    assert "message_thread_id" not in answer.params


async def test_ordinary_group_chatter_is_ignored(running: FakeTelegram) -> None:
    fake = running
    await fake.push_text(GROUP, BOB, "good morning everyone")
    await fake.push_text(GROUP, BOB, "/help@SomeOtherBot")
    answer = await reply_to(fake, fake.push_text(GROUP, BOB, "/help"))
    assert "/leaderboard" in answer.text
    assert len(fake.calls_to("sendMessage")) == 1


async def test_being_removed_from_a_group_marks_the_chat_inactive(
    running: FakeTelegram, storage: SqliteStorage
) -> None:
    fake = running
    await reply_to(fake, fake.push_text(GROUP, ALICE, "/today"))

    async def group_active() -> bool:
        return any(c.external_id == str(GROUP.id) for c in await storage.chats.list_active())

    assert await group_active()
    await fake.push_my_chat_member(GROUP, ALICE, old="member", new="kicked")
    await eventually(lambda: _negate(group_active))
    # Writing in the chat again (the bot was added back) reactivates it.
    await reply_to(fake, fake.push_text(GROUP, ALICE, "/help"))
    assert await group_active()


async def test_the_migration_message_moves_the_group_to_its_supergroup_id(
    running: FakeTelegram, storage: SqliteStorage
) -> None:
    fake = running
    await reply_to(fake, fake.push_text(GROUP, ALICE, "/today"))
    await fake.push({"message": fake._message(GROUP, ALICE, migrate_to_chat_id=-100555)})

    async def moved() -> bool:
        return await storage.chats.find("telegram", "-100555") is not None

    await eventually(moved)
    assert await storage.chats.find("telegram", str(GROUP.id)) is None


async def _negate(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()


# -- robustness ------------------------------------------------------------------------


async def test_a_failing_handler_is_logged_and_the_bot_carries_on(
    running: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake = running
    fake.fail_next("sendMessage", 400, "Bad Request: chat not found")
    await fake.push_text(DM, ALICE, "/help")
    await fake.wait_for("sendMessage", 1)
    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
    assert "/leaderboard" in answer.text
    [failure] = [r for r in caplog.records if r.getMessage() == "telegram.handler_failed"]
    assert failure.levelno == logging.ERROR and failure.exc_info is not None


async def test_the_token_never_reaches_the_logs(
    fake: FakeTelegram, make_core: MakeCore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with polling(fake, make_core(), settings_for(fake, tmp_path)):
        await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
        await reply_to(fake, fake.push_photo(DM, ALICE, handwriting_png()))
    text = logged_text(caplog)
    # INFO was captured, from start to stop.
    assert "telegram.started" in text and "answer.stored" in text and "telegram.stopped" in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text


async def test_a_rejected_token_is_one_log_line_retried_until_stopped(
    fake: FakeTelegram, make_core: MakeCore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = "987654321:AAwrongTokenwrongTokenwrongToken12345"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_telegram(make_core(), settings_for(fake, tmp_path, wrong), stop, first_retry=0.05)
    )

    def failures() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "telegram.start_failed"]

    async def retried() -> bool:
        return len(failures()) >= 3

    await eventually(retried)
    stop.set()
    await asyncio.wait_for(task, 5)
    first, second, *_ = failures()
    assert first.fields["error"] == "InvalidToken"  # type: ignore[attr-defined]
    assert second.fields["retry_in"] == 2 * first.fields["retry_in"]  # type: ignore[attr-defined]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.getMessage() == "telegram.start_failed" for r in errors)
    assert wrong not in logged_text(caplog) and wrong.split(":")[1] not in logged_text(caplog)


async def test_an_unreachable_api_is_retried_until_stopped(
    fake: FakeTelegram, make_core: MakeCore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await fake.close()  # nothing listens on its port any more
    stop = asyncio.Event()
    settings = settings_for(fake, tmp_path)
    task = asyncio.create_task(run_telegram(make_core(), settings, stop, first_retry=0.05))

    async def failed() -> bool:
        return any(r.getMessage() == "telegram.start_failed" for r in caplog.records)

    await eventually(failed)
    stop.set()
    await asyncio.wait_for(task, 5)
    [first, *_] = [r for r in caplog.records if r.getMessage() == "telegram.start_failed"]
    assert first.fields["error"] == "NetworkError"  # type: ignore[attr-defined]
    assert not task.exception()


async def test_run_bot_polls_telegram_until_interrupted(fake: FakeTelegram, tmp_path: Path) -> None:
    task = asyncio.create_task(run_bot(settings_for(fake, tmp_path)))
    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/start"))
    assert "Hi Alice Liu" in answer.text
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(task, 10) == 0
    assert fake.calls_to("getUpdates")[-1].params.get("timeout") == "0"  # confirmed on exit


# -- rendering, against the same server without polling --------------------------------


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield bot


async def test_an_image_reply_carries_its_text_as_caption_and_its_buttons(
    fake: FakeTelegram, bot: Bot, make_core: MakeCore
) -> None:
    adapter = TelegramAdapter(make_core(), max_photo_bytes=LIMIT)
    long_action = "/practice " + "x" * 80
    reply = Reply(
        text="写：好",
        image=ReplyImage(handwriting_png(), filename="model.png"),
        buttons=(Button("Again", "/today"), Button("More", long_action)),
    )
    await adapter.render(bot, DM.id, reply, reply_to=7)
    [photo] = fake.calls_to("sendPhoto")
    assert photo.files["photo"] == handwriting_png()
    assert photo.params["caption"] == "写：好"
    assert photo.json("reply_parameters")["message_id"] == 7
    rows = photo.json("reply_markup")["inline_keyboard"]
    assert rows[0][0]["callback_data"] == "/today"
    token = rows[1][0]["callback_data"]
    assert len(token.encode()) <= 64
    assert adapter._actions.decode(token) == long_action
    assert fake.calls_to("sendMessage") == []


async def test_a_long_text_goes_after_the_photo_and_is_split(
    fake: FakeTelegram, bot: Bot, make_core: MakeCore
) -> None:
    adapter = TelegramAdapter(make_core(), max_photo_bytes=LIMIT)
    text = "\n".join(f"line {i}: " + "好" * 60 for i in range(100))  # ~6,800 characters
    reply = Reply(text=text, image=ReplyImage(b"png"), buttons=(Button("OK", "/help"),))
    await adapter.render(bot, DM.id, reply)
    [photo] = fake.calls_to("sendPhoto")
    assert "caption" not in photo.params and "reply_markup" not in photo.params
    first, second = fake.calls_to("sendMessage")
    assert first.text + "\n" + second.text == text
    assert "reply_markup" not in first.params and "reply_markup" in second.params


async def test_a_document_reply_is_sent_as_a_file_with_the_buttons_under_it(
    fake: FakeTelegram, bot: Bot, make_core: MakeCore
) -> None:
    adapter = TelegramAdapter(make_core(), max_photo_bytes=LIMIT)
    reply = Reply(
        text="Exported 3 images",
        document=ReplyFile(b"PK\x03\x04zip", "feedback.zip", "application/zip"),
        buttons=(Button("Again", "/export"),),
    )
    sent_id = await adapter.render(bot, DM.id, reply)
    [message] = fake.calls_to("sendMessage")
    [document] = fake.calls_to("sendDocument")
    assert message.text == "Exported 3 images" and "reply_markup" not in message.params
    assert document.files["document"] == b"PK\x03\x04zip"
    assert document.json("reply_markup")["inline_keyboard"][0][0]["callback_data"] == "/export"
    assert sent_id == str(max(fake.bot_messages))
    assert [c.method for c in fake.calls_to("sendChatAction")] == ["sendChatAction"]
    assert fake.calls_to("sendChatAction")[0].params["action"] == "upload_document"


async def test_command_menus_follow_the_locale_files(
    fake: FakeTelegram, bot: Bot, make_core: MakeCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second locale file (and one Telegram has no code for) without writing one.
    monkeypatch.setattr("bot.telegram.adapter.available_languages", lambda: ["en", "pt_BR", "zh"])
    adapter = TelegramAdapter(make_core(), max_photo_bytes=LIMIT, language="en")
    await adapter.publish_commands(bot)
    calls = fake.calls_to("setMyCommands")
    languages = [c.params.get("language_code", "") for c in calls]
    assert languages == ["", "", "", "zh", "zh", "zh"]
    scopes = [c.json("scope")["type"] if "scope" in c.params else "default" for c in calls]
    assert scopes[3:] == ["default", "all_group_chats", "all_chat_administrators"]


@pytest.mark.parametrize(
    ("code", "description"),
    [
        (403, "Forbidden: bot was kicked from the supergroup chat"),
        (400, "Bad Request: chat not found"),
    ],
)
async def test_the_sender_says_when_a_chat_is_gone(
    fake: FakeTelegram,
    bot: Bot,
    make_core: MakeCore,
    storage: SqliteStorage,
    code: int,
    description: str,
) -> None:
    sender = TelegramSender(TelegramAdapter(make_core(), max_photo_bytes=LIMIT), bot)
    chat = await add_chat(storage, str(GROUP.id), platform="telegram", title="Class 1")
    fake.fail_next("sendMessage", code, description)
    with pytest.raises(ChatGone):
        await sender.send(chat, Reply(text="Today's challenge"))
    # Any other refusal is not the chat's fault: the scheduler tries again later.
    fake.fail_next("sendMessage", 400, "Bad Request: message text is empty")
    with pytest.raises(BadRequest):
        await sender.send(chat, Reply(text="Today's challenge"))
    assert await sender.send(chat, Reply(text="Today's challenge")) == str(max(fake.bot_messages))


async def test_a_group_upgraded_to_a_supergroup_keeps_its_chat(
    fake: FakeTelegram, bot: Bot, make_core: MakeCore, storage: SqliteStorage
) -> None:
    sender = TelegramSender(TelegramAdapter(make_core(), max_photo_bytes=LIMIT), bot)
    chat = await add_chat(storage, str(GROUP.id), platform="telegram", title="Class 1")
    fake.fail_next(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-100777,
    )
    await sender.send(chat, Reply(text="Today's challenge"))
    sent = fake.calls_to("sendMessage")[-1]
    assert str(sent.params["chat_id"]) == "-100777"
    moved = await storage.chats.get(chat.id)
    assert moved is not None and moved.external_id == "-100777"  # same chat, same scores


# -- small parts -----------------------------------------------------------------------


def test_split_text_counts_utf16_units_and_prefers_line_breaks() -> None:
    assert split_text("short") == ["short"]
    assert split_text("") == []
    emoji = "😀" * 3000  # 6,000 UTF-16 code units in 3,000 characters
    chunks = split_text(emoji)
    assert "".join(chunks) == emoji
    assert all(len(c.encode("utf-16-le")) // 2 <= MAX_TEXT for c in chunks)
    lines = split_text("a" * 3000 + "\n" + "b" * 3000)
    assert lines == ["a" * 3000, "b" * 3000]


def test_callback_actions_pass_short_ones_and_forget_old_tokens() -> None:
    actions = CallbackActions(max_entries=2)
    assert actions.encode("/forget confirm") == "/forget confirm"
    tokens = [actions.encode("/x " + "y" * 70 + str(i)) for i in range(3)]
    assert actions.decode(tokens[0]) is None  # pushed out by newer ones
    assert actions.decode(tokens[2]) == "/x " + "y" * 70 + "2"
    assert actions.decode("#unknown") is None
    assert actions.encode("#looks-like-a-token") != "#looks-like-a-token"


def test_admin_cache_expires() -> None:
    now = [0.0]
    cache = AdminCache(ttl=300, clock=lambda: now[0])
    cache.put(1, 2, True)
    assert cache.get(1, 2) is True and cache.get(1, 3) is None
    now[0] = 301
    assert cache.get(1, 2) is None
