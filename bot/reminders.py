"""Reminders a learner asks for with /remind: review cards that are due, and a streak that
ends at midnight unless today's challenge is answered. Sent in their private chat, at most
one of each kind per local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.context import Context, UserError, plural
from bot.i18n import t
from bot.messages import Button, ChatKind, Reply
from quizzes.challenges import local_date
from quizzes.scoring import replay
from storage.protocols import ChatRecord, ReminderRecord

if TYPE_CHECKING:
    from bot.core import Core

# A streak reminder this many hours before the chat's local midnight, when it can still
# be saved; the cards reminder comes with the chat's daily post time.
STREAK_WARNING_AT = time(20, 0)


@dataclass(frozen=True, slots=True)
class Reminder:
    chat: ChatRecord
    reply: Reply


async def cmd_remind(core: Core, ctx: Context) -> list[Reply]:
    """``/remind [on|off]``: reminders in this private chat."""
    if ctx.msg.chat.kind is not ChatKind.PRIVATE:
        raise UserError("remind.private_only")
    if not ctx.args:
        current = await core.storage.reminders.get(ctx.user.id)
        on = current is not None and current.enabled
        return [ctx.say("remind.status_on" if on else "remind.status_off")]
    choice = ctx.args[0].lower()
    if choice not in ("on", "off"):
        raise core.usage(ctx)
    await core.storage.reminders.set(ctx.user.id, ctx.chat.id, choice == "on")
    if choice == "on":
        return [ctx.say("remind.on", time=ctx.chat.daily_time.strftime("%H:%M"))]
    return [ctx.say("remind.off")]


async def due_reminders(core: Core, now: datetime) -> list[Reminder]:
    """Reminders to send now; each is marked as sent before it is returned, so a crash
    loses a reminder rather than sending it twice."""
    out: list[Reminder] = []
    for subscription in await core.storage.reminders.enabled():
        chat = await core.storage.chats.get(subscription.chat_id)
        if chat is None or not chat.active:
            continue
        out.extend(await _for_user(core, subscription, chat, now))
    return out


async def _for_user(
    core: Core, subscription: ReminderRecord, chat: ChatRecord, now: datetime
) -> list[Reminder]:
    out: list[Reminder] = []
    local = now.astimezone(ZoneInfo(chat.timezone))
    today = local.date()
    clock = local.time().replace(tzinfo=None)
    user = subscription.user_id
    if clock >= chat.daily_time and subscription.last_due_date != today:
        due = await core.storage.cards.count_due(user, now)
        if due and await core.storage.reminders.mark(user, "due", today):
            text = t("remind.cards_due", chat.language, due=due, plural=plural(due))
            button = Button(t("buttons.practice", chat.language), "/practice")
            out.append(Reminder(chat, Reply(text=text, buttons=(button,))))
    # Checked once an evening (a streak not at risk at 20:00 cannot become so before
    # midnight), so later rounds cost nothing.
    if (
        clock >= STREAK_WARNING_AT
        and subscription.last_streak_date != today
        and await core.storage.reminders.mark(user, "streak", today)
    ):
        at_risk: list[str] = []
        for chat_id in await core.storage.scores.chats_with_days(user):
            group = await core.storage.chats.get(chat_id)
            if group is None or not group.daily_enabled:
                continue
            streak = replay(await core.storage.scores.correct_days(user, chat_id))
            if streak.at_risk(local_date(group, now)):
                at_risk.append(
                    t(
                        "remind.streak_line",
                        chat.language,
                        days=streak.current,
                        name=t("remind.this_chat", chat.language)
                        if chat_id == subscription.chat_id
                        else group.title or t("remind.this_chat", chat.language),
                    )
                )
        if at_risk:
            text = "\n".join([t("remind.streak", chat.language), *at_risk])
            out.append(Reminder(chat, Reply(text=text)))
    return out
