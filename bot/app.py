"""The composition root: reads settings, opens storage, builds the core and starts the adapters."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from bot.core import Core, CoreConfig
from config import Settings
from quizzes.hsk import load_vocabulary
from storage import ImageStore, SqliteStorage, open_storage

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    storage: SqliteStorage
    images: ImageStore
    core: Core


def core_config(settings: Settings) -> CoreConfig:
    return CoreConfig(
        default_timezone=settings.timezone,
        default_daily_time=settings.daily_time,
        default_language=settings.language,
        max_photo_bytes=settings.max_photo_bytes,
        operator_ids=settings.admin_ids,
        export_dir=settings.data_dir / "exports",
    )


@asynccontextmanager
async def build_app(settings: Settings) -> AsyncIterator[App]:
    """Everything long-lived, built once, closed on the way out."""
    storage = await open_storage(settings.database_path)
    try:
        images = ImageStore(settings.data_dir)
        core = Core(
            config=core_config(settings),
            storage=storage,
            images=images,
            vocabulary=load_vocabulary(),
        )
        pending = await storage.attempts.pending()
        log.info(
            "app.started",
            extra={"fields": {"database": str(settings.database_path), "pending": len(pending)}},
        )
        yield App(settings=settings, storage=storage, images=images, core=core)
    finally:
        await storage.close()
        log.info("app.stopped")


async def run_console(settings: Settings, *, user: str = "me", chat: str = "console") -> None:
    from bot.console import ConsoleChat

    async with build_app(settings) as app:
        console = ConsoleChat(
            app.core.handle, out_dir=settings.data_dir / "console-out", user=user, chat=chat
        )
        await console.run()


async def run_bot(settings: Settings) -> int:
    """Start every adapter that has credentials; the console when none has."""
    platforms = [
        name
        for name, token in (
            ("telegram", settings.telegram_token),
            ("discord", settings.discord_token),
        )
        if token is not None
    ]
    if not platforms:
        log.info("app.console", extra={"fields": {"reason": "no chat tokens configured"}})
        await run_console(settings)
        return 0
    # The Telegram and Discord adapters are built in their own issue; until they land,
    # say so plainly instead of pretending to connect.
    for name in platforms:
        log.error("adapter.unavailable", extra={"fields": {"platform": name}})
    return 3


def install_signal_handlers(task: asyncio.Task[object]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, task.cancel)
