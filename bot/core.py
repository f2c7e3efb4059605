"""The platform-neutral core: turns an IncomingMessage into Replies by routing to the domain."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path

from fsrs import Scheduler

from bot import admin, game, reminders
from bot.context import Command, Context, UserError, plural
from bot.i18n import t
from bot.messages import Button, ChatKind, ChatRef, IncomingMessage, Photo, Reply
from bot.ocr_reply import ocr_replies
from bot.ratelimit import SlidingWindowLimiter
from quizzes.challenges import Challenges
from quizzes.hsk import Vocabulary
from quizzes.srs import Deck
from quizzes.strokes import StrokeData
from recognition.api import Grader, LineReader
from recognition.images import ImageInfo, ImageProblem, ImageRejected, inspect_image
from recognition.service import ServiceBusy
from storage.images import ImageStore
from storage.protocols import ChallengeRecord, ChatRecord, Storage

__all__ = ["COMMANDS", "Command", "Context", "Core", "CoreConfig", "UserError"]

log = logging.getLogger(__name__)


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
    # Secret of this installation that turns ids into pseudonyms in exported data.
    pseudonym_key: bytes = b""
    # Practice cards are private by default: a group's photos answer its daily challenge.
    group_practice: bool = False
    # Telegram bots may send documents up to 50 MB; Discord's default limit is lower.
    max_document_bytes: int = 24_000_000


def too_large_values(size: int, limit: int) -> dict[str, str]:
    """Values of the "photo.too_large" reply, shared with adapters that refuse a file
    from its declared size before downloading it."""
    return {"size_mb": f"{size / 1e6:.1f}", "limit_mb": f"{limit / 1e6:.0f}"}


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
    srs_scheduler: Scheduler | None = None
    # Stroke data for hints and answer pictures; None reads the repository's models/.
    strokes: StrokeData | None = None

    def __post_init__(self) -> None:
        self.challenges = Challenges(self.storage, self.vocabulary)
        self.deck = Deck(self.storage, self.srs_scheduler)
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

    async def chat_migrated(self, platform: str, old_id: str, new_id: str) -> None:
        """The platform moved a chat to a new id (a Telegram group upgraded to a supergroup):
        it keeps its settings, challenges, scores and streaks under the new id."""
        record = await self.storage.chats.find(platform, old_id)
        moved = record is not None and await self.storage.chats.move(record.id, new_id)
        log.info(
            "chat.migrated",
            extra={"fields": {"old": old_id, "new": new_id, "moved": moved}},
        )

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
            await self.refuse(ctx, f"/{spec.name}", key="errors.operator_only")
        if spec.admin and not self.is_admin(ctx):
            await self.refuse(ctx, f"/{spec.name}")
        log.info(
            "command.received",
            extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "command": spec.name}},
        )
        return await spec.handler(self, ctx)

    async def refuse(self, ctx: Context, command: str, key: str = "errors.admin_only") -> None:
        """Say no politely, and keep a record of who tried."""
        log.info(
            "command.refused",
            extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "command": command}},
        )
        await self.audit(ctx, "refused", command)
        raise UserError(key, command=command)

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
        return self.prompt_reply(ctx.lang, target, day)

    def prompt_reply(self, lang: str, target: str, day: str) -> Reply:
        prompt = self.challenges.prompt(target)
        return Reply(
            text=t(
                "today.prompt",
                lang,
                date=day,
                pinyin=prompt.pinyin,
                meaning=prompt.meaning,
                count=prompt.length,
                plural=plural(prompt.length),
            ),
            buttons=(Button(t("buttons.hint", lang), "/hint"),),
        )

    async def claim_daily_post(self, chat: ChatRecord) -> tuple[ChallengeRecord, Reply] | None:
        """The scheduler's question: is ``chat``'s prompt due and not yet posted? If so the
        claim is taken, and the caller must call ``daily_posted`` or ``daily_failed``."""
        challenge = await self.challenges.claim_post(chat, self.clock())
        if challenge is None:
            return None
        return challenge, self.prompt_reply(
            chat.language, challenge.target, str(challenge.local_date)
        )

    async def daily_posted(self, challenge: ChallengeRecord, message_id: str) -> None:
        await self.challenges.posted(challenge, message_id, self.clock())
        log.info("daily.posted", extra={"fields": {"chat": challenge.chat_id, "id": message_id}})

    async def daily_failed(self, challenge: ChallengeRecord) -> None:
        await self.challenges.release(challenge)

    async def due_reminders(self) -> list[reminders.Reminder]:
        """Reminders to send now (cards due, streaks about to break), already marked sent."""
        return await reminders.due_reminders(self, self.clock())

    async def cmd_ocr(self, ctx: Context) -> list[Reply]:
        # Reached only without a photo: a photo with /ocr goes through _on_photo.
        return [ctx.say("photo.ocr_needs_photo")]

    async def cmd_forget(self, ctx: Context) -> list[Reply]:
        if not ctx.args or ctx.args[0].lower() != "confirm":
            return [
                Reply(
                    text=t("forget.confirm", ctx.lang),
                    buttons=(Button(t("forget.confirm_button", ctx.lang), "/forget confirm"),),
                )
            ]
        attempts = await self.storage.attempts.count_for_user(ctx.user.id)
        cards = await self.storage.cards.count(ctx.user.id)
        corrections = await self.storage.corrections.count_for_user(ctx.user.id)
        has_data = attempts or cards or corrections
        orphans = await self.storage.forget_user(ctx.user.id)
        for ref in orphans:
            await self.images.delete(ref)
        log.info("user.forgotten", extra={"fields": {"user": ctx.user.id, "images": len(orphans)}})
        if not has_data:
            return [ctx.say("forget.nothing")]
        return [
            ctx.say(
                "forget.done",
                attempts=attempts,
                plural=plural(attempts),
                cards=cards,
                cards_plural=plural(cards),
                corrections=corrections,
                corrections_plural=plural(corrections),
                images=len(orphans),
                images_plural=plural(len(orphans)),
            )
        ]

    async def audit(self, ctx: Context, action: str, detail: str) -> None:
        await self.storage.audit.record(
            actor_user_id=ctx.user.id, chat_id=ctx.chat.id, action=action, detail=detail
        )

    # -- photos ------------------------------------------------------------------------

    def check_photo(self, ctx: Context, photo: Photo) -> ImageInfo:
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
        self.check_photo(ctx, photo)
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
        return await game.answer(self, ctx, photo)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("start", Core.cmd_start, "commands.start"),
        Command("help", Core.cmd_help, "commands.help"),
        Command("today", Core.cmd_today, "commands.today"),
        Command("hint", game.cmd_hint, "commands.hint"),
        Command("practice", game.cmd_practice, "commands.practice", "commands.practice_args"),
        Command("ocr", Core.cmd_ocr, "commands.ocr", "commands.ocr_args"),
        Command(
            "leaderboard", game.cmd_leaderboard, "commands.leaderboard", "commands.leaderboard_args"
        ),
        Command("stats", game.cmd_stats, "commands.stats"),
        Command("wrong", game.cmd_wrong, "commands.wrong", "commands.wrong_args"),
        Command("remind", reminders.cmd_remind, "commands.remind", "commands.remind_args"),
        Command("settings", admin.cmd_settings, "commands.settings", "commands.settings_args"),
        Command(
            "challenge",
            admin.cmd_challenge,
            "commands.challenge",
            "commands.challenge_args",
            admin=True,
        ),
        Command("review", admin.cmd_review, "commands.review", "commands.review_args", admin=True),
        Command("export", admin.cmd_export, "commands.export", admin=True),
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
