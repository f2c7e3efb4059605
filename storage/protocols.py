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
    scores_json: str = "{}"
    model_version: str = ""
    hints: int = 0


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
    chat_id: int | None = None
    status: str = "pending"  # pending | accepted | rejected
    scores_json: str = "{}"
    model_version: str = ""
    reviewed_at: datetime | None = None


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
    rank: int = 0  # 1 + the number of people with more points: ties share a rank


@dataclass(frozen=True, slots=True)
class Board:
    """Which points a leaderboard adds up: one chat's (or everyone's, chat_id None) between
    two local dates inclusive (None: since the start)."""

    chat_id: int | None
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True, slots=True)
class Award:
    """Points for the first correct answer of a user's local day in a chat."""

    chat_id: int
    user_id: int
    local_date: date
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
    async def find(self, platform: str, external_id: str) -> ChatRecord | None: ...
    async def move(self, chat_id: int, new_external_id: str) -> bool:
        """Give a chat the platform's new id for it (a Telegram group that became a
        supergroup), keeping its scores; False if a chat with that id exists already."""
        ...


class ChallengeRepository(Protocol):
    async def get(self, challenge_id: int) -> ChallengeRecord | None: ...
    async def get_for_date(self, chat_id: int, local_date: date) -> ChallengeRecord | None: ...
    async def create(
        self, chat_id: int, local_date: date, target: str, source: str
    ) -> ChallengeRecord: ...
    async def mark_posted(self, challenge_id: int, message_id: str, at: datetime) -> None: ...
    async def claim_post(self, challenge_id: int, at: datetime) -> bool:
        """Take the right to post the challenge; False if someone already did."""
        ...

    async def release_post(self, challenge_id: int) -> None: ...
    async def find_by_prompt(self, chat_id: int, message_id: str) -> ChallengeRecord | None: ...
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
        graded_at: datetime,
        award: Award | None = None,
        scores_json: str = "{}",
        model_version: str = "",
        hints: int = 0,
    ) -> int:
        """Store the grade and, in the same transaction, the award if the day has not
        scored yet; returns the points actually awarded (0 when the day already had them)."""
        ...

    async def grant(self, attempt_id: int, verdict: str, award: Award | None) -> int:
        """Change a graded answer's verdict after review, awarding as record_grade does."""
        ...

    async def revoke(self, attempt_id: int, verdict: str, local_date: date) -> int:
        """Take back a correct answer's points (a reviewer agreed it was not the target);
        the day stays scored only if another answer of it is still correct. Returns the
        points taken back."""
        ...

    async def mark_failed(self, attempt_id: int, at: datetime) -> None: ...
    async def pending(self) -> list[AttemptRecord]: ...
    async def for_user(self, user_id: int, chat_id: int | None = None) -> list[AttemptRecord]: ...
    async def count_for_user(self, user_id: int) -> int: ...
    async def earlier_tries(
        self, *, user_id: int, chat_id: int, kind: str, target: str, since: datetime, before_id: int
    ) -> int:
        """How many answers of this kind to this target the user sent in the chat from
        ``since`` on, before the answer ``before_id``."""
        ...

    async def stats(self, user_id: int, chat_id: int | None = None) -> UserStats: ...
    async def for_challenge(self, challenge_id: int, user_id: int) -> list[AttemptRecord]: ...
    async def latest_graded(self, user_id: int, chat_id: int) -> AttemptRecord | None: ...
    async def item_outcomes(self, chat_id: int) -> dict[str, tuple[int, int]]:
        """Per target answered in the chat: (wrong or incomplete answers, graded answers)."""
        ...

    async def confirmed(
        self, *, since: datetime | None, chat_id: int | None, min_confidence: float
    ) -> list[AttemptRecord]:
        """Answers graded correct with high confidence and never disputed."""
        ...


class ScoreRepository(Protocol):
    async def correct_days(self, user_id: int, chat_id: int) -> list[date]: ...
    async def chats_with_days(self, user_id: int) -> list[int]:
        """The chats in which the user has scored on some day."""
        ...

    async def leaderboard(self, board: Board, limit: int = 10) -> list[LeaderboardRow]: ...
    async def rank(self, board: Board, user_id: int) -> LeaderboardRow | None: ...


class HintRepository(Protocol):
    async def add(
        self,
        *,
        user_id: int,
        chat_id: int,
        challenge_id: int | None,
        item: str,
        level: int,
        at: datetime,
    ) -> None: ...
    async def level(
        self, user_id: int, chat_id: int, challenge_id: int | None, item: str
    ) -> int: ...


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    user_id: int
    chat_id: int  # the private chat the reminders go to
    enabled: bool
    last_due_date: date | None
    last_streak_date: date | None


class ReminderRepository(Protocol):
    async def set(self, user_id: int, chat_id: int, enabled: bool) -> None: ...
    async def get(self, user_id: int) -> ReminderRecord | None: ...
    async def enabled(self) -> list[ReminderRecord]: ...
    async def mark(self, user_id: int, kind: str, day: date) -> bool:
        """Record that the ``kind`` ("due" or "streak") reminder of ``day`` is being sent;
        False if it already was (so two rounds never send it twice)."""
        ...


class PracticeRepository(Protocol):
    async def start(self, user_id: int, chat_id: int, item: str, at: datetime) -> None: ...
    async def current(self, user_id: int, chat_id: int) -> tuple[str, datetime] | None: ...
    async def finish(self, user_id: int, chat_id: int) -> None: ...


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
        chat_id: int | None = None,
        scores_json: str = "{}",
        model_version: str = "",
    ) -> CorrectionRecord: ...
    async def get(self, correction_id: int) -> CorrectionRecord | None: ...
    async def count_for_user(self, user_id: int) -> int: ...
    async def list(
        self,
        *,
        unexported_only: bool = False,
        status: str | None = None,
        chat_id: int | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[CorrectionRecord]: ...
    async def review(self, correction_id: int, status: str, reviewer: int, at: datetime) -> bool:
        """Accept or reject a pending correction; False if it was no longer pending."""
        ...

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
    def scores(self) -> ScoreRepository: ...
    @property
    def hints(self) -> HintRepository: ...
    @property
    def practice(self) -> PracticeRepository: ...
    @property
    def reminders(self) -> ReminderRepository: ...
    @property
    def audit(self) -> AuditRepository: ...

    async def forget_user(self, user_id: int) -> list[str]:
        """Delete a user and everything of theirs; return image refs nobody uses any more."""
        ...

    async def close(self) -> None: ...
