"""The admin's side: chat settings, setting the next challenge, reviewing corrections and
exporting them as a dataset."""

from __future__ import annotations

import logging
from datetime import time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.context import Context, UserError, plural
from bot.messages import Button, Reply, ReplyFile, ReplyImage
from quizzes.feedback import export_feedback, review, zip_folder
from storage.protocols import CorrectionRecord

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
ON_WORDS = {"on", "yes", "true", "1"}
OFF_WORDS = {"off", "no", "false", "0"}


async def cmd_settings(core: Core, ctx: Context) -> list[Reply]:
    chat = ctx.chat
    if not ctx.args:
        return [
            ctx.say(
                "settings.show",
                timezone=chat.timezone,
                time=chat.daily_time.strftime("%H:%M"),
                language=chat.language,
                daily=ctx.text("settings.on" if chat.daily_enabled else "settings.off"),
            )
        ]
    if not core.is_admin(ctx):
        await core.refuse(ctx, "/settings")
    if ctx.args[0].lower() == "channel":
        return await _set_channel(core, ctx)
    if len(ctx.args) != 2:
        raise core.usage(ctx)
    what, value = ctx.args[0].lower(), ctx.args[1]
    if what in ("tz", "timezone"):
        zone = parse_timezone(value)
        if zone is None:
            raise UserError("settings.bad_timezone", value=value)
        chat = await core.storage.chats.update_settings(chat.id, timezone=zone.key)
        await core.audit(ctx, "settings.timezone", zone.key)
        local = core.clock().astimezone(zone).strftime("%H:%M")
        return [ctx.say("settings.timezone_set", timezone=zone.key, local_time=local)]
    if what == "time":
        at = parse_hhmm(value)
        if at is None:
            raise UserError("settings.bad_time", value=value)
        chat = await core.storage.chats.update_settings(chat.id, daily_time=at)
        await core.audit(ctx, "settings.daily_time", at.strftime("%H:%M"))
        return [ctx.say("settings.time_set", time=at.strftime("%H:%M"), timezone=chat.timezone)]
    if what == "daily":
        if value.lower() not in ON_WORDS | OFF_WORDS:
            raise core.usage(ctx)
        enabled = value.lower() in ON_WORDS
        chat = await core.storage.chats.update_settings(chat.id, daily_enabled=enabled)
        await core.audit(ctx, "settings.daily", "on" if enabled else "off")
        return [
            ctx.say(
                "settings.daily_on" if enabled else "settings.daily_off",
                time=chat.daily_time.strftime("%H:%M"),
                timezone=chat.timezone,
            )
        ]
    raise core.usage(ctx)


async def _set_channel(core: Core, ctx: Context) -> list[Reply]:
    """``/settings channel [<#channel>]``: where the daily prompt of a multi-channel chat (a
    Discord server) is posted; without a value, the channel the command was sent in."""
    value = ctx.args[1] if len(ctx.args) > 1 else ctx.msg.channel_id
    channel = value.strip("<#>")
    if len(ctx.args) > 2 or (not channel.isdigit() and channel != ctx.msg.channel_id):
        raise core.usage(ctx)
    if not channel:
        raise UserError("settings.no_channels")
    await core.storage.chats.update_settings(ctx.chat.id, daily_channel=channel)
    await core.audit(ctx, "settings.channel", channel)
    return [ctx.say("settings.channel_set", channel=f"<#{channel}>")]


async def cmd_challenge(core: Core, ctx: Context) -> list[Reply]:
    if len(ctx.args) != 2 or ctx.args[0].lower() != "set":
        raise core.usage(ctx)
    target = ctx.args[1]
    if core.vocabulary.item(target) is None:
        raise UserError("challenge.not_hsk", value=target)
    await core.storage.chats.set_next_target(ctx.chat.id, target)
    await core.audit(ctx, "challenge.set", target)
    return [ctx.say("challenge.set", target=target, pinyin=core.challenges.prompt(target).pinyin)]


def _scope(core: Core, ctx: Context) -> int | None:
    """Operators in a private chat see every chat's corrections; chat admins their chat's."""
    if core.is_operator(ctx) and ctx.msg.chat.kind.value == "private":
        return None
    return ctx.chat.id


async def cmd_review(core: Core, ctx: Context) -> list[Reply]:
    """``/review`` shows the oldest pending correction; ``/review accept|reject <id>``."""
    scope = _scope(core, ctx)
    replies: list[Reply] = []
    if ctx.args:
        if len(ctx.args) != 2 or ctx.args[0].lower() not in ("accept", "reject"):
            raise core.usage(ctx)
        try:
            correction_id = int(ctx.args[1].lstrip("#"))
        except ValueError as exc:
            raise core.usage(ctx) from exc
        found = await core.storage.corrections.get(correction_id)
        if found is None or (scope is not None and found.chat_id != scope):
            raise UserError("review.not_found", id=correction_id)
        accept = ctx.args[0].lower() == "accept"
        result = await review(core.storage, correction_id, accept, ctx.user.id, core.clock())
        if result is None:
            raise UserError("review.already", id=correction_id, status=found.status)
        await core.audit(ctx, "review." + ("accept" if accept else "reject"), str(correction_id))
        if accept and result.points < 0:
            replies.append(
                ctx.say("review.accepted_taken", id=correction_id, points=-result.points)
            )
        elif accept:
            replies.append(ctx.say("review.accepted", id=correction_id, points=result.points))
        else:
            replies.append(ctx.say("review.rejected", id=correction_id))
    pending = await core.storage.corrections.list(status="pending", chat_id=scope)
    if not pending:
        replies.append(ctx.say("review.none"))
        return replies
    replies.append(await _show(core, ctx, pending[0], len(pending)))
    return replies


async def _show(core: Core, ctx: Context, correction: CorrectionRecord, count: int) -> Reply:
    user = await core.storage.users.get(correction.user_id)
    image: ReplyImage | None = None
    path = core.images.path(correction.image_ref)
    if path.is_file():
        image = ReplyImage(
            path.read_bytes(),
            filename=f"correction-{correction.id}{path.suffix}",
            mime_type=_MIME.get(path.suffix.lower(), "application/octet-stream"),
        )
    return Reply(
        text=ctx.text(
            "review.item",
            count=count,
            id=correction.id,
            name=(user.display_name if user else "") or ctx.text("leaderboard.anonymous"),
            label=correction.label,
            predicted=correction.predicted or "?",
            date=correction.created_at.date().isoformat(),
        ),
        image=image,
        buttons=(
            Button(ctx.text("buttons.accept"), f"/review accept {correction.id}"),
            Button(ctx.text("buttons.reject"), f"/review reject {correction.id}"),
        ),
    )


async def cmd_export(core: Core, ctx: Context) -> list[Reply]:
    now = core.clock()
    scope = _scope(core, ctx)
    folder = core.config.export_dir / f"feedback-{now:%Y%m%dT%H%M%SZ}"
    result = await export_feedback(
        core.storage, core.images, folder, key=core.config.pseudonym_key, now=now, chat_id=scope
    )
    await core.audit(ctx, "export.feedback", f"{result.images} images -> {folder.name}")
    if result.images == 0:
        return [ctx.say("export.nothing")]
    data = zip_folder(folder)
    text = ctx.text(
        "export.done",
        count=result.images,
        plural=plural(result.images),
        corrections=result.corrections,
        confirmed=result.confirmed,
        path=folder,
    )
    if len(data) > core.config.max_document_bytes:
        return [
            Reply(text=text + "\n" + ctx.text("export.too_big", size_mb=f"{len(data) / 1e6:.0f}"))
        ]
    return [Reply(text=text, document=ReplyFile(data, f"{folder.name}.zip", "application/zip"))]


def parse_timezone(value: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        # IANA names are case-sensitive on disk; users type asia/shanghai.
        lowered = {name.lower(): name for name in available_timezones()}
        name = lowered.get(value.lower())
        return ZoneInfo(name) if name else None


def parse_hhmm(value: str) -> time | None:
    try:
        hours, minutes = value.split(":")
        if len(minutes) != 2:
            return None
        return time(int(hours), int(minutes))
    except ValueError:
        return None
