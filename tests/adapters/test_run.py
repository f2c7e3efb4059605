"""`hanzi-bot run` with both tokens: both adapters start, and one failing leaves the other up."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from bot.app import run_bot
from config import load_settings
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.test_telegram import ALICE, DM, TOKEN, fake, reply_to  # noqa: F401

DISCORD_TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GaBcDe.fakefakefakefakefakefakefakefakefakefake"


async def test_discord_down_does_not_take_telegram_down(
    fake: FakeTelegram,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = load_settings(
        {
            "HANZI_TELEGRAM_TOKEN": TOKEN,
            "HANZI_TELEGRAM_BASE_URL": fake.base_url,
            "HANZI_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
            # This machine has no route to discord.com, so its login fails like an outage.
            "HANZI_DISCORD_TOKEN": DISCORD_TOKEN,
            "HANZI_DATA_DIR": str(tmp_path / "data"),
            "HANZI_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        }
    )
    task = asyncio.create_task(run_bot(settings))
    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/today"))
    assert "Today's challenge" in answer.text
    for _ in range(100):
        if any(r.getMessage() == "discord.start_failed" for r in caplog.records):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the Discord failure was not logged")
    # Telegram keeps answering after Discord failed.
    answer = await reply_to(fake, fake.push_text(DM, ALICE, "/help"))
    assert "/leaderboard" in answer.text
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(task, 15) == 0
    logged = "\n".join(r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records)
    assert DISCORD_TOKEN not in logged and TOKEN not in logged
