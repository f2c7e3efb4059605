"""The platform-neutral core: turns an IncomingMessage into Replies by routing to the domain."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.i18n import t
from bot.messages import Button, ChatKind, ChatRef, IncomingMessage, Photo, Reply
from bot.ocr_reply import ocr_replies
from bot.ratelimit import SlidingWindowLimiter
from quizzes.challenges import Challenges
from quizzes.feedback import export_corrections
from quizzes.hsk import Vocabulary
from quizzes.scoring import points_for_correct
from recognition.api import Grade, Grader, LineReader, Verdict
from recognition.images import ImageInfo, ImageProblem, ImageRejected, inspect_image
from recognition.service import ServiceBusy
from storage.images import ImageStore
from storage.protocols import ChatRecord, Storage, UserRecord

log = logging.getLogger(__name__)


class UserError(Exception):
    """Something the user can fix; carries the message key and values of the reply."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class CoreConfig:
    default_timezone: str = "UTC"
    default_daily_time: time = time(9, 0)
    default_language: str = "en"
    max_photo_bytes: int = 20_000_000
    # Bot operators: "platform:id" or a bare id (any platform).
    operator_ids: frozenset[str] = frozenset()
    # Everyone on these platforms is an operator: the console user owns the machine.
    trusted_platforms: frozenset[str] = frozenset({"console"})
    export_dir: Path = Path("data/exports")
    messages_per_minute: int = 30
    photos_per_minute: int = 10


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


Handler = Callable[["Core", Context], Awaitable[list[Reply]]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    description_key: str
    args_key: str = ""
    admin: bool = False  # chat admins (anyone in a private chat)
    operator: bool = False  # bot operators only


def too_large_values(size: int, limit: int) -> dict[str, str]:
    """Values of the "photo.too_large" reply, shared with adapters that refuse a file
    from its declared size before downloading it."""
    return {"size_mb": f"{size / 1e6:.1f}", "limit_mb": f"{limit / 1e6:.0f}"}


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


@dataclass
class Core:
    config: CoreConfig
    storage: Storage
    images: ImageStore
    vocabulary: Vocabulary
    grader: Grader | None = None
    reader: LineReader | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    message_limiter: SlidingWindowLimiter | None = None
    photo_limiter: SlidingWindowLimiter | None = None

    def __post_init__(self) -> None:
        self.challenges = Challenges(self.storage, self.vocabulary)
        if self.message_limiter is None:
            self.message_limiter = SlidingWindowLimiter(self.config.messages_per_minute, 60)
        if self.photo_limiter is None:
            self.photo_limiter = SlidingWindowLimiter(self.config.photos_per_minute, 60)

    # -- entry point -------------------------------------------------------------------

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """Everything an adapter needs: one message in, the replies to send out."""
        fields = {"chat": f"{msg.chat.platform}:{msg.chat.chat_id}", "user": msg.user.user_id}
        limited = self._rate_limited(msg)
        if limited is not None:
            log.info("message.rate_limited", extra={"fields": fields})
            return limited
        chat = await self._chat_record(msg.chat)
        if not chat.active:
            await self.storage.chats.set_active(chat.id, True)
        user = await self.storage.users.upsert(
            msg.user.platform, msg.user.user_id, msg.user.display_name, msg.user.language
        )
        text = (msg.action or msg.text).strip()
        command, args = _parse_command(text)
        ctx = Context(msg=msg, chat=chat, user=user, args=args, command=command)
        try:
            if msg.photo is not None:
                return await self._on_photo(ctx, msg.photo)
            if command:
                return await self._on_command(ctx)
            if msg.chat.kind is ChatKind.PRIVATE and text:
                return [ctx.say("errors.plain_text")]
            return []
        except UserError as exc:
            return [ctx.say(exc.key, **exc.values)]
        except Exception:
            log.exception("message.failed", extra={"fields": {**fields, "command": command}})
            return [ctx.say("errors.internal")]

    async def chat_removed(self, chat: ChatRef) -> None:
        """The platform says we left ``chat`` (removed, or blocked in private): stop posting
        there until someone writes in it again, which reactivates it."""
        record = await self._chat_record(chat)
        if record.active:
            await self.storage.chats.set_active(record.id, False)
        log.info("chat.removed", extra={"fields": {"chat": record.id}})

    async def _chat_record(self, chat: ChatRef) -> ChatRecord:
        return await self.storage.chats.upsert(
            chat.platform,
            chat.chat_id,
            kind=chat.kind.value,
            title=chat.title,
            default_timezone=self.config.default_timezone,
            default_daily_time=self.config.default_daily_time,
            default_language=self.config.default_language,
        )

    def _rate_limited(self, msg: IncomingMessage) -> list[Reply] | None:
        assert self.message_limiter is not None and self.photo_limiter is not None
        key = (msg.user.platform, msg.user.user_id)
        decision = self.message_limiter.check(key)
        if decision.allowed and msg.photo is not None:
            decision = self.photo_limiter.check(key)
        if decision.allowed:
            return None
        if not decision.notify:
            return []
        seconds = max(1, round(decision.retry_after))
        return [Reply(text=t("errors.rate_limited", self.config.default_language, seconds=seconds))]

    # -- commands ----------------------------------------------------------------------

    def is_operator(self, ctx: Context) -> bool:
        platform, user_id = ctx.msg.user.platform, ctx.msg.user.user_id
        return (
            platform in self.config.trusted_platforms
            or user_id in self.config.operator_ids
            or f"{platform}:{user_id}" in self.config.operator_ids
        )

    def is_admin(self, ctx: Context) -> bool:
        return (
            ctx.msg.chat.kind is ChatKind.PRIVATE
            or ctx.msg.user.is_chat_admin
            or self.is_operator(ctx)
        )

    async def _on_command(self, ctx: Context) -> list[Reply]:
        spec = COMMANDS.get(ctx.command)
        if spec is None:
            close = difflib.get_close_matches(ctx.command, COMMANDS, n=1, cutoff=0.6)
            if close:
                raise UserError(
                    "errors.unknown_command_suggest",
                    command=f"/{ctx.command}",
                    suggestion=f"/{close[0]}",
                )
            raise UserError("errors.unknown_command", command=f"/{ctx.command}")
        if spec.operator and not self.is_operator(ctx):
            raise UserError("errors.operator_only", command=f"/{spec.name}")
        if spec.admin and not self.is_admin(ctx):
            raise UserError("errors.admin_only", command=f"/{spec.name}")
        log.info(
            "command.received",
            extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "command": spec.name}},
        )
        return await spec.handler(self, ctx)

    def usage(self, ctx: Context) -> UserError:
        spec = COMMANDS[ctx.command]
        return UserError("errors.usage", command=f"/{spec.name}", args=t(spec.args_key, ctx.lang))

    async def cmd_start(self, ctx: Context) -> list[Reply]:
        name = ctx.user.display_name or ctx.msg.user.display_name or "there"
        return [ctx.say("start.welcome", name=name)]

    async def cmd_help(self, ctx: Context) -> list[Reply]:
        lines = [t("help.header", ctx.lang)]
        for spec in COMMANDS.values():
            if spec.operator and not self.is_operator(ctx):
                continue
            args = t(spec.args_key, ctx.lang) if spec.args_key else ""
            line = t(
                "help.line",
                ctx.lang,
                command=f"/{spec.name}",
                args=args,
                description=t(spec.description_key, ctx.lang),
            )
            line = " ".join(line.split())
            if spec.admin:
                line += t("help.admin_marker", ctx.lang)
            lines.append(line)
        lines.append(t("help.footer", ctx.lang))
        return [Reply(text="\n".join(lines))]

    async def cmd_today(self, ctx: Context) -> list[Reply]:
        now = self.clock()
        challenge = await self.challenges.today(ctx.chat, now)
        return [self._prompt_reply(ctx, challenge.target, challenge.local_date.isoformat())]

    def _prompt_reply(self, ctx: Context, target: str, day: str) -> Reply:
        prompt = self.challenges.prompt(target)
        return ctx.say(
            "today.prompt",
            date=day,
            pinyin=prompt.pinyin,
            meaning=prompt.meaning,
            count=prompt.length,
            plural=_plural(prompt.length),
        )

    async def cmd_practice(self, ctx: Context) -> list[Reply]:
        now = self.clock()
        total = await self.storage.cards.count(ctx.user.id)
        due = await self.storage.cards.count_due(ctx.user.id, now)
        if due == 0:
            return [ctx.say("practice.nothing_due")]
        return [ctx.say("practice.due", due=due, total=total, plural=_plural(due))]

    async def cmd_ocr(self, ctx: Context) -> list[Reply]:
        # Reached only without a photo: a photo with /ocr goes through _on_photo.
        return [ctx.say("photo.ocr_needs_photo")]

    async def cmd_leaderboard(self, ctx: Context) -> list[Reply]:
        period = ctx.args[0].lower() if ctx.args else "week"
        now = self.clock()
        if period == "today":
            midnight = datetime.combine(
                now.astimezone(ZoneInfo(ctx.chat.timezone)).date(),
                time(0),
                tzinfo=ZoneInfo(ctx.chat.timezone),
            )
            since: datetime | None = midnight
        elif period == "week":
            since = now - timedelta(days=7)
        elif period == "all":
            since = None
        else:
            raise self.usage(ctx)
        rows = await self.storage.attempts.leaderboard(ctx.chat.id, since=since, limit=10)
        if not rows:
            return [ctx.say("leaderboard.empty")]
        lines = [t(f"leaderboard.header_{period}", ctx.lang)]
        rank, previous = 0, None
        for position, row in enumerate(rows, start=1):
            if row.points != previous:  # ties share a rank: 1, 1, 3
                rank, previous = position, row.points
            name = row.display_name or t("leaderboard.anonymous", ctx.lang)
            lines.append(t("leaderboard.row", ctx.lang, rank=rank, name=name, points=row.points))
        return [Reply(text="\n".join(lines))]

    async def cmd_stats(self, ctx: Context) -> list[Reply]:
        stats = await self.storage.attempts.stats(ctx.user.id, ctx.chat.id)
        now = self.clock()
        return [
            ctx.say(
                "stats.body",
                points=stats.points,
                attempts=stats.attempts,
                correct=stats.correct,
                graded=stats.graded,
                items=stats.items_practised,
                cards=await self.storage.cards.count(ctx.user.id),
                due=await self.storage.cards.count_due(ctx.user.id, now),
            )
        ]

    async def cmd_settings(self, ctx: Context) -> list[Reply]:
        chat = ctx.chat
        if not ctx.args:
            return [
                ctx.say(
                    "settings.show",
                    timezone=chat.timezone,
                    time=chat.daily_time.strftime("%H:%M"),
                    language=chat.language,
                )
            ]
        if not self.is_admin(ctx):
            raise UserError("errors.admin_only", command="/settings")
        if len(ctx.args) != 2:
            raise self.usage(ctx)
        what, value = ctx.args[0].lower(), ctx.args[1]
        if what in ("tz", "timezone"):
            zone = _parse_timezone(value)
            if zone is None:
                raise UserError("settings.bad_timezone", value=value)
            chat = await self.storage.chats.update_settings(chat.id, timezone=zone.key)
            await self._audit(ctx, "settings.timezone", zone.key)
            local = self.clock().astimezone(zone).strftime("%H:%M")
            return [ctx.say("settings.timezone_set", timezone=zone.key, local_time=local)]
        if what == "time":
            at = _parse_hhmm(value)
            if at is None:
                raise UserError("settings.bad_time", value=value)
            chat = await self.storage.chats.update_settings(chat.id, daily_time=at)
            await self._audit(ctx, "settings.daily_time", at.strftime("%H:%M"))
            return [ctx.say("settings.time_set", time=at.strftime("%H:%M"), timezone=chat.timezone)]
        raise self.usage(ctx)

    async def cmd_challenge(self, ctx: Context) -> list[Reply]:
        if len(ctx.args) != 2 or ctx.args[0].lower() != "set":
            raise self.usage(ctx)
        target = ctx.args[1]
        if self.vocabulary.item(target) is None:
            raise UserError("challenge.not_hsk", value=target)
        await self.storage.chats.set_next_target(ctx.chat.id, target)
        await self._audit(ctx, "challenge.set", target)
        return [
            ctx.say("challenge.set", target=target, pinyin=self.challenges.prompt(target).pinyin)
        ]

    async def cmd_export(self, ctx: Context) -> list[Reply]:
        now = self.clock()
        result = await export_corrections(self.storage, self.images, self.config.export_dir, now)
        if result is None:
            return [ctx.say("export.nothing")]
        await self._audit(ctx, "export.corrections", f"{result.count} -> {result.path.name}")
        return [
            ctx.say(
                "export.done", count=result.count, plural=_plural(result.count), path=result.path
            )
        ]

    async def cmd_forget(self, ctx: Context) -> list[Reply]:
        if not ctx.args or ctx.args[0].lower() != "confirm":
            return [
                Reply(
                    text=t("forget.confirm", ctx.lang),
                    buttons=(Button(t("forget.confirm_button", ctx.lang), "/forget confirm"),),
                )
            ]
        attempts = len(await self.storage.attempts.for_user(ctx.user.id))
        has_data = attempts or await self.storage.cards.count(ctx.user.id)
        orphans = await self.storage.forget_user(ctx.user.id)
        for ref in orphans:
            await self.images.delete(ref)
        log.info("user.forgotten", extra={"fields": {"user": ctx.user.id, "images": len(orphans)}})
        if not has_data:
            return [ctx.say("forget.nothing")]
        return [ctx.say("forget.done", attempts=attempts, plural=_plural(attempts))]

    async def _audit(self, ctx: Context, action: str, detail: str) -> None:
        await self.storage.audit.record(
            actor_user_id=ctx.user.id, chat_id=ctx.chat.id, action=action, detail=detail
        )

    # -- photos ------------------------------------------------------------------------

    def _check_photo(self, ctx: Context, photo: Photo) -> ImageInfo:
        try:
            return inspect_image(photo.data, max_bytes=self.config.max_photo_bytes)
        except ImageRejected as exc:
            log.info(
                "photo.rejected",
                extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "why": exc.problem}},
            )
            if exc.problem is ImageProblem.TOO_LARGE:
                raise UserError(
                    "photo.too_large", **too_large_values(photo.size, self.config.max_photo_bytes)
                ) from exc
            if exc.problem is ImageProblem.TOO_SMALL:
                raise UserError(f"photo.{exc.problem}", width=exc.width, height=exc.height) from exc
            raise UserError(f"photo.{exc.problem}") from exc

    async def _on_photo(self, ctx: Context, photo: Photo) -> list[Reply]:
        log.info(
            "photo.received",
            extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "size": photo.size}},
        )
        if ctx.command == "ocr" or ctx.msg.text.strip().lower() == "ocr":
            return await self._ocr(ctx, photo)
        if ctx.command:
            return await self._on_command(ctx)
        return await self._answer(ctx, photo)

    async def _ocr(self, ctx: Context, photo: Photo) -> list[Reply]:
        self._check_photo(ctx, photo)
        if self.reader is None:
            return [ctx.say("photo.ocr_unavailable")]
        try:
            page = await self.reader.read(photo.data)
        except ServiceBusy as exc:
            raise UserError("ocr.busy", seconds=max(1, round(exc.retry_after))) from exc
        except ImageRejected as exc:
            raise UserError(f"photo.{exc.problem}", width=exc.width, height=exc.height) from exc
        log.info(
            "ocr.read",
            extra={
                "fields": {
                    "chat": ctx.chat.id,
                    "user": ctx.user.id,
                    "lines": len(page.lines),
                    "problem": page.problem or "",
                    "truncated": page.truncated,
                }
            },
        )
        return ocr_replies(page, photo.data, self.vocabulary, ctx.lang)

    async def _answer(self, ctx: Context, photo: Photo) -> list[Reply]:
        now = self.clock()
        challenge = await self.challenges.current(ctx.chat, now)
        if challenge is None:
            raise UserError("photo.no_challenge")
        info = self._check_photo(ctx, photo)
        # Store before grading: if anything below fails, the answer is still on disk.
        ref = await self.images.put(photo.data, info.extension)
        attempt = await self.storage.attempts.add(
            user_id=ctx.user.id,
            chat_id=ctx.chat.id,
            challenge_id=challenge.id,
            kind="daily",
            target=challenge.target,
            image_ref=ref,
            received_at=ctx.msg.received_at,
        )
        log.info(
            "answer.stored",
            extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "attempt": attempt.id}},
        )
        if self.grader is None:
            return [ctx.say("photo.saved_not_graded", attempt=attempt.id)]
        try:
            grade = await self.grader.grade(photo.data, challenge.target)
        except ServiceBusy as exc:
            # The answer is stored; it just was not graded now. Say so, and when to retry.
            log.warning("answer.busy", extra={"fields": {"attempt": attempt.id}})
            raise UserError("photo.busy", seconds=max(1, round(exc.retry_after))) from exc
        earlier = [
            a
            for a in await self.storage.attempts.for_user(ctx.user.id, ctx.chat.id)
            if a.challenge_id == challenge.id and a.id != attempt.id
        ]
        already = any(a.verdict == Verdict.CORRECT for a in earlier)
        points = 0
        if grade.verdict is Verdict.CORRECT:
            points = points_for_correct(
                earlier_attempts_today=len(earlier), already_correct_today=already
            )
        await self.storage.attempts.record_grade(
            attempt.id,
            verdict=grade.verdict.value,
            predicted=grade.predicted,
            confidence=grade.confidence,
            points=points,
            graded_at=self.clock(),
        )
        log.info(
            "answer.graded",
            extra={
                "fields": {"attempt": attempt.id, "verdict": grade.verdict.value, "points": points}
            },
        )
        return [self._verdict_reply(ctx, grade, challenge.target, points, already)]

    def _verdict_reply(
        self, ctx: Context, grade: Grade, target: str, points: int, already: bool
    ) -> Reply:
        if grade.verdict is Verdict.CORRECT:
            if already:
                return ctx.say("verdict.correct_again")
            return ctx.say("verdict.correct", target=target, points=points)
        if grade.verdict is Verdict.WRONG:
            if grade.predicted:
                return ctx.say("verdict.wrong", predicted=grade.predicted)
            return ctx.say("verdict.wrong_unknown")
        if grade.verdict is Verdict.UNREADABLE and grade.reason in _UNREADABLE_REASONS:
            return ctx.say(f"verdict.unreadable_{_UNREADABLE_REASONS[grade.reason]}")
        return ctx.say(f"verdict.{grade.verdict.value}")


# The recogniser's reasons for "unreadable" that deserve their own advice.
_UNREADABLE_REASONS = {
    "no ink": "blank",
    "too small": "small",
    "several characters": "several",
}


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("start", Core.cmd_start, "commands.start"),
        Command("help", Core.cmd_help, "commands.help"),
        Command("today", Core.cmd_today, "commands.today"),
        Command("practice", Core.cmd_practice, "commands.practice"),
        Command("ocr", Core.cmd_ocr, "commands.ocr", "commands.ocr_args"),
        Command(
            "leaderboard", Core.cmd_leaderboard, "commands.leaderboard", "commands.leaderboard_args"
        ),
        Command("stats", Core.cmd_stats, "commands.stats"),
        Command("settings", Core.cmd_settings, "commands.settings", "commands.settings_args"),
        Command(
            "challenge",
            Core.cmd_challenge,
            "commands.challenge",
            "commands.challenge_args",
            admin=True,
        ),
        Command("export", Core.cmd_export, "commands.export", operator=True),
        Command("forget", Core.cmd_forget, "commands.forget"),
    )
}


def _parse_command(text: str) -> tuple[str, tuple[str, ...]]:
    """``/today@HanziBot arg`` -> ("today", ("arg",)); plain text -> ("", ())."""
    if not text.startswith("/"):
        return "", ()
    head, *rest = text.split()
    name = head[1:].split("@", 1)[0].lower()
    return name, tuple(rest)


def _parse_timezone(value: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        # IANA names are case-sensitive on disk; users type asia/shanghai.
        lowered = {name.lower(): name for name in available_timezones()}
        name = lowered.get(value.lower())
        return ZoneInfo(name) if name else None


def _parse_hhmm(value: str) -> time | None:
    try:
        hours, minutes = value.split(":")
        if len(minutes) != 2:
            return None
        return time(int(hours), int(minutes))
    except ValueError:
        return None
