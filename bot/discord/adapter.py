"""Translates Discord messages and button presses to IncomingMessage and renders Replies."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, MutableMapping

import discord

from bot.core import too_large_values
from bot.i18n import t
from bot.messages import (
    Button,
    ChatKind,
    ChatRef,
    IncomingMessage,
    Photo,
    Reply,
    UserRef,
)
from bot.scheduler import ChatGone, Sender
from storage.protocols import ChatRecord

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Discord's own limit on a message's content.
MAX_CONTENT = 2000
# Until slash commands are registered (their own issue), "!today" works like "/today",
# because the Discord client turns a typed "/" into its command picker.
PREFIXES = ("/", "!")

Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]


def _chat_ref(channel: discord.abc.Messageable) -> ChatRef:
    if isinstance(channel, discord.DMChannel):
        return ChatRef(PLATFORM, str(channel.id), ChatKind.PRIVATE, "")
    name = getattr(channel, "name", "") or ""
    return ChatRef(PLATFORM, str(getattr(channel, "id", "")), ChatKind.GROUP, name)


def _user_ref(author: discord.User | discord.Member) -> UserRef:
    admin = isinstance(author, discord.Member) and author.guild_permissions.manage_guild
    return UserRef(
        PLATFORM,
        str(author.id),
        display_name=author.display_name,
        is_chat_admin=bool(admin),
    )


def _command_text(content: str) -> str:
    text = content.strip()
    if text.startswith("!"):
        return "/" + text[1:]
    return text


class ActionButton(discord.ui.Button["ReplyButtons"]):
    """One button; a press comes back to the core as IncomingMessage.action."""

    def __init__(self, adapter: DiscordAdapter, button: Button, index: int) -> None:
        super().__init__(label=button.label[:80], custom_id=f"hanzi:{index}:{button.action}"[:100])
        self._adapter = adapter
        self._action = button.action

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        channel = interaction.channel
        if channel is None or not isinstance(channel, discord.abc.Messageable):
            return
        message = IncomingMessage(
            chat=_chat_ref(channel), user=_user_ref(interaction.user), action=self._action
        )
        await self._adapter.deliver(channel, message)


class ReplyButtons(discord.ui.View):
    def __init__(self, adapter: DiscordAdapter, buttons: tuple[Button, ...]) -> None:
        super().__init__(timeout=3600)
        for index, button in enumerate(buttons[:25]):  # Discord's limit per message
            self.add_item(ActionButton(adapter, button, index))


class DiscordAdapter:
    """Owns the discord.Client; the core never sees a discord type."""

    def __init__(self, handle: Handle, *, max_photo_bytes: int, client: discord.Client) -> None:
        self._handle = handle
        self._max_photo_bytes = max_photo_bytes
        self.client = client
        client.event(self.on_message)

    @staticmethod
    def intents() -> discord.Intents:
        intents = discord.Intents.default()
        # Needed to read "!today" and photo replies in servers.
        intents.message_content = True
        return intents

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        text = _command_text(message.content)
        attachment = message.attachments[0] if message.attachments else None
        in_dm = isinstance(message.channel, discord.DMChannel)
        if attachment is None and not text.startswith("/") and not in_dm:
            return  # ordinary conversation in a server is not for us
        chat = _chat_ref(message.channel)
        user = _user_ref(message.author)
        photo: Photo | None = None
        if attachment is not None:
            if attachment.size > self._max_photo_bytes:
                await message.channel.send(
                    t("photo.too_large", **too_large_values(attachment.size, self._max_photo_bytes))
                )
                return
            try:
                data = await attachment.read()
            except (discord.HTTPException, OSError):
                log.warning("discord.download_failed", extra={"fields": {"chat": chat.chat_id}})
                await message.channel.send(t("photo.download_failed"))
                return
            photo = Photo(
                data=data,
                filename=attachment.filename,
                mime_type=attachment.content_type or "",
            )
        reference = message.reference
        replied_to_bot = bool(
            reference is not None
            and isinstance(reference.resolved, discord.Message)
            and self.client.user is not None
            and reference.resolved.author.id == self.client.user.id
        )
        incoming = IncomingMessage(
            chat=chat,
            user=user,
            text=text,
            photo=photo,
            message_id=str(message.id),
            reply_to_prompt=replied_to_bot,
            reply_to_message_id=str(reference.message_id or "")
            if replied_to_bot and reference
            else "",
        )
        await self.deliver(message.channel, incoming)

    async def deliver(self, channel: discord.abc.Messageable, message: IncomingMessage) -> None:
        if message.photo is not None:
            # One indicator lasts ~10 s, longer than grading takes; it is only a courtesy.
            with contextlib.suppress(discord.HTTPException):
                await channel.typing()
        replies = await self._handle(message)
        for reply in replies:
            await self.render(channel, reply)

    async def render(self, channel: discord.abc.Messageable, reply: Reply) -> str:
        content = reply.text[:MAX_CONTENT] if reply.text else None
        files = [
            discord.File(io.BytesIO(attached.data), filename=attached.filename)
            for attached in (reply.image, reply.document)
            if attached is not None
        ]
        view = ReplyButtons(self, reply.buttons) if reply.buttons else discord.utils.MISSING
        sent = await channel.send(content=content, files=files or discord.utils.MISSING, view=view)
        return str(sent.id)

    async def send(self, chat: ChatRecord, reply: Reply) -> str:
        """The scheduler's daily post, to the chat's chosen channel if it set one."""
        channel_id = int(chat.daily_channel or chat.external_id)
        try:
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(
                channel_id
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            raise ChatGone(str(exc)) from exc
        if not isinstance(channel, discord.abc.Messageable):
            raise ChatGone(f"channel {channel_id} cannot receive messages")
        try:
            return await self.render(channel, reply)
        except discord.Forbidden as exc:
            raise ChatGone(str(exc)) from exc


async def run_discord(
    handle: Handle,
    token: str,
    *,
    max_photo_bytes: int,
    stop: asyncio.Event,
    senders: MutableMapping[str, Sender] | None = None,
) -> None:
    """Stay connected until ``stop`` is set; a failed login or network is retried with backoff."""
    delay = 5.0
    while not stop.is_set():
        client = discord.Client(intents=DiscordAdapter.intents())
        adapter = DiscordAdapter(handle, max_photo_bytes=max_photo_bytes, client=client)
        if senders is not None:
            senders[PLATFORM] = adapter
        runner = asyncio.create_task(client.start(token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        await client.close()
        if senders is not None:
            senders.pop(PLATFORM, None)
        stopper.cancel()
        if runner in done and runner.exception() is not None:
            log.error(
                "discord.start_failed",
                extra={"fields": {"error": type(runner.exception()).__name__, "retry_in": delay}},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 300.0)
        elif runner not in done:
            runner.cancel()
