"""The console chat: the same core as Telegram and Discord, spoken through stdin and stdout."""

from __future__ import annotations

import asyncio
import shlex
import sys
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlparse

from bot.i18n import t
from bot.messages import ChatKind, ChatRef, IncomingMessage, Photo, Reply, UserRef

PLATFORM = "console"
QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}


def as_path(text: str) -> Path | None:
    """The file a line names, as a terminal's drag-and-drop writes it, or None.

    Accepts plain paths, 'quoted' or "quoted" ones, backslash-escaped spaces and
    file:// URLs, so dropping a file on the terminal just works.
    """
    text = text.strip()
    if not text:
        return None
    raw = Path(text).expanduser()
    try:
        if raw.is_file():  # an unquoted path with spaces, as typed after /ocr
            return raw
    except OSError:
        return None
    if text.startswith("file://"):
        candidate = unquote(urlparse(text).path)
    else:
        try:
            parts = shlex.split(text)
        except ValueError:
            return None
        if len(parts) != 1:
            return None
        candidate = parts[0]
    path = Path(candidate).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:
        return None


class ConsoleChat:
    """Reads lines, turns each into an IncomingMessage and prints the replies."""

    def __init__(
        self,
        handle: Callable[[IncomingMessage], Awaitable[list[Reply]]],
        *,
        out_dir: Path,
        user: str = "me",
        chat: str = "console",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self._handle = handle
        self._out_dir = out_dir
        self._user = UserRef(PLATFORM, user, display_name=user, is_chat_admin=True)
        self._chat = ChatRef(PLATFORM, chat, kind=ChatKind.PRIVATE, title=chat)
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._images_written = 0
        self._posted = 0

    def _message(self, line: str) -> IncomingMessage:
        now = datetime.now(UTC)
        path = as_path(line)
        if path is not None:
            return self._photo_message(path, "", now)
        command, _, rest = line.partition(" ")
        if command.lower() == "/ocr" and rest.strip():
            path = as_path(rest)
            if path is not None:
                return self._photo_message(path, "/ocr", now)
        return IncomingMessage(chat=self._chat, user=self._user, text=line, received_at=now)

    def _photo_message(self, path: Path, caption: str, now: datetime) -> IncomingMessage:
        photo = Photo(data=path.read_bytes(), filename=path.name)
        return IncomingMessage(
            chat=self._chat, user=self._user, text=caption, photo=photo, received_at=now
        )

    async def send(self, chat: object, reply: Reply) -> str:
        """The scheduler's daily post, printed like any reply."""
        self._render(reply)
        self._posted += 1
        return f"console-{self._posted}"

    def _print(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()

    def _render(self, reply: Reply) -> None:
        if reply.text:
            for line in reply.text.splitlines():
                self._print(f"bot> {line}" if line else "bot>")
        if reply.image is not None:
            self._out_dir.mkdir(parents=True, exist_ok=True)
            self._images_written += 1
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            target = self._out_dir / f"{stamp}-{self._images_written:03d}-{reply.image.filename}"
            target.write_bytes(reply.image.data)
            self._print(f"bot> [image] {target}")
        if reply.document is not None:
            self._out_dir.mkdir(parents=True, exist_ok=True)
            target = self._out_dir / reply.document.filename
            target.write_bytes(reply.document.data)
            self._print(f"bot> [file] {target}")
        for button in reply.buttons:
            self._print(f"bot> [{button.label}] type: {button.action}")

    def _start_reader(self) -> asyncio.Queue[str]:
        """Read stdin on a daemon thread, so Ctrl-C never waits for a pending readline."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def pump() -> None:
            while True:
                line = self._stdin.readline()
                loop.call_soon_threadsafe(lines.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        return lines

    async def run(self) -> None:
        interactive = self._stdin.isatty()
        if interactive:
            self._print(t("console.intro"))
        lines = self._start_reader()
        while True:
            if interactive:
                self._stdout.write("you> ")
                self._stdout.flush()
            line = await lines.get()
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.lower() in QUIT_WORDS:
                break
            try:
                message = self._message(line)
            except OSError as exc:
                self._print("bot> " + t("console.unreadable_file", reason=exc.strerror or exc))
                continue
            for reply in await self._handle(message):
                self._render(reply)
