"""The composition root: reads settings, opens storage, builds the core and starts the adapters."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core import Core, CoreConfig
from bot.scheduler import DailyPoster, Sender
from config import Settings
from quizzes.hsk import load_vocabulary
from quizzes.strokes import StrokeData, load_strokes
from recognition.charmodel import CharModel, load_second_opinion
from recognition.grading import CharacterGrader
from recognition.lines import LineOCR, LineOCRReader, LineRecognizer
from recognition.ppocr import PPOCRRecognizer, line_reader_dir
from recognition.runtime import ModelLoadError, default_threads
from recognition.seedline import SeedLineRecognizer
from storage import ImageStore, SqliteStorage, open_storage

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    storage: SqliteStorage
    images: ImageStore
    core: Core
    # Adapters register here while connected; the daily poster posts through them.
    senders: dict[str, Sender] = field(default_factory=dict)


def pseudonym_key(data_dir: Path) -> bytes:
    """This installation's secret for pseudonymous ids in exports, made on first use."""
    path = data_dir / "pseudonym.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def core_config(settings: Settings) -> CoreConfig:
    return CoreConfig(
        default_timezone=settings.timezone,
        default_daily_time=settings.daily_time,
        default_language=settings.language,
        max_photo_bytes=settings.max_photo_bytes,
        operator_ids=settings.admin_ids,
        export_dir=settings.data_dir / "exports",
        pseudonym_key=pseudonym_key(settings.data_dir),
    )


@asynccontextmanager
async def build_app(settings: Settings) -> AsyncIterator[App]:
    """Everything long-lived, built once, closed on the way out."""
    storage = await open_storage(settings.database_path)
    # One compiled PP-OCRv6 small recognizer reads text lines and is one of the character
    # grader's second opinions.
    recognizer = load_recognizer(settings)
    grader = load_grader(settings, recognizer)
    reader = load_reader(settings, recognizer)
    try:
        images = ImageStore(settings.data_dir)
        core = Core(
            config=core_config(settings),
            storage=storage,
            images=images,
            vocabulary=load_vocabulary(),
            grader=grader,
            reader=reader,
            strokes=_strokes(settings),
        )
        pending = await storage.attempts.pending()
        log.info(
            "app.started",
            extra={"fields": {"database": str(settings.database_path), "pending": len(pending)}},
        )
        app = App(settings=settings, storage=storage, images=images, core=core)
        poster = DailyPoster(core, app.senders)
        poster.start()
        try:
            yield app
        finally:
            await poster.stop()
    finally:
        if grader is not None:
            # Finishes grading what was received before the database closes.
            await grader.close()
        if reader is not None:
            await reader.close()
        await storage.close()
        log.info("app.stopped")


def _strokes(settings: Settings) -> StrokeData | None:
    try:
        return load_strokes(settings.model_dir)
    except (OSError, ValueError) as exc:
        # Hints and answer pictures say they are unavailable; grading still works.
        log.warning("strokes.unavailable", extra={"fields": {"why": str(exc)}})
        return None


def load_recognizer(settings: Settings) -> PPOCRRecognizer | None:
    try:
        return PPOCRRecognizer(line_reader_dir(settings.model_dir / "ppocr"))
    except (ModelLoadError, OSError, ValueError) as exc:
        log.warning("recognizer.unavailable", extra={"fields": {"why": str(exc)}})
        return None


def load_grader(
    settings: Settings, recognizer: PPOCRRecognizer | None = None
) -> CharacterGrader | None:
    """The character model, compiled once for the whole process; None if it is missing."""
    model_dir = settings.model_dir / "char"
    # The readers the model asks for (model.json fusion.readers); the text-line OCR's
    # recognizer is shared rather than compiled twice when it is one of them.
    shared = {recognizer.model_dir: recognizer} if recognizer is not None else {}
    try:
        second = load_second_opinion(model_dir, shared=shared)
    except (ModelLoadError, OSError, ValueError) as exc:
        log.warning("recognition.second_opinion_unavailable", extra={"fields": {"why": str(exc)}})
        second = None
    try:
        model = CharModel(model_dir, second_opinion=second, processes=default_threads())
    except ModelLoadError as exc:
        log.warning("recognition.unavailable", extra={"fields": {"why": str(exc)}})
        return None
    log.info(
        "recognition.loaded",
        extra={
            "fields": {
                "model": str(model_dir),
                "characters": len(model.charset),
                "second_opinion": ",".join(model.fusion.readers)
                if model.fusion is not None and model.second is not None
                else "none",
            }
        },
    )
    grader = CharacterGrader(model)
    grader.start_warm_up()
    return grader


def load_reader(
    settings: Settings, recognizer: PPOCRRecognizer | None = None
) -> LineOCRReader | None:
    """The text-line OCR models (PP-OCRv4's detector, PP-OCRv6 small's recognizer; the
    user's seed line model as the recognizer when HANZI_LINE_MODEL and HANZI_LINE_CHARSET
    are set), compiled once; None if missing."""
    model_dir = settings.model_dir / "ppocr"
    line_recognizer: LineRecognizer | None = recognizer
    try:
        if settings.line_model is not None and settings.line_charset is not None:
            # The user's seed model reads the lines; the grader keeps PP-OCR's recognizer.
            line_recognizer = SeedLineRecognizer(settings.line_model, settings.line_charset)
        ocr = LineOCR(model_dir, recognizer=line_recognizer)
    except ModelLoadError as exc:
        log.warning("ocr.unavailable", extra={"fields": {"why": str(exc)}})
        return None
    lines = settings.line_model or line_reader_dir(model_dir)
    log.info("ocr.loaded", extra={"fields": {"model": str(model_dir), "lines": str(lines)}})
    return LineOCRReader(ocr)


async def run_console(settings: Settings, *, user: str = "me", chat: str = "console") -> None:
    from bot.console import ConsoleChat

    async with build_app(settings) as app:
        console = ConsoleChat(
            app.core.handle, out_dir=settings.data_dir / "console-out", user=user, chat=chat
        )
        app.senders["console"] = console
        try:
            await console.run()
        finally:
            app.senders.pop("console", None)


async def run_bot(settings: Settings) -> int:
    """Start every adapter that has credentials, together; the console when none has.

    Returns 0 after a clean stop (SIGINT/SIGTERM). Each adapter retries its own
    connection, so one platform being down never takes the other with it.
    """
    if settings.telegram_token is None and settings.discord_token is None:
        log.info("app.console", extra={"fields": {"reason": "no chat tokens configured"}})
        await run_console(settings)
        return 0

    async with build_app(settings) as app:
        stop = asyncio.Event()
        adapters: list[Coroutine[Any, Any, None]] = []
        # Adapters are imported only here: the console never loads telegram or discord.
        if settings.telegram_token is not None:
            from bot.telegram import run_telegram

            adapters.append(run_telegram(app.core, settings, stop, senders=app.senders))
        if settings.discord_token is not None:
            from bot.discord import run_discord

            adapters.append(
                run_discord(
                    app.core.handle,
                    settings.discord_token.get_secret_value(),
                    max_photo_bytes=settings.max_photo_bytes,
                    stop=stop,
                    senders=app.senders,
                    sync_guild=settings.discord_dev_guild,
                )
            )
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for signum in signals:
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        try:
            await asyncio.gather(*adapters)
        finally:
            for signum in signals:
                with suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
    return 0
