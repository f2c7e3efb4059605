"""The Discord adapter's messages and daily posts, with real discord.py objects on dpytest's
simulated backend (slash commands and buttons: test_discord_slash.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as backend
import discord.ext.test.factories as factories
import pytest

import bot.discord.adapter as adapter_module
from bot.core import Core
from bot.discord.adapter import DiscordAdapter, run_discord, split_text
from bot.i18n import t
from bot.messages import IncomingMessage, Reply
from bot.scheduler import DailyPoster
from recognition.api import Grade, Verdict
from storage import SqliteStorage
from tests.conftest import ScriptedGrader, add_chat, handwriting_png


@dataclass
class Server:
    """One simulated Discord server: the adapter on its client, and the core behind it."""

    adapter: DiscordAdapter
    core: Core
    guild: discord.Guild
    channels: list[discord.TextChannel]
    members: list[discord.Member]

    @property
    def client(self) -> discord.Client:
        return self.adapter.client

    @property
    def everyone(self) -> discord.Role:
        """The role every member has, the bot included (dpytest ignores per-member overrides)."""
        return self.guild.default_role

    @property
    def me(self) -> discord.Member:
        assert self.guild.me is not None
        return self.guild.me

    async def post(
        self,
        content: str = "",
        *,
        channel: int = 0,
        member: int = 0,
        attachment: Path | None = None,
        reply_to: discord.Message | None = None,
    ) -> None:
        """A member's message, as the gateway would deliver it (with the replied-to message)."""
        where = self.channels[channel]
        data = factories.make_message_dict(
            where,
            self.members[member],
            content=content,
            attachments=[backend.make_attachment(attachment)] if attachment else [],
            mentions=backend.find_user_mentions(content, self.guild),
        )
        if reply_to is not None:
            data["type"] = 19  # a reply
            data["message_reference"] = {
                "message_id": reply_to.id,
                "channel_id": where.id,
                "guild_id": self.guild.id,
            }
            data["referenced_message"] = factories.dict_from_message(reply_to)
        backend.get_state().parse_message_create(data)
        await dpytest.run_all_events()

    async def make_admin(self, member: int) -> None:
        role = backend.make_role(
            "Teachers", self.guild, permissions=discord.Permissions(manage_guild=True).value
        )
        await dpytest.add_role(self.members[member], role)


MakeServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def make_server(
    make_core, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[MakeServer]:  # type: ignore[no-untyped-def]
    # dpytest writes the files the bot sends into the working directory.
    monkeypatch.chdir(tmp_path)

    async def build(**core_options: object) -> Server:
        # dpytest builds its fake members from the member cache, which needs every intent.
        client = discord.Client(intents=discord.Intents.all())
        await client._async_setup_hook()
        dpytest.configure(client, members=2, text_channels=2, voice_channels=0)
        core = make_core(**core_options)
        # Built after dpytest replaced the client's connection state, which holds the buttons.
        adapter = DiscordAdapter(core.handle, max_photo_bytes=5_000_000, client=client)
        config = dpytest.get_config()
        return Server(adapter, core, config.guilds[0], config.channels, config.members)

    yield build
    await dpytest.empty_queue()


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server()


async def sent() -> list[discord.Message]:
    messages = []
    while not dpytest.sent_queue.empty():
        messages.append(await dpytest.sent_queue.get())
    return messages


async def sent_texts() -> list[str]:
    return [message.content for message in await sent()]


def photo_file(tmp_path: Path, name: str = "answer.png", size: int = 200) -> Path:
    path = tmp_path / name
    path.write_bytes(handwriting_png(size))
    return path


async def test_commands_in_a_server_are_answered(server: Server) -> None:
    await server.post("!today")
    [reply] = await sent_texts()
    assert "Today's challenge" in reply
    await server.post("/help")
    assert "/leaderboard" in (await sent_texts())[0]


async def test_ordinary_server_chatter_and_photos_are_ignored(
    server: Server, tmp_path: Path
) -> None:
    await server.post("good morning everyone")
    await server.post("look at my cat", attachment=photo_file(tmp_path))
    assert await sent_texts() == []


async def test_a_server_is_one_chat_across_its_channels(
    server: Server, storage: SqliteStorage
) -> None:
    await server.post("!today", channel=0)
    await server.post("!today", channel=1, member=1)
    first, second = await sent_texts()
    assert first == second  # one challenge for the whole server
    [chat] = await storage.chats.list_active()
    assert (chat.external_id, chat.kind, chat.title) == (
        str(server.guild.id),
        "group",
        "Test Guild 0",
    )


async def test_a_photo_reply_to_the_daily_prompt_is_graded_with_a_picture(
    make_server: MakeServer, tmp_path: Path, storage: SqliteStorage
) -> None:
    server = await make_server(grader=ScriptedGrader(Grade(Verdict.CORRECT, None, 0.97)))
    await server.post("!today")  # the server becomes a chat the scheduler knows
    await sent()
    assert await DailyPoster(server.core, {"discord": server.adapter}, spacing=0).run_once() == 1
    [prompt] = await sent()
    await server.post(attachment=photo_file(tmp_path), reply_to=prompt, member=1)
    # dpytest drops the text of a message with files (test_discord_slash.py sees both).
    [verdict] = await sent()
    [picture] = verdict.attachments
    assert (await picture.read()).startswith(b"\x89PNG")
    user = await storage.users.find("discord", str(server.members[1].id))
    assert user is not None
    [attempt] = await storage.attempts.for_user(user.id)
    assert attempt.kind == "daily" and attempt.verdict == "correct"


async def test_a_photo_that_mentions_the_bot_is_an_answer(server: Server, tmp_path: Path) -> None:
    await server.post("!today")
    await sent()
    await server.post(f"<@{server.me.id}>", attachment=photo_file(tmp_path))
    assert "your answer for today is saved" in (await sent_texts())[-1]


async def test_a_photo_in_a_dm_is_an_answer(server: Server, tmp_path: Path) -> None:
    dm = await server.members[0].create_dm()
    await dpytest.message("!today", channel=dm)
    await dpytest.message("", channel=dm, attachments=[str(photo_file(tmp_path))])
    assert "your answer for today is saved" in (await sent_texts())[-1]


async def test_a_non_image_attachment_gets_a_clear_reply(server: Server, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    await server.post("!today")
    await server.post(f"<@{server.me.id}>", attachment=notes)
    assert (await sent_texts())[-1] == t("photo.not_image")


async def test_a_failed_download_is_explained(server: Server, tmp_path: Path) -> None:
    dm = await server.members[0].create_dm()
    await dpytest.message("", channel=dm, attachments=[str(tmp_path / "missing.png")])
    assert (await sent_texts())[-1] == t("photo.download_failed")


async def test_admin_commands_follow_manage_server(server: Server) -> None:
    await server.post("!challenge set 好")
    assert (await sent_texts())[0] == t("errors.admin_only", command="/challenge")
    await server.make_admin(0)
    await server.post("!challenge set 好")
    assert (await sent_texts())[0].startswith("Next challenge set: 好")


async def test_the_daily_prompt_goes_to_the_channel_the_admins_chose(
    server: Server, storage: SqliteStorage
) -> None:
    await server.make_admin(0)
    await server.post("!settings channel", channel=1)
    assert (await sent_texts()) == [
        t("settings.channel_set", channel=f"<#{server.channels[1].id}>")
    ]
    assert await DailyPoster(server.core, {"discord": server.adapter}, spacing=0).run_once() == 1
    [prompt] = await sent()
    assert prompt.channel == server.channels[1]
    assert "Today's challenge" in prompt.content
    [chat] = await storage.chats.list_active()
    assert await storage.challenges.find_by_prompt(chat.id, str(prompt.id)) is not None


async def test_a_chosen_channel_is_kept_to_until_it_is_deleted(server: Server) -> None:
    await server.make_admin(0)
    await server.post("!settings channel", channel=1)
    await sent()
    poster = DailyPoster(server.core, {"discord": server.adapter}, spacing=0)
    # The bot may no longer write there: no post elsewhere against the admins' choice.
    await dpytest.set_permission_overrides(server.everyone, server.channels[1], send_messages=False)
    assert await poster.run_once() == 0
    # The channel is gone: the server still gets its prompt, in the first writable channel.
    backend.delete_channel(server.channels[1])
    assert await poster.run_once() == 1
    assert (await sent())[0].channel == server.channels[0]


async def test_without_a_choice_the_prompt_goes_to_the_system_channel(server: Server) -> None:
    await server.post("!today", channel=0)
    await sent()
    # dpytest cannot make a server with a system channel (nor update one: its guild payload
    # is out of date), so the attribute a GUILD_UPDATE would set is set directly.
    server.guild._system_channel_id = server.channels[1].id
    assert await DailyPoster(server.core, {"discord": server.adapter}, spacing=0).run_once() == 1
    assert (await sent())[0].channel == server.channels[1]


async def test_else_to_the_first_channel_the_bot_may_write_in(server: Server) -> None:
    await server.post("!today", channel=0)
    await sent()
    await dpytest.set_permission_overrides(server.everyone, server.channels[0], send_messages=False)
    assert await DailyPoster(server.core, {"discord": server.adapter}, spacing=0).run_once() == 1
    assert (await sent())[0].channel == server.channels[1]


async def test_with_nowhere_to_write_the_post_waits_and_is_logged_once(
    server: Server, caplog: pytest.LogCaptureFixture, storage: SqliteStorage
) -> None:
    caplog.set_level(logging.INFO)
    await server.post("!today", channel=0)
    await sent()
    for channel in server.channels:
        await dpytest.set_permission_overrides(server.everyone, channel, send_messages=False)
    poster = DailyPoster(server.core, {"discord": server.adapter}, spacing=0)
    for _ in range(3):  # the scheduler's rounds, 30 s apart
        assert await poster.run_once() == 0
    events = [record.getMessage() for record in caplog.records]
    assert events.count("discord.daily_skipped") == 1
    assert "daily.failed" not in events
    assert len(await storage.chats.list_active()) == 1  # the bot was not removed
    # Once the bot may write again, the post is made.
    await dpytest.set_permission_overrides(server.everyone, server.channels[1], send_messages=True)
    assert await poster.run_once() == 1


async def test_a_private_chat_gets_its_daily_prompt_in_the_dm(server: Server) -> None:
    dm = await server.members[0].create_dm()
    await dpytest.message("!settings", channel=dm)
    await sent()
    assert await DailyPoster(server.core, {"discord": server.adapter}, spacing=0).run_once() == 1
    [prompt] = await sent()
    assert prompt.channel == dm and "Today's challenge" in prompt.content


async def test_a_server_that_removed_the_bot_stops_getting_posts(
    server: Server, storage: SqliteStorage
) -> None:
    # A server the client is not in, and a chat keyed by a channel (from before a server
    # was one chat): both end, so no server gets two prompts a day.
    for external_id in ("123456789", str(server.channels[0].id)):
        await add_chat(storage, external_id, platform="discord", title="gone")
    poster = DailyPoster(server.core, {"discord": server.adapter}, spacing=0)
    assert await poster.run_once() == 0
    assert await storage.chats.list_active() == []


def test_long_texts_are_split_at_line_breaks() -> None:
    text = "\n".join(f"line {n:04d} " + "x" * 80 for n in range(60))
    pieces = split_text(text)
    assert all(len(piece) <= 2000 for piece in pieces) and len(pieces) == 3
    assert "\n".join(pieces) == text
    assert split_text("y" * 4500) == ["y" * 2000, "y" * 2000, "y" * 500]


async def test_the_adapter_takes_daily_posts_once_connected(make_core) -> None:  # type: ignore[no-untyped-def]
    client = discord.Client(intents=discord.Intents.all())
    await client._async_setup_hook()
    dpytest.configure(client)
    senders: dict[str, object] = {}
    adapter = DiscordAdapter(
        make_core().handle,
        max_photo_bytes=1,
        client=client,
        senders=senders,  # type: ignore[arg-type]
    )
    assert senders == {}  # before READY the client does not know its servers yet
    client.dispatch("ready")
    await dpytest.run_all_events()
    assert senders == {"discord": adapter}


async def test_without_the_message_content_intent_it_runs_on_slash_commands(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    intents: list[bool] = []

    async def start(client: discord.Client, adapter: DiscordAdapter, token: str) -> None:
        intents.append(client.intents.message_content)
        if len(intents) == 1:
            # What discord.py raises when the developer portal has not granted the intent.
            raise discord.PrivilegedIntentsRequired(None)
        stop.set()
        await asyncio.Event().wait()  # connected until stopped

    async def handle(message: IncomingMessage) -> list[Reply]:
        return []

    monkeypatch.setattr(adapter_module, "_start", start)
    await asyncio.wait_for(run_discord(handle, "token", max_photo_bytes=1, stop=stop), 10)
    assert intents == [True, False]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.discord.adapter"] == [
        "discord.message_content_not_granted"
    ]
