"""Records and the small repository protocols the domain talks to, independent of the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    platform: str
    external_id: str
    display_name: str
    language: str


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: int
    platform: str
    external_id: str
    kind: str
    title: str
    timezone: str
    daily_time: time
    language: str
    daily_enabled: bool
    daily_channel: str | None
    active: bool
    next_target: str | None


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    id: int
    chat_id: int
    local_date: date
    target: str
    source: str
    prompt_message_id: str | None
    posted_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    user_id: int
    chat_id: int
    challenge_id: int | None
    kind: str
    target: str | None
    image_ref: str
    status: str
    verdict: str | None
    predicted: str | None
    confidence: float | None
    points: int
    received_at: datetime
    graded_at: datetime | None


@dataclass(frozen=True, slots=True)
class CorrectionRecord:
    id: int
    user_id: int
    attempt_id: int | None
    image_ref: str
    predicted: str | None
    label: str
    created_at: datetime
    exported_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserStats:
    attempts: int
    graded: int
    correct: int
    points: int
    items_practised: int


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    user_id: int
    display_name: str
    points: int


class UserRepository(Protocol):
    async def upsert(
        self, platform: str, external_id: str, display_name: str, language: str
    ) -> UserRecord: ...
    async def get(self, user_id: int) -> UserRecord | None: ...
    async def find(self, platform: str, external_id: str) -> UserRecord | None: ...


class ChatRepository(Protocol):
    async def upsert(
        self,
        platform: str,
        external_id: str,
        *,
        kind: str,
        title: str,
        default_timezone: str,
        default_daily_time: time,
        default_language: str,
    ) -> ChatRecord: ...
    async def get(self, chat_id: int) -> ChatRecord | None: ...
    async def update_settings(
        self,
        chat_id: int,
        *,
        timezone: str | None = None,
        daily_time: time | None = None,
        language: str | None = None,
        daily_enabled: bool | None = None,
        daily_channel: str | None = None,
    ) -> ChatRecord: ...
    async def set_active(self, chat_id: int, active: bool) -> None: ...
    async def set_next_target(self, chat_id: int, target: str | None) -> None: ...
    async def list_active(self) -> list[ChatRecord]: ...


class ChallengeRepository(Protocol):
    async def get_for_date(self, chat_id: int, local_date: date) -> ChallengeRecord | None: ...
    async def create(
        self, chat_id: int, local_date: date, target: str, source: str
    ) -> ChallengeRecord: ...
    async def mark_posted(self, challenge_id: int, message_id: str, at: datetime) -> None: ...
    async def targets_used(self, chat_id: int) -> list[str]: ...


class AttemptRepository(Protocol):
    async def add(
        self,
        *,
        user_id: int,
        chat_id: int,
        challenge_id: int | None,
        kind: str,
        target: str | None,
        image_ref: str,
        received_at: datetime,
    ) -> AttemptRecord: ...
    async def get(self, attempt_id: int) -> AttemptRecord | None: ...
    async def record_grade(
        self,
        attempt_id: int,
        *,
        verdict: str,
        predicted: str | None,
        confidence: float | None,
        points: int,
        graded_at: datetime,
    ) -> None: ...
    async def mark_failed(self, attempt_id: int, at: datetime) -> None: ...
    async def pending(self) -> list[AttemptRecord]: ...
    async def for_user(self, user_id: int, chat_id: int | None = None) -> list[AttemptRecord]: ...
    async def stats(self, user_id: int, chat_id: int | None = None) -> UserStats: ...
    async def leaderboard(
        self, chat_id: int, since: datetime | None = None, limit: int = 10
    ) -> list[LeaderboardRow]: ...


class CardRepository(Protocol):
    async def get(self, user_id: int, item: str) -> tuple[int, str] | None: ...
    async def save(self, user_id: int, item: str, due: datetime, card_json: str) -> int: ...
    async def log_review(
        self,
        card_id: int,
        attempt_id: int | None,
        rating: int,
        reviewed_at: datetime,
        log_json: str,
    ) -> None: ...
    async def due_items(self, user_id: int, now: datetime, limit: int = 20) -> list[str]: ...
    async def count(self, user_id: int) -> int: ...
    async def count_due(self, user_id: int, now: datetime) -> int: ...


class CorrectionRepository(Protocol):
    async def add(
        self,
        *,
        user_id: int,
        attempt_id: int | None,
        image_ref: str,
        predicted: str | None,
        label: str,
        created_at: datetime,
    ) -> CorrectionRecord: ...
    async def list(self, *, unexported_only: bool = False) -> list[CorrectionRecord]: ...
    async def mark_exported(self, ids: Sequence[int], at: datetime) -> None: ...


class AuditRepository(Protocol):
    async def record(
        self, *, actor_user_id: int | None, chat_id: int | None, action: str, detail: str
    ) -> None: ...
    async def recent(self, limit: int = 50) -> list[tuple[str, str, str]]: ...


class Storage(Protocol):
    """Everything the domain needs from persistence, grouped by aggregate."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def chats(self) -> ChatRepository: ...
    @property
    def challenges(self) -> ChallengeRepository: ...
    @property
    def attempts(self) -> AttemptRepository: ...
    @property
    def cards(self) -> CardRepository: ...
    @property
    def corrections(self) -> CorrectionRepository: ...
    @property
    def audit(self) -> AuditRepository: ...

    async def forget_user(self, user_id: int) -> list[str]:
        """Delete a user and everything of theirs; return image refs nobody uses any more."""
        ...

    async def close(self) -> None: ...
