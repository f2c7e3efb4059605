"""Receives Telegram's webhook calls on a small aiohttp server and queues them for PTB."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

# Telegram sends the secret given to setWebhook in this header with every update.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_LISTEN = "0.0.0.0"
# One of the four ports Telegram delivers webhooks to, so it works without a reverse proxy.
DEFAULT_PORT = 8443
# An update is a few kilobytes; nothing legitimate comes near this.
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram posts updates (``url``) and where this process listens for them."""

    url: str
    listen: str = DEFAULT_LISTEN
    port: int = DEFAULT_PORT
    # Empty: a new random one on every start, which setWebhook hands to Telegram.
    secret: str = ""

    @property
    def path(self) -> str:
        """The path the server answers on: the URL's, as a reverse proxy passes it on."""
        return urlsplit(self.url).path or "/"

    @classmethod
    def from_settings(cls, settings: object) -> WebhookConfig | None:
        """The webhook settings (``telegram_webhook_url``, ``_listen``, ``_port``, ``_secret``),
        or None for long polling."""
        url = getattr(settings, "telegram_webhook_url", None)
        if not url:
            return None
        secret: Any = getattr(settings, "telegram_webhook_secret", None) or ""
        if hasattr(secret, "get_secret_value"):
            secret = secret.get_secret_value()
        return cls(
            url=str(url),
            listen=str(getattr(settings, "telegram_webhook_listen", None) or DEFAULT_LISTEN),
            port=int(getattr(settings, "telegram_webhook_port", None) or DEFAULT_PORT),
            secret=str(secret),
        )


def new_secret() -> str:
    # Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and -: exactly token_urlsafe's.
    return secrets.token_urlsafe(32)


class WebhookServer:
    """Checks each call's secret and puts the update on the application's queue.

    PTB's own webhook server needs tornado; aiohttp is already here (discord.py uses it), and
    this is the "custom webhook" setup PTB documents: the application only reads its queue.
    """

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], path: str, secret: str
    ) -> None:
        self._application = application
        self._path = path
        self._secret = secret.encode()
        self._runner: web.AppRunner | None = None

    async def start(self, listen: str, port: int) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self._path, self._receive)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, listen, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("telegram.webhook_listening", extra={"fields": {"listen": listen, "port": port}})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._secret):
            # Anyone can find the URL; only Telegram knows the secret.
            log.warning("telegram.webhook_refused", extra={"fields": {"remote": request.remote}})
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self._application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning(
                "telegram.webhook_bad_update", extra={"fields": {"error": type(exc).__name__}}
            )
            return web.Response(status=400)
        # Answered at once: grading a photo may take longer than Telegram waits for the
        # response before it sends the update again.
        await self._application.update_queue.put(update)
        return web.Response(text=json.dumps({"ok": True}), content_type="application/json")
