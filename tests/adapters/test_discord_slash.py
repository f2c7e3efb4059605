"""Slash commands and buttons end to end through real discord.py: interactions are parsed and
dispatched by the client's own CommandTree and view store, and answered over HTTP to a fake
Discord API on 127.0.0.1 that records every interaction response and follow-up.

dpytest simulates the gateway (the server, its channels and members) but not interactions,
so the interaction payloads are built here the way Discord sends them."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as backend
import pytest
from aiohttp import web

import bot.discord.adapter as adapter_module
from bot.core import Core
from bot.discord.adapter import DiscordAdapter
from bot.i18n import t
from bot.messages import Button, IncomingMessage, Reply
from recognition.api import Grade, TextLine, TextPage, Verdict
from storage import SqliteStorage
from tests.conftest import ScriptedGrader, handwriting_png

JSON = dict[str, Any]
APP_ID = 424242424242424242
ids = itertools.count(900_000_000_000_000_000)
# Discord's interaction callback types.
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
AUTOCOMPLETE_RESULT = 8
EPHEMERAL = 64
BOT_USER = {
    "id": str(APP_ID),
    "username": "hanzi",
    "discriminator": "0000",
    "avatar": None,
    "global_name": None,
    "bot": True,
}


@dataclass
class Sent:
    """One request the bot made to the fake API: an interaction response or a follow-up."""

    kind: str  # "callback", "followup", "delete" or "sync"
    token: str
    body: JSON
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def type(self) -> int:
        return int(self.body.get("type", 0))

    @property
    def message(self) -> JSON:
        """The message part: a follow-up's body, a callback's data."""
        return dict(self.body.get("data") or {}) if self.kind == "callback" else self.body

    @property
    def content(self) -> str:
        return str(self.message.get("content") or "")

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.message.get("flags") or 0) & EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        return [
            button["custom_id"]
            for row in self.message.get("components", [])
            for button in row.get("components", [])
        ]


class FakeDiscordAPI:
    """The HTTP side of interactions: responses, follow-ups (webhooks) and command sync."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.channels: dict[str, int] = {}  # interaction token -> channel id
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/v10/interactions/{id}/{token}/callback", self.callback)
        app.router.add_post("/api/v10/webhooks/{app}/{token}", self.followup)
        app.router.add_delete("/api/v10/webhooks/{app}/{token}/messages/@original", self.delete)
        app.router.add_get("/api/v10/users/@me", self.me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self.application)
        app.router.add_put("/api/v10/applications/{app}/commands", self.sync)
        app.router.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self.sync)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}/api/v10"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    async def _body(request: web.Request) -> tuple[JSON, dict[str, bytes]]:
        if request.content_type == "multipart/form-data":
            form = await request.post()
            files = {
                value.filename: value.file.read()
                for value in form.values()
                if isinstance(value, web.FileField)
            }
            return json.loads(str(form["payload_json"])), files
        return await request.json(), {}

    async def callback(self, request: web.Request) -> web.Response:
        body, files = await self._body(request)
        self.sent.append(Sent("callback", request.match_info["token"], body, files))
        kind = int(body["type"])
        interaction = {
            "id": request.match_info["id"],
            "type": 2,
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(
                int((body.get("data") or {}).get("flags") or 0) & EPHEMERAL
            ),
        }
        return reply_json({"interaction": interaction, "resource": {"type": kind}})

    async def followup(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        body, files = await self._body(request)
        self.sent.append(Sent("followup", token, body, files))
        return reply_json(self.message(token, body))

    async def delete(self, request: web.Request) -> web.Response:
        self.sent.append(Sent("delete", request.match_info["token"], {}))
        return web.Response(status=204)

    async def me(self, request: web.Request) -> web.Response:
        return reply_json(BOT_USER)

    async def application(self, request: web.Request) -> web.Response:
        return reply_json(
            {
                "id": str(APP_ID),
                "name": "hanzi",
                "icon": None,
                "description": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": BOT_USER,
                "summary": "",
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def sync(self, request: web.Request) -> web.Response:
        commands = await request.json()
        self.sent.append(Sent("sync", request.match_info.get("guild", ""), {"commands": commands}))
        return reply_json(
            [
                {**command, "id": str(next(ids)), "application_id": str(APP_ID), "version": "1"}
                for command in commands
            ]
        )

    def message(self, token: str, body: JSON) -> JSON:
        """A message as Discord returns it for a follow-up."""
        return {
            "id": str(next(ids)),
            "channel_id": str(self.channels.get(token, 0)),
            "type": 0,
            "content": body.get("content") or "",
            "author": BOT_USER,
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": "2026-11-21T10:00:00+00:00",
            "edited_timestamp": None,
            "flags": body.get("flags") or 0,
            "components": body.get("components") or [],
            "webhook_id": str(APP_ID),
        }

    def for_token(self, token: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.token == token]


def reply_json(data: object) -> web.Response:
    # discord.py parses a body only under exactly this content type, as Discord sends it.
    return web.Response(body=json.dumps(data).encode(), content_type="application/json")


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscordAPI]:
    fake = FakeDiscordAPI()
    await fake.start()
    # Every discord.py route (interaction responses and webhooks included) starts here.
    monkeypatch.setattr(discord.http.Route, "BASE", fake.base)
    yield fake
    await fake.stop()


@dataclass
class Server:
    """A dpytest server whose client answers interactions through the fake API."""

    api: FakeDiscordAPI
    adapter: DiscordAdapter
    core: Core
    guild: discord.Guild
    channels: list[discord.TextChannel]
    members: list[discord.Member]

    def payload(
        self,
        kind: int,
        data: JSON,
        *,
        member: int = 0,
        channel: int = 0,
        admin: bool = False,
        message: JSON | None = None,
        elsewhere: Server | None = None,
    ) -> JSON:
        """An INTERACTION_CREATE as Discord sends it, with the member's resolved permissions;
        ``elsewhere``: from that server's guild, channel and member instead of this one's."""
        origin = elsewhere or self
        guild_id = origin.guild.id
        where = origin.channels[channel]
        who = origin.members[member]
        permissions = discord.Permissions(view_channel=True, send_messages=True)
        permissions.manage_guild = admin
        token = f"token-{next(ids)}"
        self.api.channels[token] = where.id
        payload: JSON = {
            "id": str(next(ids)),
            "application_id": str(APP_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "channel_id": str(where.id),
            "channel": {
                "id": str(where.id),
                "type": 0,
                "guild_id": str(guild_id),
                "name": where.name,
                "position": where.position,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": {
                    "id": str(who.id),
                    "username": who.name,
                    "discriminator": "0001",
                    "avatar": None,
                    "global_name": None,
                },
                "nick": who.nick,
                "roles": [],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions.value),
            },
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str(discord.Permissions.text().value),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        return payload

    async def slash(
        self,
        name: str,
        *options: JSON,
        attachment: Path | None = None,
        content_type: str = "image/png",
        **kw: Any,
    ) -> str:
        """Run ``/name`` with ``options``; returns the interaction token."""
        data: JSON = {"id": str(next(ids)), "name": name, "type": 1, "options": list(options)}
        if attachment is not None:
            attachment_id = str(next(ids))
            data["options"].append({"type": 11, "name": "image", "value": attachment_id})
            size = attachment.stat().st_size if attachment.exists() else 1000
            data["resolved"] = {
                "attachments": {
                    attachment_id: {
                        "id": attachment_id,
                        "filename": attachment.name,
                        "size": size,
                        "url": attachment.absolute().as_uri(),
                        "proxy_url": attachment.absolute().as_uri(),
                        "content_type": content_type,
                    }
                }
            }
        return await self.dispatch(self.payload(2, data, **kw))

    async def press(self, custom_id: str, *, ephemeral: bool = False, **kw: Any) -> str:
        """Press a button with ``custom_id`` under a message of the bot."""
        # Discord sends the message the button is under, components and all.
        button = {"type": 2, "style": 2, "label": "button", "custom_id": custom_id}
        message = self.api.message(
            "",
            {
                "flags": EPHEMERAL if ephemeral else 0,
                "components": [{"type": 1, "components": [button]}],
            },
        )
        data = {"custom_id": custom_id, "component_type": 2}
        return await self.dispatch(self.payload(3, data, message=message, **kw))

    async def dispatch(self, payload: JSON) -> str:
        backend.get_state().parse_interaction_create(payload)  # type: ignore[arg-type]
        await settle()
        return str(payload["token"])

    def replies(self, token: str) -> list[Sent]:
        return self.api.for_token(token)


async def settle() -> None:
    """Wait for the tasks discord.py started for an interaction (command, button) to finish."""
    names = ("CommandTree-invoker", "discord-ui-")
    for _ in range(100):
        pending = [
            task
            for task in asyncio.all_tasks()
            if task.get_name().startswith(names) and not task.done()
        ]
        if not pending:
            return
        await asyncio.gather(*pending)
    raise AssertionError("interaction tasks kept starting")


MakeServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def make_server(
    make_core, api: FakeDiscordAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[MakeServer]:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # dpytest writes sent files into the working directory
    sessions: list[aiohttp.ClientSession] = []

    async def build(
        core: Core | None = None,
        wrap: Callable[[Core], Callable[[IncomingMessage], Awaitable[list[Reply]]]] | None = None,
        **core_options: Any,
    ) -> Server:
        client = discord.Client(intents=discord.Intents.all())
        await client._async_setup_hook()
        dpytest.configure(client, members=2, text_channels=2, voice_channels=0)
        # Interaction responses go over the HTTP session a logged-in client would have.
        session = aiohttp.ClientSession()
        sessions.append(session)
        client.http._HTTPClient__session = session  # type: ignore[attr-defined]
        core = core or make_core(**core_options)
        handle = wrap(core) if wrap else core.handle
        adapter = DiscordAdapter(handle, max_photo_bytes=5_000_000, client=client)
        config = dpytest.get_config()
        return Server(api, adapter, core, config.guilds[0], config.channels, config.members)

    yield build
    await dpytest.empty_queue()
    for session in sessions:
        await session.close()


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server()


def option(name: str, value: object, kind: int = 3) -> JSON:
    return {"type": kind, "name": name, "value": value}


def photo_file(tmp_path: Path, name: str = "answer.png") -> Path:
    path = tmp_path / name
    path.write_bytes(handwriting_png())
    return path


async def test_today_is_answered_at_once(server: Server) -> None:
    [reply] = server.replies(await server.slash("today"))
    assert (reply.kind, reply.type) == ("callback", CHANNEL_MESSAGE)
    assert "Today's challenge" in reply.content
    assert reply.custom_ids == ["hanzi:0:/hint"]  # the hint button, which outlives restarts


async def test_leaderboard_period_is_a_choice(make_server: MakeServer, tmp_path: Path) -> None:
    server = await make_server(grader=ScriptedGrader(Grade(Verdict.CORRECT, None, 0.97)))
    await server.slash("today")
    await server.slash("answer", attachment=photo_file(tmp_path))
    [reply] = server.replies(await server.slash("leaderboard", option("period", "week")))
    lines = reply.content.splitlines()
    assert lines[0] == t("leaderboard.header_week")
    assert lines[1].startswith(f"1. {server.members[0].display_name} - ")


async def test_a_photo_answer_is_deferred_then_graded_with_a_picture_and_a_button(
    make_server: MakeServer, tmp_path: Path
) -> None:
    server = await make_server(grader=ScriptedGrader(Grade(Verdict.CORRECT, None, 0.97)))
    await server.slash("today")
    token = await server.slash("answer", attachment=photo_file(tmp_path), member=1)
    deferred, verdict = server.replies(token)
    # Grading may take longer than Discord's 3 seconds: "thinking..." first, then the verdict.
    assert (deferred.kind, deferred.type) == ("callback", DEFERRED_CHANNEL_MESSAGE)
    assert verdict.kind == "followup"
    assert verdict.content.startswith("Correct!")
    [picture] = verdict.files.values()
    assert picture.startswith(b"\x89PNG")
    [button] = verdict.custom_ids
    assert button.startswith("hanzi:0:/wrong #")


async def test_the_bot_is_wrong_button_works_after_a_restart(
    make_server: MakeServer, tmp_path: Path, storage: SqliteStorage
) -> None:
    first = await make_server(grader=ScriptedGrader(Grade(Verdict.WRONG, "女", 0.8)))
    await first.slash("today")
    verdict = server_followups(first, await first.slash("answer", attachment=photo_file(tmp_path)))
    [button] = verdict[0].custom_ids
    assert button.startswith("hanzi:0:/wrong #")
    # A new process: a new client that never saw that message, over the same database.
    second = await make_server(core=first.core)
    token = await second.press(button, elsewhere=first)
    [reply] = second.replies(token)
    assert reply.content.startswith("Thanks! I noted that your photo shows")
    assert len(await storage.corrections.list()) == 1


def server_followups(server: Server, token: str) -> list[Sent]:
    return [sent for sent in server.replies(token) if sent.kind == "followup"]


async def test_a_long_action_travels_as_a_token_until_a_restart(
    make_server: MakeServer,
) -> None:
    first = await make_server()
    action = "/help " + "x" * 120  # too long for a custom_id
    [message] = first.adapter.messages(Reply(text="?", buttons=(Button("Help", action),)), 1000)
    [button] = message["view"].children
    assert len(button.custom_id) <= 100
    [reply] = first.replies(await first.press(button.custom_id))
    assert "/leaderboard" in reply.content
    second = await make_server(core=first.core)
    [expired] = second.replies(await second.press(button.custom_id, elsewhere=first))
    assert expired.content == t("buttons.expired") and expired.ephemeral


async def test_ocr_reads_the_attached_photo(make_server: MakeServer, tmp_path: Path) -> None:
    page = TextPage((TextLine("你好", 0.99, (), (0.99, 0.99)),), 400, 300)
    server = await make_server(reader=FakeReader(page))
    deferred, *answer = server.replies(await server.slash("ocr", attachment=photo_file(tmp_path)))
    assert deferred.type == DEFERRED_CHANNEL_MESSAGE
    assert all(sent.kind == "followup" for sent in answer)
    text = "\n".join(sent.content for sent in answer)
    assert t("ocr.header", count=1, plural="") in text and "nǐ hǎo" in text


async def test_a_file_that_is_not_an_image_is_refused_before_downloading(
    server: Server, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.pdf"  # never created: it must not be downloaded
    [reply] = server.replies(
        await server.slash("answer", attachment=notes, content_type="application/pdf")
    )
    assert (reply.type, reply.content, reply.ephemeral) == (
        CHANNEL_MESSAGE,
        t("photo.not_image"),
        True,
    )


async def test_a_non_image_without_a_type_is_judged_by_its_bytes(
    server: Server, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    await server.slash("today")
    _, reply = server.replies(await server.slash("answer", attachment=notes, content_type=""))
    assert reply.content == t("photo.not_image")


async def test_admin_commands_are_refused_to_members_and_hidden_from_them(
    server: Server,
) -> None:
    set_target = {"type": 1, "name": "set", "options": [option("hanzi", "好")]}
    [refused] = server.replies(await server.slash("challenge", set_target))
    assert refused.content == t("errors.admin_only", command="/challenge")
    [accepted] = server.replies(await server.slash("challenge", set_target, admin=True))
    assert accepted.content.startswith("Next challenge set: 好")
    published = {command.name: command for command in server.adapter.tree.get_commands()}
    for name in ("challenge", "review", "export"):
        permissions = published[name].default_permissions
        assert permissions is not None and permissions.manage_guild, name
    assert published["settings"].default_permissions is None  # members may look


async def test_settings_channel_picks_where_the_daily_prompt_goes(
    server: Server, storage: SqliteStorage
) -> None:
    target = server.channels[1]
    resolved = {
        "channels": {
            str(target.id): {
                "id": str(target.id),
                "name": target.name,
                "type": 0,
                "permissions": str(discord.Permissions.text().value),
                "parent_id": None,
            }
        }
    }
    data = {
        "id": str(next(ids)),
        "name": "settings",
        "type": 1,
        "options": [option("channel", str(target.id), kind=7)],
        "resolved": resolved,
    }
    [reply] = server.replies(await server.dispatch(server.payload(2, data, admin=True)))
    assert reply.content == t("settings.channel_set", channel=f"<#{target.id}>")
    [chat] = await storage.chats.list_active()
    assert chat.daily_channel == str(target.id)


async def test_the_time_zone_is_autocompleted(server: Server) -> None:
    data = {
        "id": str(next(ids)),
        "name": "settings",
        "type": 1,
        "options": [{"type": 3, "name": "tz", "value": "shangh", "focused": True}],
    }
    [reply] = server.replies(await server.dispatch(server.payload(4, data)))
    assert reply.type == AUTOCOMPLETE_RESULT
    assert [choice["value"] for choice in reply.body["data"]["choices"]] == ["Asia/Shanghai"]


async def test_forget_asks_only_the_user_and_their_press_deletes(server: Server) -> None:
    [question] = server.replies(await server.slash("forget"))
    assert question.ephemeral and question.custom_ids == ["hanzi:0:/forget confirm"]
    [done] = server.replies(await server.press("hanzi:0:/forget confirm", ephemeral=True))
    assert done.ephemeral and done.content == t("forget.nothing")


async def test_a_slow_answer_is_deferred_before_discords_deadline(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_module, "DEFER_AFTER", 0.05)

    def slow(core: Core) -> Callable[[IncomingMessage], Awaitable[list[Reply]]]:
        async def handle(message: IncomingMessage) -> list[Reply]:
            await asyncio.sleep(0.3)  # a busy database, say
            return await core.handle(message)

        return handle

    server = await make_server(wrap=slow)
    deferred, stats = server.replies(await server.slash("stats"))
    assert deferred.type == DEFERRED_CHANNEL_MESSAGE
    assert stats.kind == "followup" and stats.content.startswith("Your stats in this chat")


async def test_export_is_deferred_and_sends_the_zip_or_says_there_is_nothing(
    server: Server,
) -> None:
    deferred, reply = server.replies(await server.slash("export", admin=True))
    assert deferred.type == DEFERRED_CHANNEL_MESSAGE
    assert reply.content == t("export.nothing")


async def test_the_commands_are_synced_with_descriptions_and_permissions(
    api: FakeDiscordAPI,
) -> None:
    # A client of its own, logging in to the fake API: dpytest's refuses what it does not
    # simulate, command sync included.
    client = discord.Client(intents=discord.Intents.default())

    async def unused(message: IncomingMessage) -> list[Reply]:
        return []

    adapter = DiscordAdapter(unused, max_photo_bytes=1, client=client, sync_guild=77)
    await client.login("test-token")
    try:
        await adapter.sync_commands()
    finally:
        await client.close()
    [sync] = [sent for sent in api.sent if sent.kind == "sync"]
    assert sync.token == "77"  # the development server, where changes show at once
    commands = {command["name"]: command for command in sync.body["commands"]}
    assert set(commands) == {
        "help",
        "today",
        "answer",
        "ocr",
        "hint",
        "practice",
        "leaderboard",
        "stats",
        "wrong",
        "settings",
        "challenge",
        "review",
        "export",
        "remind",
        "forget",
    }
    assert all(0 < len(command["description"]) <= 100 for command in commands.values())
    # Every option is described for the user (Discord shows "..." otherwise).
    options = [o for c in commands.values() for o in c.get("options", []) if o["type"] != 1]
    assert options and all(o["description"] != "…" for o in options)
    assert commands["today"]["description"] == t("commands.today")
    manage_guild = discord.Permissions(manage_guild=True).value
    assert int(commands["export"]["default_member_permissions"]) == manage_guild
    assert commands["today"]["default_member_permissions"] is None
    [image] = commands["answer"]["options"]
    assert (image["name"], image["type"], image["required"]) == ("image", 11, True)
    [period] = commands["leaderboard"]["options"]
    assert [choice["value"] for choice in period["choices"]] == ["today", "week", "all", "global"]


class FakeReader:
    """The OCR service's interface, returning one page."""

    def __init__(self, page: TextPage) -> None:
        self.page = page

    async def read(self, image: bytes) -> TextPage:
        return self.page
