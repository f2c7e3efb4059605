"""Webhook mode: Telegram posts updates to our port, with the secret given to setWebhook."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core import Core
from bot.telegram.adapter import ALLOWED_UPDATES, run_telegram
from bot.telegram.webhook import DEFAULT_LISTEN, DEFAULT_PORT, SECRET_HEADER, WebhookConfig
from config import load_settings
from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.test_telegram import (  # noqa: F401
    ALICE,
    DM,
    TOKEN,
    fake,
    settings_for,
)

MakeCore = Callable[..., Core]
HOOK_URL = "https://bot.example.org/telegram/hook-7f3a"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def webhook_bot(
    fake: FakeTelegram,  # noqa: F811
    core: Core,
    tmp_path: Path,
    config: WebhookConfig,
) -> AsyncIterator[str]:
    """run_telegram in webhook mode; yields the local address Telegram would post to."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_telegram(core, settings_for(fake, tmp_path), stop, webhook=config)
    )
    await fake.wait_for("setWebhook")
    try:
        yield f"http://127.0.0.1:{config.port}{config.path}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def post(url: str, update: dict[str, object] | bytes, secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    body: dict[str, Any] = {"data": update} if isinstance(update, bytes) else {"json": update}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers=headers, **body) as response,
    ):
        return response.status


async def test_updates_posted_with_the_secret_are_answered(
    fake: FakeTelegram,  # noqa: F811
    make_core: MakeCore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    config = WebhookConfig(HOOK_URL, listen="127.0.0.1", port=free_port(), secret="s3cret-token")
    async with webhook_bot(fake, make_core(), tmp_path, config) as url:
        [registered] = fake.calls_to("setWebhook")
        assert registered.params["url"] == HOOK_URL
        assert registered.params["secret_token"] == "s3cret-token"
        assert registered.json("allowed_updates") == list(ALLOWED_UPDATES)

        update = {"update_id": 1, "message": fake.text_message(DM, ALICE, "/help")}
        assert await post(url, update, None) == 403
        assert await post(url, update, "a guess") == 403
        assert await post(url, b"{not json", "s3cret-token") == 400
        assert await post(url, {"message": {}}, "s3cret-token") == 400
        assert fake.calls_to("sendMessage") == []

        assert await post(url, update, "s3cret-token") == 200
        [answer] = await fake.wait_for("sendMessage")
        assert answer.chat_id == DM.id and "/leaderboard" in answer.text
    assert fake.calls_to("getUpdates") == []  # no polling beside the webhook
    assert "telegram.webhook_refused" in caplog.text
    assert "s3cret-token" not in caplog.text
    # Stopped: nothing listens any more.
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(url, update, "s3cret-token")


async def test_without_a_configured_secret_a_random_one_is_used(
    fake: FakeTelegram,  # noqa: F811
    make_core: MakeCore,
    tmp_path: Path,
) -> None:
    config = WebhookConfig(HOOK_URL, listen="127.0.0.1", port=free_port())
    async with webhook_bot(fake, make_core(), tmp_path, config) as url:
        secret = fake.calls_to("setWebhook")[0].params["secret_token"]
        assert len(secret) >= 32
        update = {"update_id": 1, "message": fake.text_message(DM, ALICE, "/today")}
        assert await post(url, update, "") == 403
        assert await post(url, update, secret) == 200
        [answer] = await fake.wait_for("sendMessage")
    assert "Today's challenge" in answer.text


async def test_a_busy_port_is_one_log_line_and_retried(
    fake: FakeTelegram,  # noqa: F811
    make_core: MakeCore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = WebhookConfig(HOOK_URL, listen="127.0.0.1", port=port)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_telegram(
                make_core(), settings_for(fake, tmp_path), stop, webhook=config, first_retry=0.05
            )
        )
        for _ in range(200):
            if sum(r.getMessage() == "telegram.start_failed" for r in caplog.records) >= 2:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 5)
    [first, *_] = [r for r in caplog.records if r.getMessage() == "telegram.start_failed"]
    assert first.fields["reason"].startswith("cannot listen for the webhook")  # type: ignore[attr-defined]
    assert first.exc_info is None
    assert fake.calls_to("setWebhook") == []


def test_the_webhook_is_configured_from_the_settings() -> None:
    assert WebhookConfig.from_settings(load_settings({})) is None
    settings = load_settings({"HANZI_TELEGRAM_WEBHOOK_URL": HOOK_URL})
    config = WebhookConfig.from_settings(settings)
    assert config == WebhookConfig(HOOK_URL, DEFAULT_LISTEN, DEFAULT_PORT, "")
    assert config.path == "/telegram/hook-7f3a"
    # Settings for the listen address, port and secret are read once they exist.
    extended = settings.model_copy(
        update={
            "telegram_webhook_listen": "127.0.0.1",
            "telegram_webhook_port": 8080,
            "telegram_webhook_secret": "abc",
        }
    )
    assert WebhookConfig.from_settings(extended) == WebhookConfig(
        HOOK_URL, "127.0.0.1", 8080, "abc"
    )
    assert WebhookConfig("https://example.org").path == "/"
