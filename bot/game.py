"""The learner's side of the game: answering with a photo, hints, practice, stats, leaderboards
and disputing a verdict. Handlers take the core and the message context."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.context import Context, UserError, plural
from bot.messages import Button, ChatKind, Photo, Reply, ReplyImage
from quizzes.challenges import local_date
from quizzes.feedback import dispute
from quizzes.hints import hint
from quizzes.scoring import Points, points_for_correct, replay
from quizzes.srs import rating_for
from quizzes.strokeorder import UnreadableImage, answer_image
from quizzes.strokes import MissingStrokes
from recognition.api import Grade, Verdict
from recognition.service import ServiceBusy
from storage.protocols import AttemptRecord, Award, Board, ChallengeRecord

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

# What a user may claim a photo shows: one to four CJK characters.
_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{1,4}")

# The recogniser's reasons for "unreadable" that deserve their own advice.
UNREADABLE_REASONS = {
    "no ink": "blank",
    "too small": "small",
    "several characters": "several",
}


@dataclass(frozen=True, slots=True)
class Graded:
    attempt: AttemptRecord
    grade: Grade
    awarded: int
    points: Points | None
    repeat: bool  # the day (or card) was already answered correctly


async def _store_and_grade(
    core: Core,
    ctx: Context,
    photo: Photo,
    *,
    kind: str,
    target: str,
    challenge: ChallengeRecord | None,
) -> tuple[AttemptRecord, Grade] | list[Reply]:
    info = core.check_photo(ctx, photo)
    # Store before grading: if anything below fails, the answer is still on disk.
    ref = await core.images.put(photo.data, info.extension)
    attempt = await core.storage.attempts.add(
        user_id=ctx.user.id,
        chat_id=ctx.chat.id,
        challenge_id=challenge.id if challenge else None,
        kind=kind,
        target=target,
        image_ref=ref,
        received_at=ctx.msg.received_at,
    )
    log.info(
        "answer.stored",
        extra={"fields": {"chat": ctx.chat.id, "user": ctx.user.id, "attempt": attempt.id}},
    )
    if core.grader is None:
        return [ctx.say("photo.saved_not_graded", attempt=attempt.id)]
    try:
        grade = await core.grader.grade(photo.data, target)
    except ServiceBusy as exc:
        # The answer is stored; it just was not graded now. Say so, and when to retry.
        log.warning("answer.busy", extra={"fields": {"attempt": attempt.id}})
        raise UserError("photo.busy", seconds=max(1, round(exc.retry_after))) from exc
    return attempt, grade


async def answer(core: Core, ctx: Context, photo: Photo) -> list[Reply]:
    """A photo with no command: an answer to the open practice card in a private chat,
    otherwise to the chat's challenge of the day."""
    if ctx.msg.chat.kind is ChatKind.PRIVATE or core.config.group_practice:
        card = await core.storage.practice.current(ctx.user.id, ctx.chat.id)
        if card is not None and not await _replies_to_a_prompt(core, ctx):
            return await _practice_answer(core, ctx, photo, *card)
    return await _daily_answer(core, ctx, photo)


async def _replies_to_a_prompt(core: Core, ctx: Context) -> bool:
    mid = ctx.msg.reply_to_message_id
    return bool(mid) and await core.storage.challenges.find_by_prompt(ctx.chat.id, mid) is not None


async def _daily_answer(core: Core, ctx: Context, photo: Photo) -> list[Reply]:
    now = core.clock()
    challenge = await core.challenges.current(ctx.chat, now)
    if ctx.msg.reply_to_message_id:
        replied = await core.storage.challenges.find_by_prompt(
            ctx.chat.id, ctx.msg.reply_to_message_id
        )
        if replied is not None and (challenge is None or replied.id != challenge.id):
            raise UserError("photo.old_prompt", date=replied.local_date.isoformat())
    if challenge is None:
        raise UserError("photo.no_challenge" if ctx.chat.daily_enabled else "photo.daily_off")
    stored = await _store_and_grade(
        core, ctx, photo, kind="daily", target=challenge.target, challenge=challenge
    )
    if isinstance(stored, list):
        return stored
    attempt, grade = stored
    tried = await core.storage.attempts.for_challenge(challenge.id, ctx.user.id)
    earlier = [a for a in tried if a.id < attempt.id]
    repeat = any(a.verdict == Verdict.CORRECT for a in earlier)
    hints = await core.storage.hints.level(ctx.user.id, ctx.chat.id, challenge.id, challenge.target)
    points = None
    award = None
    if grade.verdict is Verdict.CORRECT and not repeat:
        points = points_for_correct(
            earlier_attempts=len(earlier),
            hints_used=hints,
            answered_at=attempt.received_at,
            posted_at=challenge.posted_at,
        )
        award = Award(ctx.chat.id, ctx.user.id, challenge.local_date, points.total)
    shown = challenge.posted_at
    awarded = await _settle(
        core,
        ctx,
        attempt,
        grade,
        award=award,
        hints=hints,
        # A day already answered correctly is not reviewed again.
        first_try=None if repeat else not earlier,
        answer_time=attempt.received_at - shown if shown else None,
    )
    graded = Graded(attempt, grade, awarded, points, repeat)
    return await _verdict_replies(core, ctx, graded, photo, challenge=challenge)


async def _practice_answer(
    core: Core, ctx: Context, photo: Photo, item: str, shown_at: datetime
) -> list[Reply]:
    stored = await _store_and_grade(core, ctx, photo, kind="practice", target=item, challenge=None)
    if isinstance(stored, list):
        return stored
    attempt, grade = stored
    earlier = await core.storage.attempts.earlier_tries(
        user_id=ctx.user.id,
        chat_id=ctx.chat.id,
        kind="practice",
        target=item,
        since=shown_at,
        before_id=attempt.id,
    )
    hints = await core.storage.hints.level(ctx.user.id, ctx.chat.id, None, item)
    await _settle(
        core,
        ctx,
        attempt,
        grade,
        award=None,
        hints=hints,
        first_try=not earlier,
        answer_time=attempt.received_at - shown_at,
    )
    replies = await _verdict_replies(
        core, ctx, Graded(attempt, grade, 0, None, False), photo, challenge=None
    )
    if grade.verdict is Verdict.CORRECT:
        await core.storage.practice.finish(ctx.user.id, ctx.chat.id)
        replies.extend(await next_card(core, ctx, skip=item))
    return replies


async def _settle(
    core: Core,
    ctx: Context,
    attempt: AttemptRecord,
    grade: Grade,
    *,
    award: Award | None,
    hints: int,
    first_try: bool | None,
    answer_time: timedelta | None,
) -> int:
    """Store the grade (and the day's points, atomically) and review the card; ``first_try``
    None skips the review. Returns the points actually awarded."""
    awarded = await core.storage.attempts.record_grade(
        attempt.id,
        verdict=grade.verdict.value,
        predicted=grade.predicted,
        confidence=grade.confidence,
        graded_at=core.clock(),
        award=award,
        scores_json=json.dumps(dict(grade.scores)),
        model_version=grade.model_version,
        hints=hints,
    )
    log.info(
        "answer.graded",
        extra={
            "fields": {
                "attempt": attempt.id,
                "verdict": grade.verdict.value,
                "points": awarded,
                "kind": attempt.kind,
            }
        },
    )
    rating = (
        None
        if first_try is None
        else rating_for(
            grade.verdict.value,
            first_try=first_try,
            hints=hints,
            confidence=grade.confidence,
            answer_time=answer_time,
        )
    )
    if rating is not None and attempt.target:
        await core.deck.review(ctx.user.id, attempt.target, rating, core.clock(), attempt.id)
    return awarded


async def _verdict_replies(
    core: Core,
    ctx: Context,
    graded: Graded,
    photo: Photo,
    *,
    challenge: ChallengeRecord | None,
) -> list[Reply]:
    grade, attempt = graded.grade, graded.attempt
    target = attempt.target or ""
    lines: list[str] = []
    buttons: list[Button] = []
    image: ReplyImage | None = None
    if grade.verdict is Verdict.CORRECT:
        if graded.repeat:
            lines.append(ctx.text("verdict.correct_again"))
        elif graded.points is not None and graded.awarded:
            lines.append(ctx.text("verdict.correct", target=target, points=graded.awarded))
            lines.append(_points_breakdown(ctx, graded.points))
            streak = replay(await core.storage.scores.correct_days(ctx.user.id, ctx.chat.id))
            lines.append(
                ctx.text("verdict.streak", days=streak.current, plural=plural(streak.current))
            )
        elif graded.points is not None:
            # Another answer of the same day scored at the same moment.
            lines.append(ctx.text("verdict.correct_again"))
        else:
            lines.append(ctx.text("verdict.correct_practice", target=target))
        image = await _answer_picture(core, ctx, photo, target)
        buttons.append(Button(ctx.text("buttons.not_what_i_wrote"), f"/wrong #{attempt.id}"))
    else:
        lines.append(_verdict_text(ctx, grade))
        if grade.verdict is Verdict.WRONG and grade.predicted and grade.predicted != target:
            # What it looks like instead, drawn: it teaches the difference without giving
            # the target away (that is the last rung of the hints).
            image = await _answer_picture(
                core, ctx, photo, grade.predicted, caption_key="image.looks_like"
            )
        if grade.verdict in (Verdict.WRONG, Verdict.INCOMPLETE):
            buttons.append(
                Button(
                    ctx.text("buttons.bot_is_wrong", target=target),
                    f"/wrong #{attempt.id} {target}",
                )
            )
        if grade.verdict is Verdict.UNREADABLE:
            buttons.append(Button(ctx.text("buttons.hint"), "/hint"))
    lines.append(_scores_line(ctx, grade))
    text = "\n".join(line for line in lines if line)
    replies = [Reply(text=text, image=image, buttons=tuple(buttons))]
    if grade.verdict in (Verdict.WRONG, Verdict.INCOMPLETE):
        # Each wrong answer earns the next hint, and the next correct answer scores less.
        replies.append(
            await give_hint(core, ctx, target, challenge.id if challenge else None, button=True)
        )
    return replies


def _verdict_text(ctx: Context, grade: Grade) -> str:
    if grade.verdict is Verdict.WRONG:
        if grade.predicted:
            return ctx.text("verdict.wrong", predicted=grade.predicted)
        return ctx.text("verdict.wrong_unknown")
    if grade.verdict is Verdict.UNREADABLE and grade.reason in UNREADABLE_REASONS:
        return ctx.text(f"verdict.unreadable_{UNREADABLE_REASONS[grade.reason]}")
    return ctx.text(f"verdict.{grade.verdict.value}")


def _points_breakdown(ctx: Context, points: Points) -> str:
    parts = [ctx.text("points.base", points=points.base)]
    if points.first_try:
        parts.append(ctx.text("points.first_try", points=points.first_try))
    if points.early:
        parts.append(ctx.text("points.early", points=points.early))
    if points.hints:
        parts.append(ctx.text("points.hints", points=-points.hints))
    return ctx.text("points.breakdown", parts=", ".join(parts))


def _scores_line(ctx: Context, grade: Grade) -> str:
    if grade.confidence is None:
        return ""
    return ctx.text("verdict.scores", confidence=round(100 * grade.confidence))


async def _answer_picture(
    core: Core, ctx: Context, photo: Photo, target: str, *, caption_key: str = "image.model"
) -> ReplyImage | None:
    try:
        # Tens of milliseconds of drawing: off the event loop, like grading.
        png = await asyncio.to_thread(
            answer_image,
            photo.data,
            target,
            photo_caption=ctx.text("image.you"),
            model_caption=ctx.text(caption_key),
            strokes=core.strokes,
        )
    except (UnreadableImage, MissingStrokes, OSError) as exc:
        # A guess outside the stroke data (a non-HSK 1 character) simply has no picture.
        log.info("answer.image_skipped", extra={"fields": {"why": str(exc)}})
        return None
    return ReplyImage(png, filename="answer.png")


async def give_hint(
    core: Core, ctx: Context, target: str, challenge_id: int | None, *, button: bool = False
) -> Reply:
    used = await core.storage.hints.level(ctx.user.id, ctx.chat.id, challenge_id, target)
    try:
        given = await asyncio.to_thread(
            hint, target, used + 1, core.vocabulary, strokes=core.strokes
        )
    except (MissingStrokes, OSError) as exc:
        # Nothing given, nothing counted: a hint that could not be shown costs no points.
        log.warning("hint.unavailable", extra={"fields": {"why": str(exc)}})
        return ctx.say("hint.unavailable")
    # The target's own ladder: a word of radicals alone has no radical rung.
    level = min(given.total, used + 1)
    await core.storage.hints.add(
        user_id=ctx.user.id,
        chat_id=ctx.chat.id,
        challenge_id=challenge_id,
        item=target,
        level=level,
        at=core.clock(),
    )
    text = ctx.text("hint.header", level=level, total=given.total) + "\n"
    text += ctx.text(given.key, **given.values)
    image = ReplyImage(given.image, filename=f"hint-{level}.png") if given.image else None
    more = (Button(ctx.text("buttons.hint"), "/hint"),) if button and level < given.total else ()
    return Reply(text=text, image=image, buttons=more)


# -- commands --------------------------------------------------------------------------


async def cmd_hint(core: Core, ctx: Context) -> list[Reply]:
    if ctx.msg.chat.kind is ChatKind.PRIVATE or core.config.group_practice:
        card = await core.storage.practice.current(ctx.user.id, ctx.chat.id)
        if card is not None:
            return [await give_hint(core, ctx, card[0], None, button=True)]
    challenge = await core.challenges.current(ctx.chat, core.clock())
    if challenge is None:
        raise UserError("hint.nothing")
    tried = await core.storage.attempts.for_challenge(challenge.id, ctx.user.id)
    if any(a.verdict == Verdict.CORRECT for a in tried):
        raise UserError("hint.already_done")
    return [await give_hint(core, ctx, challenge.target, challenge.id, button=True)]


async def cmd_practice(core: Core, ctx: Context) -> list[Reply]:
    if ctx.msg.chat.kind is not ChatKind.PRIVATE and not core.config.group_practice:
        raise UserError("practice.private_only")
    if ctx.args and ctx.args[0].lower() == "stop":
        await core.storage.practice.finish(ctx.user.id, ctx.chat.id)
        return [ctx.say("practice.stopped")]
    current = await core.storage.practice.current(ctx.user.id, ctx.chat.id)
    return await next_card(core, ctx, skip=current[0] if current else "")


async def next_card(core: Core, ctx: Context, *, skip: str = "") -> list[Reply]:
    """Show the user's most overdue card and open it for a photo answer."""
    now = core.clock()
    item = await core.deck.next_due(ctx.user.id, now, skip=skip)
    if item is None:
        total = await core.storage.cards.count(ctx.user.id)
        await core.storage.practice.finish(ctx.user.id, ctx.chat.id)
        return [ctx.say("practice.nothing_due" if total == 0 else "practice.all_done", total=total)]
    await core.storage.practice.start(ctx.user.id, ctx.chat.id, item, now)
    due = await core.storage.cards.count_due(ctx.user.id, now)
    prompt = core.challenges.prompt(item)
    return [
        Reply(
            text=ctx.text(
                "practice.card",
                due=due,
                pinyin=prompt.pinyin,
                meaning=prompt.meaning,
                count=prompt.length,
                plural=plural(prompt.length),
            ),
            buttons=(
                Button(ctx.text("buttons.hint"), "/hint"),
                Button(ctx.text("buttons.skip"), "/practice"),
            ),
        )
    ]


async def cmd_stats(core: Core, ctx: Context) -> list[Reply]:
    now = core.clock()
    stats = await core.storage.attempts.stats(ctx.user.id, ctx.chat.id)
    streak = replay(await core.storage.scores.correct_days(ctx.user.id, ctx.chat.id))
    today = local_date(ctx.chat, now)
    accuracy = f"{100 * stats.correct / stats.graded:.0f}%" if stats.graded else "-"
    text = ctx.text(
        "stats.body",
        points=stats.points,
        streak=streak.alive_on(today),
        best=streak.best,
        freezes=streak.settle(today).freezes,
        attempts=stats.attempts,
        correct=stats.correct,
        graded=stats.graded,
        accuracy=accuracy,
        items=stats.items_practised,
        cards=await core.storage.cards.count(ctx.user.id),
        due=await core.storage.cards.count_due(ctx.user.id, now),
    )
    if streak.at_risk(today):
        text += "\n" + ctx.text("stats.at_risk")
    return [Reply(text=text)]


LEADERBOARD_PERIODS = ("today", "week", "all", "global")


async def cmd_leaderboard(core: Core, ctx: Context) -> list[Reply]:
    period = ctx.args[0].lower() if ctx.args else "week"
    if period not in LEADERBOARD_PERIODS:
        raise core.usage(ctx)
    today = local_date(ctx.chat, core.clock())
    board = {
        "today": Board(ctx.chat.id, today, today),
        "week": Board(ctx.chat.id, today - timedelta(days=6), today),
        "all": Board(ctx.chat.id),
        "global": Board(None),
    }[period]
    rows = await core.storage.scores.leaderboard(board, limit=10)
    if not rows:
        return [ctx.say("leaderboard.empty")]
    lines = [ctx.text(f"leaderboard.header_{period}")]
    for row in rows:
        name = row.display_name or ctx.text("leaderboard.anonymous")
        mark = ctx.text("leaderboard.you") if row.user_id == ctx.user.id else ""
        lines.append(
            ctx.text("leaderboard.row", rank=row.rank, name=name, points=row.points) + mark
        )
    if all(row.user_id != ctx.user.id for row in rows):
        mine = await core.storage.scores.rank(board, ctx.user.id)
        if mine is not None:
            name = mine.display_name or ctx.text("leaderboard.anonymous")
            lines.append("...")
            lines.append(
                ctx.text("leaderboard.row", rank=mine.rank, name=name, points=mine.points)
                + ctx.text("leaderboard.you")
            )
    return [Reply(text="\n".join(lines))]


async def cmd_wrong(core: Core, ctx: Context) -> list[Reply]:
    """``/wrong [#attempt] <hanzi>``: the photo shows <hanzi>, whatever the bot said."""
    args = list(ctx.args)
    attempt: AttemptRecord | None
    if args and args[0].startswith("#"):
        try:
            attempt_id = int(args.pop(0)[1:])
        except ValueError as exc:
            raise core.usage(ctx) from exc
        attempt = await core.storage.attempts.get(attempt_id)
        if attempt is None or attempt.user_id != ctx.user.id or attempt.chat_id != ctx.chat.id:
            raise UserError("wrong.not_yours")
    else:
        attempt = await core.storage.attempts.latest_graded(ctx.user.id, ctx.chat.id)
    if attempt is None or attempt.status != "graded":
        raise UserError("wrong.nothing")
    if not args:
        raise UserError("wrong.which", attempt=attempt.id)
    label = args[0]
    if not _HANZI.fullmatch(label):
        raise UserError("wrong.bad_label", value=label)
    correction = await dispute(core.storage, attempt, label, core.clock())
    log.info(
        "correction.recorded",
        extra={"fields": {"correction": correction.id, "attempt": attempt.id}},
    )
    return [
        ctx.say(
            "wrong.recorded",
            label=label,
            predicted=attempt.predicted or "?",
            verdict=attempt.verdict or "",
        )
    ]
