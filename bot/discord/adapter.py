"""Translates Discord messages, slash commands and button presses to IncomingMessage and renders
Replies back, in channels and as interaction responses."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import secrets
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from re import Match
from typing import Any

import discord

from bot.core import too_large_values
from bot.discord.slash import build_tree
from bot.i18n import t
from bot.messages import (
    Button,
    ChatKind,
    ChatRef,
    IncomingMessage,
    Photo,
    Reply,
    ReplyFile,
    ReplyImage,
    UserRef,
)
from bot.scheduler import ChatGone, PostLater, Sender
from storage.protocols import ChatRecord

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Discord's own limit on a message's content.
MAX_CONTENT = 2000
# Discord fails an interaction that is not answered within 3 seconds. A command the core has
# not answered by then is deferred ("thinking..."), and answered with follow-ups.
DEFER_AFTER = 2.0
# What a server without boosts (and a DM) accepts per file.
DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
# Replies echo what users wrote (names, OCR text): none of it may ping anyone.
NO_PINGS = discord.AllowedMentions.none()
# Discord's limit on a component's custom_id.
MAX_CUSTOM_ID = 100

Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]
Interaction = discord.Interaction[discord.Client]


class NoDailyChannel(PostLater):
    """A server has nowhere the bot may post its daily prompt. Not ChatGone: the bot is still a
    member, and the post is made once an admin picks a channel or fixes its permissions."""


# Buttons outlive the adapter that sent them (restarts); a press finds the live adapter here.
_ADAPTERS: weakref.WeakKeyDictionary[discord.Client, DiscordAdapter] = weakref.WeakKeyDictionary()


def chat_ref(guild: discord.Guild | None, guild_id: int | None, channel_id: int | None) -> ChatRef:
    """A server is one chat (one challenge, one leaderboard across its channels); a DM is its
    own private chat."""
    if guild_id is not None:
        title = (guild.name if guild is not None else "") or ""
        return ChatRef(PLATFORM, str(guild_id), ChatKind.GROUP, title)
    return ChatRef(PLATFORM, str(channel_id or ""), ChatKind.PRIVATE, "")


def user_ref(author: discord.User | discord.Member, *, admin: bool) -> UserRef:
    return UserRef(PLATFORM, str(author.id), display_name=author.display_name, is_chat_admin=admin)


def _language(locale: discord.Locale | None) -> str:
    return str(locale).split("-", 1)[0] if locale is not None else ""


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line breaks where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            chunks.append(current)
            joined = line
        current = joined
    chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"hanzi:(?P<index>[0-9]+):(?P<action>.*)",
):
    """A button whose action travels in its custom_id, so a press on a message sent before a
    restart still works. An action too long for the custom_id is kept by the adapter and a
    token travels instead; a token it no longer has gets a polite "expired"."""

    TOKEN = "#"

    def __init__(self, index: int, payload: str, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or "?",
                custom_id=f"hanzi:{index}:{payload}",
                style=discord.ButtonStyle.secondary,
            )
        )
        self.payload = payload

    @classmethod
    async def from_custom_id(
        cls,
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: Match[str],
        /,
    ) -> ActionButton:
        return cls(int(match["index"]), match["action"], getattr(item, "label", "") or "")

    async def callback(self, interaction: Interaction) -> None:
        adapter = _ADAPTERS.get(interaction.client)
        action = adapter.decode_action(self.payload) if adapter is not None else None
        if adapter is None or not action:
            # From before a restart, for an action too long to travel in the button itself.
            await interaction.response.send_message(
                t("buttons.expired"), ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        # A button under a message only its user sees (/forget) answers only them too.
        message = interaction.message
        private = message is not None and message.flags.ephemeral
        try:
            await adapter.run_interaction(interaction, action=action, ephemeral=private)
        except Exception as exc:
            await adapter.on_command_error(interaction, exc)


class ReplyButtons(discord.ui.View):
    """A reply's buttons; they never time out (see ActionButton)."""

    def __init__(self, adapter: DiscordAdapter, buttons: tuple[Button, ...]) -> None:
        super().__init__(timeout=None)
        for index, button in enumerate(buttons[:25]):  # Discord's limit per message
            self.add_item(
                ActionButton(index, adapter.encode_action(index, button.action), button.label)
            )


class DiscordAdapter:
    """Owns the discord.Client's events and command tree; the core never sees a discord type."""

    def __init__(
        self,
        handle: Handle,
        *,
        max_photo_bytes: int,
        client: discord.Client,
        senders: MutableMapping[str, Sender] | None = None,
        sync_guild: int | None = None,
    ) -> None:
        self._handle = handle
        self._max_photo_bytes = max_photo_bytes
        self.client = client
        self._senders = senders
        self._sync_guild = sync_guild
        self._actions: OrderedDict[str, str] = OrderedDict()
        self._counter = 0
        # Tokens of another run (before a restart) must not match this run's actions.
        self._run = secrets.token_hex(3)
        # (chat, reason, UTC day) of daily posts skipped and logged, so each is logged once a day.
        self._skipped: set[tuple[int, str, str]] = set()
        self.tree = build_tree(client, self)
        client.add_dynamic_items(ActionButton)
        client.event(self.on_message)
        client.event(self.on_ready)
        _ADAPTERS[client] = self

    @staticmethod
    def intents(*, message_content: bool = True) -> discord.Intents:
        intents = discord.Intents.default()
        # Privileged: needed to read "!today" and photo replies to the prompt in servers.
        # Slash commands work without it.
        intents.message_content = message_content
        return intents

    # -- start -------------------------------------------------------------------------

    async def sync_commands(self) -> None:
        """Publish the slash commands; a failure is logged and the bot runs on regardless."""
        try:
            if self._sync_guild is not None:
                # A development server sees changes at once; global ones take a while.
                guild = discord.Object(id=self._sync_guild)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except discord.HTTPException as exc:
            log.error("discord.sync_failed", extra={"fields": {"status": exc.status}})
            return
        log.info("discord.commands_synced", extra={"fields": {"count": len(synced)}})

    async def on_ready(self) -> None:
        # Only now does the client know every server it is in, which send() relies on.
        if self._senders is not None:
            self._senders[PLATFORM] = self
        log.info("discord.ready", extra={"fields": {"guilds": len(self.client.guilds)}})

    # -- messages ----------------------------------------------------------------------

    def _command_text(self, message: discord.Message) -> str:
        """Typed commands, the fallback to slash commands: "!today" (the Discord client turns
        a typed "/" into its command picker), also after a mention of the bot."""
        text = message.content.strip()
        me = self.client.user
        if me is not None:
            for mention in (f"<@{me.id}>", f"<@!{me.id}>"):
                if text.startswith(mention):
                    text = text[len(mention) :].strip()
        if text.startswith("!"):
            text = "/" + text[1:]
        return text

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        text = self._command_text(message)
        attachment = message.attachments[0] if message.attachments else None
        me = self.client.user
        reference = message.reference
        replied = reference.resolved if reference is not None else None
        to_bot = (
            isinstance(replied, discord.Message) and me is not None and replied.author.id == me.id
        )
        mentioned = me is not None and any(user.id == me.id for user in message.mentions)
        # In a server, a photo is an answer only when aimed at the bot: a reply to its prompt
        # or a mention. Everything else is the members' own conversation.
        aimed = attachment is not None and (to_bot or mentioned)
        if message.guild is not None and not text.startswith("/") and not aimed:
            return
        if text.split(maxsplit=1)[:1] == ["/answer"] and attachment is not None:
            text = ""  # "!answer" with a photo is what a bare photo means
        chat = chat_ref(
            message.guild, message.guild.id if message.guild else None, message.channel.id
        )
        admin = isinstance(message.author, discord.Member) and (
            message.author.guild_permissions.manage_guild
        )
        photo: Photo | None = None
        if attachment is not None:
            problem = self.attachment_problem(attachment)
            if problem is not None:
                await self._send(message.channel, {"content": problem}, reference=message)
                return
            photo = await self._download(attachment, chat)
            if photo is None:
                await self._send(
                    message.channel, {"content": t("photo.download_failed")}, reference=message
                )
                return
        incoming = IncomingMessage(
            chat=chat,
            user=user_ref(message.author, admin=bool(admin)),
            text=text,
            photo=photo,
            message_id=str(message.id),
            reply_to_prompt=to_bot,
            # The core looks the id up among its prompts, so any reply's target can be passed.
            reply_to_message_id=str(reference.message_id or "") if reference else "",
            channel_id=str(message.channel.id) if message.guild is not None else "",
        )
        if photo is not None:
            # One indicator lasts ~10 s, longer than grading takes; it is only a courtesy.
            with contextlib.suppress(discord.HTTPException):
                await message.channel.typing()
        replies = await self._handle(incoming)
        file_limit = message.guild.filesize_limit if message.guild else DEFAULT_FILE_LIMIT
        first = True
        for reply in replies:
            for kwargs in self.messages(reply, file_limit):
                # Only the first message threads under the user's, as Discord users expect.
                await self._send(message.channel, kwargs, reference=message if first else None)
                first = False

    def attachment_problem(self, attachment: discord.Attachment) -> str | None:
        """The reply to a file refused before downloading it: too large, or not a picture."""
        if attachment.size > self._max_photo_bytes:
            return t("photo.too_large", **too_large_values(attachment.size, self._max_photo_bytes))
        kind = (attachment.content_type or "").split(";", 1)[0].strip()
        if kind and not kind.startswith("image/"):
            return t("photo.not_image")
        return None  # an unknown type is left to the core, which looks at the bytes

    async def _download(self, attachment: discord.Attachment, chat: ChatRef) -> Photo | None:
        try:
            data = await attachment.read()
        except (discord.HTTPException, OSError):
            log.warning("discord.download_failed", extra={"fields": {"chat": chat.chat_id}})
            return None
        return Photo(
            data=data, filename=attachment.filename, mime_type=attachment.content_type or ""
        )

    # -- rendering ---------------------------------------------------------------------

    def messages(self, reply: Reply, file_limit: int) -> list[dict[str, Any]]:
        """The keyword arguments of the messages a Reply becomes: its text cut to Discord's
        length, the files and buttons with the last piece."""
        chunks = split_text(reply.text) if reply.text else []
        files: list[discord.File] = []
        attached: ReplyImage | ReplyFile | None
        for attached in (reply.image, reply.document):
            if attached is None:
                continue
            if len(attached.data) > file_limit:
                # Only an export gets this big; its text already names where it is kept.
                log.info("discord.file_too_large", extra={"fields": {"size": len(attached.data)}})
                chunks.append(t("export.too_big", size_mb=f"{len(attached.data) / 1e6:.1f}"))
                continue
            files.append(discord.File(io.BytesIO(attached.data), filename=attached.filename))
        pieces: list[dict[str, Any]] = [{"content": chunk} for chunk in chunks]
        last: dict[str, Any] = pieces[-1] if pieces else {}
        if files:
            last["files"] = files
        if reply.buttons:
            last["view"] = ReplyButtons(self, reply.buttons)
        if last and not pieces:
            pieces.append(last)
        return pieces

    async def _send(
        self,
        channel: discord.abc.Messageable,
        kwargs: dict[str, Any],
        *,
        reference: discord.Message | None = None,
    ) -> discord.Message:
        if reference is not None:
            kwargs = {**kwargs, "reference": reference.to_reference(fail_if_not_exists=False)}
        return await channel.send(**kwargs, allowed_mentions=NO_PINGS)

    async def render(self, channel: discord.abc.Messageable, reply: Reply) -> str:
        """Send ``reply`` to ``channel``; returns the id of its first message."""
        limit = DEFAULT_FILE_LIMIT
        if isinstance(channel, discord.abc.GuildChannel):
            limit = channel.guild.filesize_limit
        first = ""
        for kwargs in self.messages(reply, limit):
            sent = await self._send(channel, kwargs)
            first = first or str(sent.id)
        return first

    def encode_action(self, index: int, action: str) -> str:
        fits = len(f"hanzi:{index}:{action}") <= MAX_CUSTOM_ID
        if fits and not action.startswith(ActionButton.TOKEN):
            return action
        self._counter += 1
        token = f"{ActionButton.TOKEN}{self._run}.{self._counter}"
        self._actions[token] = action
        while len(self._actions) > 1024:
            self._actions.popitem(last=False)
        return token

    def decode_action(self, payload: str) -> str | None:
        if payload.startswith(ActionButton.TOKEN):
            return self._actions.get(payload)
        return payload

    # -- slash commands and buttons ----------------------------------------------------

    async def run_interaction(
        self,
        interaction: Interaction,
        *,
        text: str = "",
        action: str = "",
        attachment: discord.Attachment | None = None,
        slow: bool = False,
        ephemeral: bool = False,
    ) -> None:
        """One slash command or button press: to the core and back as the interaction's
        response and follow-ups. ``slow`` defers at once (export); a photo always does."""
        guild = interaction.guild
        chat = chat_ref(guild, interaction.guild_id, interaction.channel_id)
        admin = interaction.guild_id is not None and interaction.permissions.manage_guild
        response: discord.InteractionResponse[discord.Client] = interaction.response
        photo: Photo | None = None
        if attachment is not None:
            problem = self.attachment_problem(attachment)
            if problem is not None:
                await response.send_message(problem, ephemeral=True, allowed_mentions=NO_PINGS)
                return
            # Downloading and grading take longer than Discord's 3 seconds.
            await response.defer(thinking=True, ephemeral=ephemeral)
            photo = await self._download(attachment, chat)
            if photo is None:
                await interaction.followup.send(
                    t("photo.download_failed"), ephemeral=True, allowed_mentions=NO_PINGS
                )
                return
        elif slow:
            await response.defer(thinking=True, ephemeral=ephemeral)
        incoming = IncomingMessage(
            chat=chat,
            user=UserRef(
                PLATFORM,
                str(interaction.user.id),
                display_name=interaction.user.display_name,
                language=_language(interaction.locale),
                is_chat_admin=admin,
            ),
            text=text,
            photo=photo,
            action=action,
            message_id=str(interaction.id),
            channel_id=str(interaction.channel_id or "") if interaction.guild_id else "",
        )
        replies = await self._before_deadline(interaction, self._handle(incoming), ephemeral)
        messages = [
            kwargs
            for reply in replies
            for kwargs in self.messages(reply, interaction.filesize_limit)
        ]
        if not messages:
            # Nothing to say (a user already told to slow down): close the "thinking..." state.
            if not response.is_done():
                await response.defer(thinking=True, ephemeral=True)
            await interaction.delete_original_response()
            return
        for kwargs in messages:
            if response.is_done():
                await interaction.followup.send(
                    **kwargs, ephemeral=ephemeral, allowed_mentions=NO_PINGS
                )
            else:
                await response.send_message(
                    **kwargs, ephemeral=ephemeral, allowed_mentions=NO_PINGS
                )

    async def _before_deadline(
        self, interaction: Interaction, work: Awaitable[list[Reply]], ephemeral: bool
    ) -> list[Reply]:
        """Await ``work``; if it is still running near Discord's deadline, defer meanwhile."""
        task = asyncio.ensure_future(work)
        if not interaction.response.is_done():
            done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER)
            if not done:
                with contextlib.suppress(discord.HTTPException):
                    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
        return await task

    async def on_command_error(self, interaction: Interaction, error: Exception) -> None:
        """A slash command or button that failed in the adapter (the core answers its own
        errors): logged with its stack trace, and the user gets the usual apology."""
        command = interaction.command.name if interaction.command else "button"
        log.error(
            "discord.command_failed",
            exc_info=error,
            extra={"fields": {"command": command, "chat": interaction.guild_id or ""}},
        )
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(t("errors.internal"), ephemeral=True)
            else:
                await interaction.response.send_message(t("errors.internal"), ephemeral=True)

    # -- the daily post ----------------------------------------------------------------

    async def send(self, chat: ChatRecord, reply: Reply) -> str:
        """The scheduler's daily post: in a server to its chosen channel, else (see
        ``daily_channel``) where the server expects announcements; in a DM to the DM."""
        if chat.kind == ChatKind.PRIVATE.value:
            return await self._send_private(chat, reply)
        guild = self.client.get_guild(int(chat.external_id))
        if guild is None:
            # The client knows every server it is in once ready (the adapter registers as a
            # sender only then): this one removed the bot. A chat keyed by a channel, from
            # before a server was one chat, ends here too, so a server gets one prompt a day.
            raise ChatGone(f"not in server {chat.external_id}")
        if guild.unavailable:
            raise RuntimeError(f"server {guild.id} is unavailable (a Discord outage)")
        channel = self.daily_channel(guild, chat.daily_channel)
        if channel is None:
            raise self._skip(chat, "no_writable_channel" if not chat.daily_channel else "chosen")
        try:
            return await self.render(channel, reply)
        except discord.Forbidden as exc:
            # Permissions changed under us; the admins fix that, the bot is still there.
            raise self._skip(chat, "forbidden") from exc

    async def _send_private(self, chat: ChatRecord, reply: Reply) -> str:
        channel_id = int(chat.external_id)
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
            raise ChatGone(str(exc)) from exc  # the user closed their DMs to us

    def daily_channel(
        self, guild: discord.Guild, chosen: str | None
    ) -> discord.abc.Messageable | None:
        """Where a server's daily prompt goes.

        The channel an admin chose (``/settings channel``) while it exists; if the bot may not
        write there, nowhere (posting elsewhere would go against the admins' choice). With no
        choice (or the chosen one deleted): the server's system channel, where Discord itself
        greets new members so the server expects announcements, else the first text channel
        in the sidebar's order that the bot may write in.
        """
        me = guild.me
        if chosen and chosen.isdigit():
            channel = guild.get_channel_or_thread(int(chosen))
            if isinstance(channel, discord.abc.Messageable) and not isinstance(
                channel, discord.CategoryChannel | discord.ForumChannel
            ):
                return channel if _can_post(channel, me) else None
        for candidate in (guild.system_channel, *guild.text_channels):
            if candidate is not None and _can_post(candidate, me):
                return candidate
        return None

    def _skip(self, chat: ChatRecord, reason: str) -> NoDailyChannel:
        key = (chat.id, reason, datetime.now(UTC).date().isoformat())
        if key not in self._skipped:
            if len(self._skipped) > 10_000:
                self._skipped.clear()
            self._skipped.add(key)
            log.warning("discord.daily_skipped", extra={"fields": {"chat": chat.id, "why": reason}})
        return NoDailyChannel(f"chat {chat.id}: {reason}")


def _can_post(channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member) -> bool:
    perms = channel.permissions_for(me)
    may_send = (
        perms.send_messages_in_threads
        if isinstance(channel, discord.Thread)
        else perms.send_messages
    )
    return perms.view_channel and may_send


async def run_discord(
    handle: Handle,
    token: str,
    *,
    max_photo_bytes: int,
    stop: asyncio.Event,
    senders: MutableMapping[str, Sender] | None = None,
    sync_guild: int | None = None,
) -> None:
    """Stay connected until ``stop`` is set; a failed login or network is retried with backoff.

    Without the message content intent granted in the developer portal, Discord refuses the
    connection: the bot then reconnects without it, serving slash commands only."""
    delay = 5.0
    message_content = True
    while not stop.is_set():
        client = discord.Client(
            intents=DiscordAdapter.intents(message_content=message_content),
            allowed_mentions=NO_PINGS,
        )
        adapter = DiscordAdapter(
            handle,
            max_photo_bytes=max_photo_bytes,
            client=client,
            senders=senders,
            sync_guild=sync_guild,
        )
        runner = asyncio.create_task(_start(client, adapter, token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if senders is not None and senders.get(PLATFORM) is adapter:
            senders.pop(PLATFORM, None)
        await client.close()
        stopper.cancel()
        if runner not in done:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
            continue
        error = runner.exception()
        if isinstance(error, discord.PrivilegedIntentsRequired) and message_content:
            log.warning("discord.message_content_not_granted")
            message_content = False
            continue
        log.error(
            "discord.start_failed" if error is not None else "discord.disconnected",
            extra={"fields": {"error": type(error).__name__ if error else "", "retry_in": delay}},
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 300.0)


async def _start(client: discord.Client, adapter: DiscordAdapter, token: str) -> None:
    await client.login(token)
    await adapter.sync_commands()
    await client.connect()
