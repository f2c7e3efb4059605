"""Persistence: repository protocols, the SQLite implementation and the answer image store."""

from storage.images import ImageStore
from storage.protocols import (
    AttemptRecord,
    ChallengeRecord,
    ChatRecord,
    CorrectionRecord,
    LeaderboardRow,
    Storage,
    UserRecord,
    UserStats,
)
from storage.sqlite import SqliteStorage, open_storage

__all__ = [
    "AttemptRecord",
    "ChallengeRecord",
    "ChatRecord",
    "CorrectionRecord",
    "ImageStore",
    "LeaderboardRow",
    "SqliteStorage",
    "Storage",
    "UserRecord",
    "UserStats",
    "open_storage",
]
