"""Translates Telegram updates to IncomingMessage, hands them to the core and renders Replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    Chat,
    ChatMember,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.core import COMMANDS, Core, too_large_values
from bot.i18n import available_languages, t
from bot.messages import Button, ChatKind, ChatRef, IncomingMessage, Photo, Reply, UserRef
from bot.scheduler import ChatGone, Sender
from bot.telegram.webhook import WebhookConfig, WebhookServer, new_secret
from config import Settings
from storage.protocols import ChatRecord

log = logging.getLogger(__name__)

PLATFORM = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
# Telegram's own limits; text lengths count UTF-16 code units, callback data counts bytes.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_COMMAND_DESCRIPTION = 256
# The cloud Bot API refuses getFile above this (a self-hosted server has no such limit); the
# round 20 MB Telegram documents, a little under the real 20 MiB.
CLOUD_DOWNLOAD_LIMIT = 20_000_000
# Telegram shows a chat action for five seconds; grading may take longer.
TYPING_REFRESH = 4.0
# Only what the handlers below use: Telegram then does not send the rest at all.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
ADMIN_STATUSES = frozenset({ChatMember.OWNER, ChatMember.ADMINISTRATOR})
PRESENT_STATUSES = ADMIN_STATUSES | {ChatMember.MEMBER}
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
# Documents that are surely not pictures are refused before downloading; a generic type
# (or none) is downloaded and judged by its bytes.
GENERIC_MIME_TYPES = frozenset({"", "application/octet-stream"})
# Commands that read every photo of an album; any other album answers with its first photo.
ALBUM_COMMANDS = frozenset({"ocr"})
# Telegram takes command menus for two-letter ISO 639-1 language codes only.
TELEGRAM_LANGUAGE = re.compile(r"[a-z]{2}")
# httpx logs every request URL at INFO, and every Bot API URL contains the token.
TOKEN_LEAKING_LOGGERS = ("httpx", "httpcore")

TelegramApp: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Context: TypeAlias = ContextTypes.DEFAULT_TYPE


class AdminCache:
    """Who is an admin of which group, remembered for a few minutes to spare API calls."""

    def __init__(
        self,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[int, int], tuple[float, bool]] = OrderedDict()

    def get(self, chat_id: int, user_id: int) -> bool | None:
        entry = self._entries.get((chat_id, user_id))
        if entry is None:
            return None
        expires, is_admin = entry
        if expires <= self._clock():
            del self._entries[(chat_id, user_id)]
            return None
        return is_admin

    def put(self, chat_id: int, user_id: int, is_admin: bool) -> None:
        key = (chat_id, user_id)
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self._ttl, is_admin)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class CallbackActions:
    """Button actions as Telegram callback_data (at most 64 bytes).

    Short actions travel as they are, so buttons keep working across restarts; a longer one
    is kept here and a short token travels instead, until newer tokens push it out.
    """

    PREFIX = "#"

    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._actions: OrderedDict[str, str] = OrderedDict()
        self._counter = 0

    def encode(self, action: str) -> str:
        if len(action.encode()) <= MAX_CALLBACK_DATA and not action.startswith(self.PREFIX):
            return action
        self._counter += 1
        token = f"{self.PREFIX}{self._counter}"
        self._actions[token] = action
        while len(self._actions) > self._max_entries:
            self._actions.popitem(last=False)
        return token

    def decode(self, data: str) -> str | None:
        """The action behind ``data``, or None for a token we no longer (or never) had."""
        if data.startswith(self.PREFIX):
            return self._actions.get(data)
        return data


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """How many leading characters of ``text`` fit in ``limit`` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return max(index, 1)
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of ``text`` within Telegram's length limit, cut at line breaks where possible."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while _utf16_len(line) > limit:
            cut = _fit(line, limit)
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
    chunks: list[str] = []
    current, size = "", 0
    for piece in pieces:
        length = _utf16_len(piece)
        if current and size + length > limit:
            chunks.append(current)
            current, size = "", 0
        current += piece
        size += length
    chunks.append(current)
    # Telegram refuses blank messages.
    return [chunk.rstrip("\n") for chunk in chunks if chunk.strip()]


class Audience(StrEnum):
    """Who sees a command menu: Telegram picks the most specific scope for each user."""

    PRIVATE = "private"  # everyone runs every command in their own chat
    MEMBERS = "members"  # a group's members: the admin commands would only be refused
    ADMINS = "admins"  # a group's admins: everything, the admin commands marked


def bot_commands(language: str, audience: Audience = Audience.ADMINS) -> list[BotCommand]:
    """The command menu: what /help lists, without the operators' commands."""
    commands: list[BotCommand] = []
    for spec in COMMANDS.values():
        if spec.operator or (spec.admin and audience is Audience.MEMBERS):
            continue
        description = t(spec.description_key, language)
        if spec.admin and audience is Audience.ADMINS:
            description += t("help.admin_marker", language)
        commands.append(BotCommand(spec.name, description[:MAX_COMMAND_DESCRIPTION]))
    return commands


def _command(text: str) -> str:
    """``/OCR@HanziBot`` -> "ocr"; "" for text that is not a command."""
    if not text.startswith("/"):
        return ""
    return text.split(maxsplit=1)[0][1:].partition("@")[0].lower()


def _present(member: ChatMember) -> bool:
    """Whether this membership puts the bot in the chat (a restricted member may be out)."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return member.status in PRESENT_STATUSES


def _chat_ref(chat: Chat) -> ChatRef:
    kind = ChatKind.PRIVATE if chat.type == ChatType.PRIVATE else ChatKind.GROUP
    return ChatRef(PLATFORM, str(chat.id), kind, chat.effective_name or "")


def _addressed_to(text: str, username: str) -> bool:
    """False only for a command that names another bot: ``/help@OtherBot``."""
    if not text.startswith("/"):
        return True
    _, at, name = text.split(maxsplit=1)[0].partition("@")
    return not at or name.lower() == username.lower()


def _received_at(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _reply_parameters(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    # The user may have deleted their message by the time we answer.
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _thread(message: Message) -> int | None:
    # Forum topics: an answer outside the topic would land in the group's General topic.
    return message.message_thread_id if message.is_topic_message else None


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """What a message says about its photo or document before anything is downloaded."""

    file_id: str
    declared_size: int | None
    filename: str
    mime_type: str

    @classmethod
    def of(cls, message: Message) -> IncomingFile | None:
        if message.photo:
            # Telegram sends several sizes of a compressed photo; graders want the largest.
            largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
            return cls(
                largest.file_id, largest.file_size, f"{largest.file_unique_id}.jpg", "image/jpeg"
            )
        document = message.document
        if document is None:
            return None
        return cls(
            document.file_id,
            document.file_size,
            document.file_name or "",
            (document.mime_type or "").lower(),
        )

    @property
    def surely_not_an_image(self) -> bool:
        return not self.mime_type.startswith("image/") and self.mime_type not in GENERIC_MIME_TYPES


class Albums:
    """The first caption of each recent album (media group), whose photos arrive one by one."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._captions: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._told: OrderedDict[tuple[int, str], None] = OrderedDict()

    def tell_once(self, chat_id: int, group_id: str) -> bool:
        """True the first time it is asked about an album: its sender hears once why the
        other photos were not graded."""
        key = (chat_id, group_id)
        if key in self._told:
            return False
        self._told[key] = None
        while len(self._told) > self._max_entries:
            self._told.popitem(last=False)
        return True

    def caption(self, chat_id: int, group_id: str, text: str) -> tuple[bool, str]:
        """(whether this is the album's first item, the text that goes with it): an item
        without a caption of its own inherits the first one's."""
        key = (chat_id, group_id)
        first = self._captions.get(key)
        if first is None:
            self._captions[key] = text
            while len(self._captions) > self._max_entries:
                self._captions.popitem(last=False)
            return True, text
        return False, text or first


class TelegramAdapter:
    """Owns the handlers of one PTB Application; the core never sees a telegram type."""

    def __init__(
        self,
        core: Core,
        *,
        max_photo_bytes: int,
        language: str = "en",
        admin_cache: AdminCache | None = None,
        download_limit: int | None = None,
    ) -> None:
        self._core = core
        # The smaller of our own limit and what the Bot API serves (None: a local server).
        self._max_file_bytes = min(max_photo_bytes, download_limit or max_photo_bytes)
        self._language = language
        self._admins = admin_cache or AdminCache()
        self._actions = CallbackActions()
        self._albums = Albums()
        # Updates are processed concurrently, but one chat's messages stay in order.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- wiring ------------------------------------------------------------------------

    def build_application(
        self,
        token: str,
        *,
        base_url: str | None = None,
        base_file_url: str | None = None,
    ) -> TelegramApp:
        application: TelegramApp = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url or DEFAULT_BASE_URL)
            .base_file_url(base_file_url or DEFAULT_BASE_FILE_URL)
            # Keeps under Telegram's flood limits (30 messages/s overall, 20/min per group)
            # by queueing, and waits out a flood-control answer twice before giving up.
            .rate_limiter(AIORateLimiter(max_retries=2))
            .concurrent_updates(True)
            # The bot has its own scheduler; PTB's job queue would be a second one.
            .job_queue(None)
            .build()
        )
        self.install(application)
        return application

    def install(self, application: TelegramApp) -> None:
        messages = filters.UpdateType.MESSAGE & (
            filters.TEXT | filters.PHOTO | filters.Document.ALL
        )
        application.add_handler(MessageHandler(messages, self.on_message))
        application.add_handler(
            MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate), group=1
        )
        application.add_handler(CallbackQueryHandler(self.on_callback))
        application.add_handler(
            ChatMemberHandler(self.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_error_handler(self.on_error)

    @property
    def core(self) -> Core:
        return self._core

    async def on_migrate(self, update: Update, context: Context) -> None:
        """A group became a supergroup: the old group's last message names the new id."""
        message = update.effective_message
        if message is None or message.migrate_to_chat_id is None:
            return
        await self._core.chat_migrated(
            PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id)
        )

    async def publish_commands(self, bot: Bot) -> None:
        """The command menus Telegram shows next to the text field: private chats, group
        members and group admins each see what they can use, in every language we have."""
        others = [
            language
            for language in available_languages()
            if language != self._language and TELEGRAM_LANGUAGE.fullmatch(language)
        ]
        # No language code: the menu of everyone whose language has no menu of its own.
        for code in [None, *others]:
            language = code or self._language
            await bot.set_my_commands(bot_commands(language, Audience.PRIVATE), language_code=code)
            await bot.set_my_commands(
                bot_commands(language, Audience.MEMBERS),
                scope=BotCommandScopeAllGroupChats(),
                language_code=code,
            )
            await bot.set_my_commands(
                bot_commands(language, Audience.ADMINS),
                scope=BotCommandScopeAllChatAdministrators(),
                language_code=code,
            )

    # -- handlers ----------------------------------------------------------------------

    async def on_message(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or message.from_user is None or message.is_automatic_forward:
            return  # automatic forwards are a linked channel's posts, not anyone's answer
        chat = _chat_ref(message.chat)
        text = message.text or message.caption or ""
        if not _addressed_to(text, context.bot.username):
            return  # /start@SomeOtherBot in a group with several bots
        replied = message.reply_to_message
        replied_to_bot = bool(
            replied is not None
            and replied.from_user is not None
            and replied.from_user.id == context.bot.id
        )
        file = IncomingFile.of(message)
        if (
            chat.kind is ChatKind.GROUP
            and file is None
            and not text.startswith("/")
            and not replied_to_bot
        ):
            return  # ordinary conversation in a group is not for us
        if file is not None and message.media_group_id:
            first, text = self._albums.caption(message.chat.id, message.media_group_id, text)
            if not first and _command(text) not in ALBUM_COMMANDS:
                # One photo is one answer: grading the rest would count them as more tries
                # (or as answers to the practice cards that follow).
                log.info(
                    "telegram.album_photo_skipped",
                    extra={"fields": {"chat": message.chat.id, "message": message.message_id}},
                )
                if self._albums.tell_once(message.chat.id, message.media_group_id):
                    await self.render(
                        context.bot,
                        message.chat.id,
                        Reply(text=t("telegram.album_extra", self._language)),
                        reply_to=_reply_to(message),
                        thread=_thread(message),
                    )
                return
        reply_to = _reply_to(message)
        thread = _thread(message)
        bot = context.bot
        async with self._serialized(message.chat.id):
            photo: Photo | None = None
            if file is not None and not await self._acceptable(bot, message, file, thread):
                return
            async with self._typing(bot, message.chat.id, active=file is not None):
                if file is not None:
                    photo = await self._download(bot, message, file, thread)
                    if photo is None:
                        return
                user = await self._user_ref(
                    bot, message.chat, message.from_user, message, check_admin=bool(_command(text))
                )
                incoming = IncomingMessage(
                    chat=chat,
                    user=user,
                    text=text,
                    photo=photo,
                    message_id=str(message.message_id),
                    reply_to_prompt=replied_to_bot,
                    reply_to_message_id=(
                        str(replied.message_id) if replied_to_bot and replied else ""
                    ),
                    received_at=_received_at(message.date),
                )
                replies = await self._core.handle(incoming)
            for reply in replies:
                await self.render(bot, message.chat.id, reply, reply_to=reply_to, thread=thread)

    async def on_callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        action = self._actions.decode(query.data or "")
        if not action:
            # A token from before a restart, or a button of some other bot version.
            await query.answer(t("buttons.expired", self._language))
            return
        # Answer at once, so the client stops its spinner while the core works.
        await query.answer()
        message = query.message
        if message is None:
            return  # a button under an inline-mode message: no chat to answer in
        chat = _chat_ref(message.chat)
        thread = _thread(message) if isinstance(message, Message) else None
        async with self._serialized(message.chat.id):
            user = await self._user_ref(
                context.bot, message.chat, query.from_user, None, check_admin=True
            )
            incoming = IncomingMessage(chat=chat, user=user, action=action)
            await self._deliver(context.bot, incoming, message.chat.id, thread)

    async def on_my_chat_member(self, update: Update, context: Context) -> None:
        change = update.my_chat_member
        if change is None:
            return
        chat = _chat_ref(change.chat)
        was_in, is_in = _present(change.old_chat_member), _present(change.new_chat_member)
        fields = {"chat": change.chat.id, "status": change.new_chat_member.status}
        if not is_in:
            # Removed from a group, or blocked in a private chat: stop posting there.
            log.info("telegram.removed_from_chat", extra={"fields": fields})
            await self._core.chat_removed(chat)
            return
        if was_in or change.chat.type not in GROUP_TYPES:
            # A promotion, or a private chat unblocked (its user sends /start themselves).
            log.info("telegram.membership_changed", extra={"fields": fields})
            return
        # Added to a group: the chat is (re)activated and the group learns how to play, just
        # as if whoever added the bot had sent /start.
        log.info("telegram.added_to_chat", extra={"fields": fields})
        async with self._serialized(change.chat.id):
            user = await self._user_ref(
                context.bot, change.chat, change.from_user, None, check_admin=False
            )
            incoming = IncomingMessage(
                chat=chat, user=user, text="/start", received_at=_received_at(change.date)
            )
            await self._deliver(context.bot, incoming, change.chat.id, None)

    async def on_error(self, update: object, context: Context) -> None:
        """Logs what a handler raised; PTB carries on with the next update either way."""
        error = context.error
        fields: dict[str, object] = {"error": type(error).__name__}
        if isinstance(update, Update) and update.effective_chat is not None:
            fields["chat"] = update.effective_chat.id
        if isinstance(error, Forbidden | NetworkError) and not isinstance(error, BadRequest):
            # Blocked by the user, or a network blip: expected now and then, no stack needed.
            # (BadRequest is a NetworkError in PTB, but it means we sent something wrong.)
            log.warning("telegram.handler_failed", extra={"fields": fields})
            return
        log.error("telegram.handler_failed", exc_info=error, extra={"fields": fields})

    def on_polling_error(self, error: TelegramError) -> None:
        # PTB retries by itself with backoff; one line per failure, never the traceback.
        log.warning("telegram.polling_failed", extra={"fields": {"error": type(error).__name__}})

    # -- helpers -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _serialized(self, chat_id: int) -> AsyncIterator[None]:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        async with lock:
            yield

    @contextlib.asynccontextmanager
    async def _typing(self, bot: Bot, chat_id: int, *, active: bool) -> AsyncIterator[None]:
        """ "typing..." from the download until the grade is known, renewed as it fades."""
        if not active:
            yield
            return

        async def keep_typing() -> None:
            while True:
                await self._chat_action(bot, chat_id, ChatAction.TYPING)
                await asyncio.sleep(TYPING_REFRESH)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _user_ref(
        self, bot: Bot, chat: Chat, user: User, message: Message | None, *, check_admin: bool
    ) -> UserRef:
        is_admin = False
        if chat.type != ChatType.PRIVATE and check_admin:
            sender_chat = message.sender_chat if message is not None else None
            if sender_chat is not None and sender_chat.id == chat.id:
                is_admin = True  # an anonymous admin, writing as the group itself
            else:
                is_admin = await self._is_admin(bot, chat.id, user.id)
        return UserRef(
            PLATFORM,
            str(user.id),
            display_name=user.full_name or user.username or "",
            language=user.language_code or "",
            is_chat_admin=is_admin,
        )

    async def _is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        # Asked only for commands and buttons, which may be admin-only: AIORateLimiter counts
        # getChatMember against the group's 20 requests a minute, and a class sending its
        # photos at once needs those for the answers.
        cached = self._admins.get(chat_id, user_id)
        if cached is not None:
            return cached
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            # Not cached: the next message asks again.
            log.warning(
                "telegram.admin_check_failed",
                extra={"fields": {"chat": chat_id, "error": type(exc).__name__}},
            )
            return False
        is_admin = member.status in ADMIN_STATUSES
        self._admins.put(chat_id, user_id, is_admin)
        return is_admin

    async def _acceptable(
        self, bot: Bot, message: Message, file: IncomingFile, thread: int | None
    ) -> bool:
        """Refuses, from what Telegram declares, a file we would download for nothing."""
        size = file.declared_size
        if size is not None and size > self._max_file_bytes:
            why = "too_large"
            text = t(
                "photo.too_large", self._language, **too_large_values(size, self._max_file_bytes)
            )
        elif file.surely_not_an_image:
            why = "not_image"
            text = t("photo.not_image", self._language)
        else:
            return True
        fields = {"chat": message.chat.id, "size": size, "why": why}
        log.info("telegram.file_refused", extra={"fields": fields})
        reply = Reply(text=text)
        await self.render(bot, message.chat.id, reply, reply_to=_reply_to(message), thread=thread)
        return False

    async def _download(
        self, bot: Bot, message: Message, file: IncomingFile, thread: int | None
    ) -> Photo | None:
        """The bytes of a photo or document, or None after telling the user why not."""
        chat_id = message.chat.id
        try:
            remote = await bot.get_file(file.file_id)
            data = bytes(await remote.download_as_bytearray())
        except TelegramError as exc:
            log.warning(
                "telegram.download_failed",
                extra={"fields": {"chat": chat_id, "error": type(exc).__name__}},
            )
            size = file.declared_size or 0
            if size > CLOUD_DOWNLOAD_LIMIT and "too big" in str(exc).lower():
                # Our limit is above what this Bot API server serves.
                text = t(
                    "photo.too_large",
                    self._language,
                    **too_large_values(size, CLOUD_DOWNLOAD_LIMIT),
                )
            else:
                text = t("photo.download_failed", self._language)
            reply = Reply(text=text)
            await self.render(bot, chat_id, reply, reply_to=_reply_to(message), thread=thread)
            return None
        return Photo(data=data, filename=file.filename, mime_type=file.mime_type)

    async def _chat_action(self, bot: Bot, chat_id: int, action: str) -> None:
        # Private chats only: AIORateLimiter counts every request naming a group against that
        # group's 20 messages a minute, and a class answering at once needs them for replies.
        if chat_id < 0:
            return
        # Only a courtesy: a failure here must not lose the answer.
        with contextlib.suppress(TelegramError):
            await bot.send_chat_action(chat_id, action)

    async def _deliver(
        self, bot: Bot, incoming: IncomingMessage, chat_id: int, thread: int | None
    ) -> None:
        for reply in await self._core.handle(incoming):
            await self.render(bot, chat_id, reply, thread=thread)

    def _markup(self, buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        button.label, callback_data=self._actions.encode(button.action)
                    )
                ]
                for button in buttons
            ]
        )

    async def render(
        self,
        bot: Bot,
        chat_id: int,
        reply: Reply,
        *,
        reply_to: int | None = None,
        thread: int | None = None,
    ) -> str:
        """Sends one Reply: a photo (captioned when the text fits), text, a document, buttons
        last; returns the id of the last message sent."""
        markup = self._markup(reply.buttons)
        where: dict[str, Any] = {
            "reply_parameters": _reply_parameters(reply_to),
            "message_thread_id": thread,
        }
        text = reply.text.strip()
        last_id = ""
        if reply.image is not None:
            await self._chat_action(bot, chat_id, ChatAction.UPLOAD_PHOTO)
            as_caption = _utf16_len(text) <= MAX_CAPTION and reply.document is None
            sent = await bot.send_photo(
                chat_id,
                InputFile(reply.image.data, filename=reply.image.filename),
                caption=text if as_caption and text else None,
                reply_markup=markup if as_caption else None,
                **where,
            )
            if as_caption:
                return str(sent.message_id)
            last_id = str(sent.message_id)
        chunks = split_text(text) if text else []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1 and reply.document is None
            sent = await bot.send_message(
                chat_id, chunk, reply_markup=markup if last else None, **where
            )
            last_id = str(sent.message_id)
        if reply.document is not None:
            await self._chat_action(bot, chat_id, ChatAction.UPLOAD_DOCUMENT)
            sent = await bot.send_document(
                chat_id,
                InputFile(reply.document.data, filename=reply.document.filename),
                reply_markup=markup,
                **where,
            )
            last_id = str(sent.message_id)
        return last_id


def _reply_to(message: Message) -> int | None:
    """In a group the answer quotes the message it answers; a private chat needs no threading."""
    return message.message_id if message.chat.type != ChatType.PRIVATE else None


class TelegramSender:
    """Posts the scheduler's daily prompts through a running application's bot."""

    def __init__(self, adapter: TelegramAdapter, bot: Bot) -> None:
        self._adapter = adapter
        self._bot = bot

    async def send(self, chat: ChatRecord, reply: Reply) -> str:
        try:
            return await self._adapter.render(
                bot=self._bot, chat_id=int(chat.external_id), reply=reply
            )
        except Forbidden as exc:
            raise ChatGone(str(exc)) from exc
        except ChatMigrated as exc:
            # A group upgraded to a supergroup lives on under a new id, with its scores.
            log.info(
                "telegram.chat_migrated",
                extra={"fields": {"chat": chat.id, "new_id": exc.new_chat_id}},
            )
            await self._adapter.core.chat_migrated(PLATFORM, chat.external_id, str(exc.new_chat_id))
            return await self._adapter.render(
                bot=self._bot, chat_id=int(exc.new_chat_id), reply=reply
            )
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise ChatGone(str(exc)) from exc  # the group was deleted
            raise


def _quiet_token_leaking_loggers() -> None:
    for name in TOKEN_LEAKING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _start_failure(error: BaseException, token: str) -> dict[str, object]:
    """Fields for the one telegram.start_failed line; never the token, which PTB's
    InvalidToken message quotes in full."""
    if isinstance(error, InvalidToken):
        reason = "Telegram rejected the token; check HANZI_TELEGRAM_TOKEN"
    elif isinstance(error, TimedOut):
        reason = "timed out reaching the Bot API"
    elif isinstance(error, TelegramError):
        reason = str(error).replace(token, "***")
    elif isinstance(error, OSError):
        reason = f"cannot listen for the webhook: {error.strerror or error}"
    else:
        reason = "unexpected error"
    return {"error": type(error).__name__, "reason": reason}


async def _start(
    application: TelegramApp,
    adapter: TelegramAdapter,
    poll_timeout: float,
    webhook: WebhookConfig | None,
) -> WebhookServer | None:
    """Start receiving updates: long polling, or a webhook server when ``webhook`` is set."""
    await application.initialize()  # calls getMe: a bad token fails here
    try:
        await adapter.publish_commands(application.bot)
    except TelegramError as exc:
        # A missing command menu is cosmetic; the bot works without it.
        log.warning("telegram.commands_failed", extra={"fields": {"error": type(exc).__name__}})
    await application.start()
    if webhook is None:
        assert application.updater is not None
        # Also removes a webhook left from an earlier run, or Telegram refuses getUpdates.
        await application.updater.start_polling(
            timeout=int(poll_timeout),
            allowed_updates=list(ALLOWED_UPDATES),
            error_callback=adapter.on_polling_error,
        )
        return None
    secret = webhook.secret or new_secret()
    server = WebhookServer(application, webhook.path, secret)
    # Listening before Telegram is told where to post, so the first update finds us.
    await server.start(webhook.listen, webhook.port)
    try:
        await application.bot.set_webhook(
            webhook.url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
        )
    except BaseException:
        await server.stop()
        raise
    return server


async def _stop(application: TelegramApp, server: WebhookServer | None = None) -> None:
    """Undo whatever part of _start happened; safe after a failed start."""
    steps: list[tuple[str, Callable[[], Any]]] = []
    if server is not None:
        # The webhook stays set: Telegram keeps what arrives meanwhile until we are back.
        steps.append(("webhook", server.stop))
    if application.updater is not None and application.updater.running:
        steps.append(("updater", application.updater.stop))
    if application.running:
        steps.append(("application", application.stop))
    steps.append(("shutdown", application.shutdown))
    # After a failed initialize() the application thinks it never started, but the bot's
    # HTTP clients are open.
    steps.append(("bot", application.bot.shutdown))
    for name, step in steps:
        try:
            await step()
        except Exception as exc:
            log.warning(
                "telegram.stop_failed",
                extra={"fields": {"step": name, "error": type(exc).__name__}},
            )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_telegram(
    core: Core,
    settings: Settings,
    stop: asyncio.Event,
    *,
    first_retry: float = 5.0,
    max_retry: float = 300.0,
    poll_timeout: float = 10.0,
    senders: MutableMapping[str, Sender] | None = None,
    webhook: WebhookConfig | None = None,
) -> None:
    """Receive Telegram updates until ``stop`` is set: by long polling, or by webhook when
    ``webhook`` (or HANZI_TELEGRAM_WEBHOOK_URL) says where.

    A start that fails (bad token, no network) is logged as one line and retried with
    exponential backoff, so a Telegram outage never takes the process down.
    """
    if settings.telegram_token is None:
        raise ValueError("run_telegram needs settings.telegram_token")
    token = settings.telegram_token.get_secret_value()
    _quiet_token_leaking_loggers()
    webhook = webhook or WebhookConfig.from_settings(settings)
    adapter = TelegramAdapter(
        core,
        max_photo_bytes=settings.max_photo_bytes,
        language=settings.language,
        # Telegram's own servers serve files up to 20 MB; a self-hosted one has no limit.
        download_limit=None if settings.telegram_base_url else CLOUD_DOWNLOAD_LIMIT,
    )
    delay = first_retry
    while not stop.is_set():
        application = adapter.build_application(
            token,
            base_url=settings.telegram_base_url,
            base_file_url=settings.telegram_base_file_url,
        )
        started = False
        server: WebhookServer | None = None
        try:
            try:
                server = await _start(application, adapter, poll_timeout, webhook)
                started = True
            except Exception as exc:
                fields = {**_start_failure(exc, token), "retry_in": delay}
                # A Telegram error is explained by its type, a busy port by its message;
                # anything else is our bug.
                trace = None if isinstance(exc, TelegramError | OSError) else exc
                log.error("telegram.start_failed", exc_info=trace, extra={"fields": fields})
            if started:
                mode = "polling" if webhook is None else "webhook"
                log.info(
                    "telegram.started",
                    extra={"fields": {"bot": application.bot.username, "mode": mode}},
                )
                if senders is not None:
                    senders[PLATFORM] = TelegramSender(adapter, application.bot)
                await stop.wait()
        finally:
            if senders is not None:
                senders.pop(PLATFORM, None)
            await _stop(application, server)
        if started:
            log.info("telegram.stopped")
            return
        await _sleep_or_stop(stop, delay)
        delay = min(delay * 2, max_retry)
