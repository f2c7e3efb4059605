"""A fake Telegram Bot API server on 127.0.0.1, so the real PTB client can be tested end to end.

It serves queued updates through getUpdates (or builds them for a webhook test to post), hands
out files registered by the test, answers the send* methods with plausible Message objects and
records every call it gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = dict[str, Any]
# Telegram's cloud Bot API refuses getFile for anything larger.
GET_FILE_LIMIT = 20 * 1024 * 1024
# What a ChatMemberAdministrator must carry, besides its status and user.
ADMINISTRATOR_RIGHTS: JSON = {
    "can_be_edited": False,
    "is_anonymous": False,
    **dict.fromkeys(
        [
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ],
        True,
    ),
}


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    last_name: str = ""
    username: str = ""
    language_code: str = "en"
    is_bot: bool = False

    def json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class FakeChat:
    id: int
    type: str = "private"  # private, group, supergroup
    title: str = ""
    first_name: str = ""

    def json(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or "someone"
        else:
            data["title"] = self.title or "A group"
        return data


@dataclass
class Call:
    """One request the bot made: the method, its form parameters (as sent) and any files."""

    method: str
    params: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    # Answered with an error (fail_next): Telegram delivered nothing.
    failed: bool = False

    def json(self, name: str) -> Any:
        """A parameter PTB sent JSON-encoded (reply_markup, commands, reply_parameters...)."""
        return json.loads(self.params[name])

    @property
    def chat_id(self) -> int:
        return int(self.params["chat_id"])

    @property
    def text(self) -> str:
        return self.params.get("text") or self.params.get("caption") or ""


@dataclass(frozen=True)
class FakeFile:
    file_id: str
    unique_id: str
    path: str
    data: bytes
    size: int


class FakeTelegram:
    """The Bot API as PTB sees it; point PTB at ``base_url`` and ``base_file_url``."""

    def __init__(self, token: str, *, bot_id: int = 4242, poll_wait: float = 0.3) -> None:
        self.token = token
        self.bot = FakeUser(bot_id, "Hanzi Bot", username="hanzi_test_bot", is_bot=True)
        self.poll_wait = poll_wait
        self.calls: list[Call] = []
        self.downloads: list[str] = []
        # (chat id, user id) pairs getChatMember reports as administrators.
        self.admins: set[tuple[int, int]] = set()
        # method -> (error code, description, parameters) for the next calls of that method.
        self.failures: dict[str, list[tuple[int, str, JSON]]] = {}
        # Every message the bot sent, by message id, so a test can reply to one.
        self.bot_messages: dict[int, JSON] = {}
        self._files: dict[str, FakeFile] = {}
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._next_message_id = 100
        self._chats: dict[int, JSON] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what the test does ------------------------------------------------------------

    def _message(
        self,
        chat: FakeChat,
        user: FakeUser,
        *,
        reply_to: int | None = None,
        thread: int | None = None,
        **content: Any,
    ) -> JSON:
        """A message from ``user``; ``reply_to`` is the id of a message the bot sent,
        ``thread`` a forum topic."""
        self._chats[chat.id] = chat.json()
        self._next_message_id += 1
        message: JSON = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": chat.json(),
            "from": user.json(),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = self.bot_messages[reply_to]
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        return message

    async def push(self, update: JSON) -> JSON:
        """Queue one update (without update_id) for the bot's next getUpdates."""
        async with self._changed:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def text_message(
        self,
        chat: FakeChat,
        user: FakeUser,
        text: str,
        *,
        reply_to_bot: bool = False,
        thread: int | None = None,
    ) -> JSON:
        content: JSON = {"text": text}
        if text.startswith("/"):
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        if reply_to_bot:
            content["reply_to_message"] = self._message(chat, self.bot, text="Today's challenge")
        return self._message(chat, user, thread=thread, **content)

    async def push_text(
        self,
        chat: FakeChat,
        user: FakeUser,
        text: str,
        *,
        reply_to_bot: bool = False,
        thread: int | None = None,
    ) -> JSON:
        message = self.text_message(chat, user, text, reply_to_bot=reply_to_bot, thread=thread)
        await self.push({"message": message})
        return message

    def add_file(self, data: bytes, *, size: int | None = None, name: str = "photo.jpg") -> str:
        """Register a file the bot can fetch; ``size`` overrides what Telegram declares."""
        number = len(self._files) + 1
        file_id = f"file-{number}"
        self._files[file_id] = FakeFile(
            file_id=file_id,
            unique_id=f"unique-{number}",
            path=f"documents/{number}-{name}",
            data=data,
            size=len(data) if size is None else size,
        )
        return file_id

    async def push_photo(
        self,
        chat: FakeChat,
        user: FakeUser,
        data: bytes,
        *,
        caption: str = "",
        reply_to: int | None = None,
        album: str = "",
    ) -> JSON:
        """A compressed photo: a small thumbnail and the full size, as Telegram sends them.
        ``album`` is the media_group_id of the album it belongs to."""
        thumb = self.add_file(data[: max(1, len(data) // 10)])
        full = self.add_file(data)
        sizes = [
            {
                "file_id": file_id,
                "file_unique_id": self._files[file_id].unique_id,
                "width": side,
                "height": side,
                "file_size": self._files[file_id].size,
            }
            for file_id, side in ((thumb, 90), (full, 800))
        ]
        content: JSON = {"photo": sizes}
        if caption:
            content["caption"] = caption
        if album:
            content["media_group_id"] = album
        message = self._message(chat, user, reply_to=reply_to, **content)
        await self.push({"message": message})
        return message

    async def push_document(
        self,
        chat: FakeChat,
        user: FakeUser,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        size: int | None = None,
        caption: str = "",
        album: str = "",
    ) -> JSON:
        file_id = self.add_file(data, size=size, name=file_name)
        document = {
            "file_id": file_id,
            "file_unique_id": self._files[file_id].unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": self._files[file_id].size,
        }
        content: JSON = {"document": document}
        if caption:
            content["caption"] = caption
        if album:
            content["media_group_id"] = album
        message = self._message(chat, user, **content)
        await self.push({"message": message})
        return message

    async def push_callback(
        self, chat: FakeChat, user: FakeUser, data: str, *, message_id: int = 1
    ) -> str:
        """A press on an inline button under one of the bot's messages; returns the query id."""
        query_id = f"query-{self._next_update_id}"
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat.json(),
            "from": self.bot.json(),
            "text": "a message with buttons",
        }
        await self.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.json(),
                    "chat_instance": f"instance-{chat.id}",
                    "message": message,
                    "data": data,
                }
            }
        )
        return query_id

    async def push_my_chat_member(
        self, chat: FakeChat, by: FakeUser, *, old: str = "member", new: str = "kicked"
    ) -> JSON:
        """The bot's own membership changed: ``new`` is left, kicked, member, administrator."""

        def member(status: str) -> JSON:
            data: JSON = {"status": status, "user": self.bot.json()}
            if status == "kicked":
                data["until_date"] = 0
            if status == "administrator":
                data.update(ADMINISTRATOR_RIGHTS)
            return data

        return await self.push(
            {
                "my_chat_member": {
                    "chat": chat.json(),
                    "from": by.json(),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    async def push_my_chat_member_added(self, chat: FakeChat, by: FakeUser) -> JSON:
        return await self.push_my_chat_member(chat, by, old="left", new="member")

    def fail_next(
        self,
        method: str,
        code: int = 400,
        description: str = "Bad Request",
        *,
        retry_after: int = 0,
        migrate_to_chat_id: int = 0,
    ) -> None:
        """Answer the next call of ``method`` with an error; ``retry_after`` makes it
        Telegram's flood control (code 429), ``migrate_to_chat_id`` a group that became a
        supergroup."""
        parameters: JSON = {}
        if retry_after:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        self.failures.setdefault(method, []).append((code, description, parameters))

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent(self) -> list[Call]:
        """Every message the bot sent and Telegram delivered, in order."""
        methods = ("sendMessage", "sendPhoto", "sendDocument")
        return [c for c in self.calls if c.method in methods and not c.failed]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` has been called ``count`` times in all; returns those calls."""

        def enough() -> bool:
            return len(self.calls_to(method)) >= count

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(enough), timeout)
            except TimeoutError:
                got = len(self.calls_to(method))
                seen = [c.method for c in self.calls]
                raise AssertionError(
                    f"{method} called {got} times, expected {count}; calls: {seen}"
                ) from None
        return self.calls_to(method)

    async def wait_for_update_consumed(self, timeout: float = 5.0) -> None:
        """Wait until the bot has confirmed every queued update (its offset passed them)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: not self._updates), timeout)

    # -- the HTTP side -----------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
        params: dict[str, str] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = str(value)
        params.update({k: v for k, v in request.query.items() if k not in params})
        return params, files

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files)
        failures = self.failures.get(method)
        if failures:
            code, description, parameters = failures.pop(0)
            call.failed = True
            await self._record(call)
            return _error(code, description, parameters)
        handler = self._handlers().get(method.lower())
        result: Any = await handler(params) if handler is not None else True
        if isinstance(result, web.Response):
            await self._record(call)
            return result
        if method != "getUpdates":  # recorded after the wait, see _get_updates
            await self._record(call)
        return web.json_response({"ok": True, "result": result})

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _handlers(self) -> dict[str, Callable[[dict[str, str]], Awaitable[Any]]]:
        return {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "getfile": self._get_file,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "getchatmember": self._get_chat_member,
            "getmycommands": self._get_my_commands,
        }

    async def _get_me(self, params: dict[str, str]) -> Any:
        return {
            **self.bot.json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: dict[str, str]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self._changed:
            # The offset confirms every update below it: Telegram forgets those.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self.calls.append(Call("getUpdates", params))
            self._changed.notify_all()
            if not self._updates and timeout > 0:
                # Long polling, shortened so that tests and shutdown stay fast.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self._updates)),
                        min(timeout, self.poll_wait),
                    )
            return list(self._updates)

    async def _get_file(self, params: dict[str, str]) -> Any:
        file = self._files.get(params.get("file_id", ""))
        if file is None:
            return _error(400, "Bad Request: invalid file_id")
        if file.size > GET_FILE_LIMIT:
            return _error(400, "Bad Request: file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.unique_id,
            "file_size": file.size,
            "file_path": file.path,
        }

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.match_info["path"]
        async with self._changed:
            self.downloads.append(path)
            self._changed.notify_all()
        for file in self._files.values():
            if file.path == path:
                return web.Response(body=file.data, content_type="application/octet-stream")
        return _error(404, "Not Found")

    def _sent_message(self, params: dict[str, str], **content: Any) -> JSON:
        chat_id = int(params["chat_id"])
        self._next_message_id += 1
        message = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": self._chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "x"}),
            "from": self.bot.json(),
            **content,
        }
        self.bot_messages[self._next_message_id] = message
        return message

    async def _send_message(self, params: dict[str, str]) -> Any:
        content: JSON = {"text": params.get("text", "")}
        if "reply_markup" in params:
            content["reply_markup"] = json.loads(params["reply_markup"])
        return self._sent_message(params, **content)

    async def _send_photo(self, params: dict[str, str]) -> Any:
        photo = [{"file_id": "sent-photo", "file_unique_id": "sent", "width": 1, "height": 1}]
        content: JSON = {"photo": photo}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._sent_message(params, **content)

    async def _send_document(self, params: dict[str, str]) -> Any:
        document = {"file_id": "sent-document", "file_unique_id": "sent-doc"}
        content: JSON = {"document": document}
        if "reply_markup" in params:
            content["reply_markup"] = json.loads(params["reply_markup"])
        return self._sent_message(params, **content)

    async def _get_chat_member(self, params: dict[str, str]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": "member"}
        if (chat_id, user_id) not in self.admins:
            return {"status": "member", "user": user}
        return {"status": "administrator", "user": user, **ADMINISTRATOR_RIGHTS}

    async def _get_my_commands(self, params: dict[str, str]) -> Any:
        def key(values: dict[str, str]) -> tuple[str, str]:
            scope = json.loads(values.get("scope") or '{"type": "default"}')["type"]
            return scope, values.get("language_code", "")

        for call in reversed(self.calls):
            if call.method == "setMyCommands" and key(call.params) == key(params):
                return call.json("commands")
        return []


def _error(code: int, description: str, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
