"""Posts each chat's daily challenge at its local time through whichever adapter serves it.

APScheduler only wakes us up; the database decides what is due and what was already posted,
so a restart, a second process, a time-zone change or a daylight-saving jump never posts a
day twice, and a post missed while the bot was down is made as soon as it is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.messages import Reply
from storage.protocols import ChatRecord

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

# How often due posts are looked for: a post comes at most this late.
DEFAULT_INTERVAL = timedelta(seconds=30)
# A pause between posts of one round, so a broadcast to many chats is spread out rather
# than tripping the platforms' flood limits (their libraries queue what is left).
DEFAULT_SPACING = 0.05


class Sender(Protocol):
    """What an adapter offers the scheduler: post a reply to a chat it serves."""

    async def send(self, chat: ChatRecord, reply: Reply) -> str:
        """Send, returning the platform's message id; raise if it could not be sent."""
        ...


class ChatGone(Exception):
    """The platform says the bot can no longer post in the chat (removed, blocked)."""


class PostLater(Exception):
    """The chat cannot take the post yet (a Discord server with no channel the bot may write
    in): the claim is given back without an error log, and later rounds try again. The
    adapter says why, once."""


class DailyPoster:
    """One round posts every due prompt; ``start`` runs rounds on an AsyncIOScheduler."""

    def __init__(
        self,
        core: Core,
        senders: MutableMapping[str, Sender],
        *,
        interval: timedelta = DEFAULT_INTERVAL,
        spacing: float = DEFAULT_SPACING,
    ) -> None:
        self._core = core
        # Adapters add themselves when connected and leave when they disconnect.
        self.senders = senders
        self._interval = interval
        self._spacing = spacing
        self._scheduler: AsyncIOScheduler | None = None
        self._round = asyncio.Lock()

    async def run_once(self) -> int:
        """Post what is due now; returns how many prompts were posted."""
        async with self._round:  # a slow round and the next tick never overlap
            posted = 0
            for chat in await self._core.storage.chats.list_active():
                sender = self.senders.get(chat.platform)
                if sender is None:
                    continue  # that platform is not connected; the post waits for it
                try:
                    posted += await self._post(chat, sender)
                except Exception:
                    # One chat's trouble never stops the others' posts.
                    log.exception("daily.failed", extra={"fields": {"chat": chat.id}})
            await self._remind()
            return posted

    async def _remind(self) -> None:
        for reminder in await self._core.due_reminders():
            sender = self.senders.get(reminder.chat.platform)
            if sender is None:
                continue
            try:
                await sender.send(reminder.chat, reminder.reply)
            except Exception:
                # A reminder is a courtesy: logged, not retried.
                log.warning(
                    "reminder.failed", exc_info=True, extra={"fields": {"chat": reminder.chat.id}}
                )

    async def _post(self, chat: ChatRecord, sender: Sender) -> int:
        claimed = await self._core.claim_daily_post(chat)
        if claimed is None:
            return 0
        challenge, reply = claimed
        try:
            message_id = await sender.send(chat, reply)
        except ChatGone:
            await self._core.daily_failed(challenge)
            await self._core.storage.chats.set_active(chat.id, False)
            log.info("daily.chat_gone", extra={"fields": {"chat": chat.id}})
            return 0
        except PostLater:
            await self._core.daily_failed(challenge)
            return 0
        except BaseException:
            # Not posted: give the claim back so the next round tries again.
            await self._core.daily_failed(challenge)
            raise
        await self._core.daily_posted(challenge, message_id)
        if self._spacing:
            await asyncio.sleep(self._spacing)
        return 1

    async def _tick(self) -> None:
        try:
            await self.run_once()
        except Exception:
            log.exception("daily.round_failed")

    def start(self) -> None:
        """Run a round now (posts missed while the bot was down) and then every interval."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self._interval.total_seconds()),
            id="daily-posts",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Start no more rounds, let one in progress finish its post, then stop.

        Shutting APScheduler's asyncio executor down cancels the jobs it is running, so
        it is paused first and shut down only once the round is over."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.pause()
        async with self._round:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
