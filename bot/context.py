"""What every command handler gets: the message, its chat and user records, and the user error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import t
from bot.messages import IncomingMessage, Reply
from storage.protocols import ChatRecord, UserRecord

if TYPE_CHECKING:
    from bot.core import Core


class UserError(Exception):
    """Something the user can fix; carries the message key and values of the reply."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Context:
    msg: IncomingMessage
    chat: ChatRecord
    user: UserRecord
    args: tuple[str, ...]
    command: str

    @property
    def lang(self) -> str:
        return self.chat.language

    def say(self, key: str, **values: object) -> Reply:
        return Reply(text=t(key, self.lang, **values))

    def text(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)


Handler = Callable[["Core", Context], Awaitable[list[Reply]]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    description_key: str
    args_key: str = ""
    admin: bool = False  # chat admins (anyone in a private chat)
    operator: bool = False  # bot operators only


def plural(n: int) -> str:
    return "" if n == 1 else "s"
