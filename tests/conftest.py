"""Shared fixtures: a real SQLite file per test, the real core, and a fake chat adapter."""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image, ImageDraw

from bot.core import Core, CoreConfig
from bot.messages import ChatKind, ChatRef, IncomingMessage, Photo, Reply, UserRef
from quizzes.hsk import load_vocabulary
from recognition.api import Grade
from storage import ImageStore, SqliteStorage, open_storage
from storage.protocols import ChatRecord

REPO = Path(__file__).resolve().parents[1]


async def add_chat(
    storage: SqliteStorage,
    external_id: str,
    *,
    platform: str = "fake",
    kind: str = "group",
    title: str | None = None,
    zone: str = "UTC",
    at: time = time(9, 0),
) -> ChatRecord:
    """A chat as the core creates one on its first message (English, daily post at ``at``)."""
    return await storage.chats.upsert(
        platform,
        external_id,
        kind=kind,
        title=external_id if title is None else title,
        default_timezone=zone,
        default_daily_time=at,
        default_language="en",
    )


def load_tool(name: str) -> ModuleType:
    """A script of tools/ as a module (tools/ is not a package), loaded once per run."""
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclasses look their module up while being defined.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def handwriting_png(size: int = 200, fmt: str = "PNG") -> bytes:
    """A few dark strokes on light paper: enough to be a valid photo of writing."""
    img = Image.new("L", (size, size), 235)
    draw = ImageDraw.Draw(img)
    draw.line([(size * 0.2, size * 0.3), (size * 0.8, size * 0.3)], fill=20, width=8)
    draw.line([(size * 0.5, size * 0.1), (size * 0.5, size * 0.9)], fill=20, width=8)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


class Clock:
    """A settable UTC clock for the core."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class ScriptedGrader:
    """Test double: returns the grades it is given, in order, and records what it saw."""

    def __init__(self, *grades: Grade) -> None:
        self.grades = list(grades)
        self.seen: list[tuple[int, str]] = []

    async def grade(self, image: bytes, target: str) -> Grade:
        self.seen.append((len(image), target))
        return self.grades.pop(0)


@dataclass
class FakeChat:
    """Drives the core the way an adapter would: one chat, any number of users."""

    core: Core
    chat: ChatRef
    user: UserRef
    clock: Clock
    sent: list[Reply] = field(default_factory=list)

    def as_user(self, user_id: str, name: str = "", admin: bool = False) -> FakeChat:
        user = UserRef(
            self.user.platform, user_id, display_name=name or user_id, is_chat_admin=admin
        )
        return FakeChat(self.core, self.chat, user, self.clock, self.sent)

    async def send(self, text: str = "", photo: bytes | None = None, **kw: object) -> list[Reply]:
        msg = IncomingMessage(
            chat=self.chat,
            user=self.user,
            text=text,
            photo=Photo(photo) if photo is not None else None,
            received_at=self.clock(),
            **kw,  # type: ignore[arg-type]
        )
        replies = await self.core.handle(msg)
        self.sent.extend(replies)
        return replies

    async def text(self, text: str = "", photo: bytes | None = None) -> str:
        """The text of all replies, joined: what a user would read."""
        return "\n".join(r.text for r in await self.send(text, photo))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 21, 10, 0, tzinfo=UTC))


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = await open_storage(tmp_path / "bot.sqlite3")
    yield store
    await store.close()


@pytest.fixture
def images(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "data")


@pytest.fixture
def make_core(storage: SqliteStorage, images: ImageStore, clock: Clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    def build(**kw: object) -> Core:
        config = CoreConfig(export_dir=tmp_path / "exports", **kw.pop("config", {}))  # type: ignore[arg-type]
        return Core(
            config=config,
            storage=storage,
            images=images,
            vocabulary=load_vocabulary(),
            clock=clock,
            **kw,  # type: ignore[arg-type]
        )

    return build


@pytest.fixture
def chat(make_core, clock: Clock) -> FakeChat:  # type: ignore[no-untyped-def]
    return FakeChat(
        core=make_core(),
        chat=ChatRef("fake", "chat-1", ChatKind.GROUP, "Class 1"),
        user=UserRef("fake", "u1", display_name="Alice"),
        clock=clock,
    )


@pytest.fixture
def private_chat(make_core, clock: Clock) -> FakeChat:  # type: ignore[no-untyped-def]
    return FakeChat(
        core=make_core(),
        chat=ChatRef("fake", "dm-u1", ChatKind.PRIVATE, "Alice"),
        user=UserRef("fake", "u1", display_name="Alice"),
        clock=clock,
    )
