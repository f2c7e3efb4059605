"""Platform-neutral value objects that adapters translate chat traffic to and from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A conversation on one platform: a private chat, a group or a Discord channel."""

    platform: str
    chat_id: str
    kind: ChatKind = ChatKind.PRIVATE
    title: str = ""


@dataclass(frozen=True, slots=True)
class UserRef:
    """Someone who sent a message; ``is_chat_admin`` is what the platform says about them."""

    platform: str
    user_id: str
    display_name: str = ""
    language: str = ""
    is_chat_admin: bool = False


@dataclass(frozen=True, slots=True)
class Photo:
    """Image bytes as received, before anything has checked that they are an image."""

    data: bytes
    filename: str = ""
    mime_type: str = ""

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One thing a user did: text, a photo (with an optional caption) or a button press."""

    chat: ChatRef
    user: UserRef
    text: str = ""
    photo: Photo | None = None
    # The platform's id for the message, so replies can thread under it.
    message_id: str = ""
    # True when the user replied to one of the bot's messages (the daily prompt, say).
    reply_to_prompt: bool = False
    # The platform's id of the message replied to, so an answer to an old prompt is told
    # apart from one to today's.
    reply_to_message_id: str = ""
    # Where in the chat it was said, when a chat has several places (a Discord server's
    # channels: the server is the chat, scores and challenge are shared across its channels).
    channel_id: str = ""
    # Set when the user pressed one of our buttons; the payload is Button.action.
    action: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply; pressing it comes back as IncomingMessage.action."""

    label: str
    action: str


@dataclass(frozen=True, slots=True)
class ReplyImage:
    data: bytes
    filename: str = "image.png"
    mime_type: str = "image/png"


@dataclass(frozen=True, slots=True)
class ReplyFile:
    """A file to send as a document (an export zip), not shown inline."""

    data: bytes
    filename: str
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says back; adapters render it the platform's way."""

    text: str = ""
    image: ReplyImage | None = None
    buttons: tuple[Button, ...] = ()
    document: ReplyFile | None = None
