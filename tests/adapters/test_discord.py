"""The Discord adapter with real discord.py objects on dpytest's simulated backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.ext.test as dpytest
import pytest

from bot.discord.adapter import DiscordAdapter, ReplyButtons
from bot.i18n import t
from bot.messages import Button
from storage import SqliteStorage
from tests.conftest import handwriting_png


@pytest.fixture
async def adapter(make_core, monkeypatch) -> AsyncIterator[DiscordAdapter]:  # type: ignore[no-untyped-def]
    # dpytest's attachments carry a local path as their URL; read it instead of the CDN.
    async def read_local(self: discord.Attachment, *, use_cached: bool = False) -> bytes:
        if str(self.url).endswith("missing.png"):
            raise discord.HTTPException(FakeResponse(), "gone")
        return Path(str(self.url)).read_bytes()

    monkeypatch.setattr(discord.Attachment, "read", read_local)
    # dpytest builds its fake members from the member cache, which needs every intent.
    client = discord.Client(intents=discord.Intents.all())
    adapter = DiscordAdapter(make_core().handle, max_photo_bytes=5_000_000, client=client)
    await client._async_setup_hook()
    dpytest.configure(client, members=2)
    yield adapter
    await dpytest.empty_queue()


class FakeResponse:
    status = 404
    reason = "Not Found"


async def sent_texts() -> list[str]:
    texts = []
    while not dpytest.sent_queue.empty():
        texts.append((await dpytest.sent_queue.get()).content)
    return texts


async def test_commands_in_a_server_are_answered(adapter: DiscordAdapter) -> None:
    await dpytest.message("!today")
    [reply] = await sent_texts()
    assert "Today's challenge" in reply
    await dpytest.message("/help")
    assert "/leaderboard" in (await sent_texts())[0]


async def test_ordinary_server_chatter_is_ignored(adapter: DiscordAdapter) -> None:
    await dpytest.message("good morning everyone")
    assert await sent_texts() == []


async def test_a_photo_is_stored_and_answered(
    adapter: DiscordAdapter, tmp_path: Path, storage: SqliteStorage
) -> None:
    photo = tmp_path / "answer.png"
    photo.write_bytes(handwriting_png())
    await dpytest.message("!today")
    await dpytest.message("", attachments=[photo])
    texts = await sent_texts()
    assert "your answer for today is saved" in texts[-1]
    [attempt] = await storage.attempts.pending()
    assert attempt.kind == "daily"


async def test_a_non_image_attachment_gets_a_clear_reply(
    adapter: DiscordAdapter, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    await dpytest.message("!today")
    await dpytest.message("", attachments=[notes])
    assert (await sent_texts())[-1] == t("photo.not_image")


async def test_admin_commands_follow_manage_guild(adapter: DiscordAdapter) -> None:
    await dpytest.message("!challenge set 好")
    assert (await sent_texts())[0] == t("errors.admin_only", command="/challenge")


async def test_forget_offers_a_confirmation_button(adapter: DiscordAdapter) -> None:
    await dpytest.message("!forget")
    message = await dpytest.sent_queue.get()
    assert "/forget confirm" in message.content
    view = ReplyButtons(adapter, (Button(t("forget.confirm_button"), "/forget confirm"),))
    [button] = view.children
    assert isinstance(button, discord.ui.Button) and button.label == t("forget.confirm_button")


async def test_a_failed_download_is_explained(adapter: DiscordAdapter, tmp_path: Path) -> None:
    await dpytest.message("!today")
    await dpytest.message("", attachments=[tmp_path / "missing.png"])
    assert (await sent_texts())[-1] == t("photo.download_failed")
