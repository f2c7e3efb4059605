"""Points for an answer to the daily challenge, and streaks with freezes, as pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

BASE_POINTS = 10
FIRST_TRY_BONUS = 5
# Answering soon after the prompt is posted keeps a group's day lively.
EARLY_BONUS = 3
EARLY_WINDOW = timedelta(hours=2)
HINT_COST = 2
MIN_POINTS = 4  # a correct answer after every hint still beats not answering

FREEZE_EVERY = 7  # a streak day divisible by this earns a freeze
MAX_FREEZES = 2


@dataclass(frozen=True, slots=True)
class Points:
    """The points of a correct answer, with its parts so the reply can explain them."""

    base: int
    first_try: int = 0
    early: int = 0
    hints: int = 0  # negative: what the hints cost

    @property
    def total(self) -> int:
        return max(MIN_POINTS, self.base + self.first_try + self.early + self.hints)


def points_for_correct(
    *,
    earlier_attempts: int,
    hints_used: int,
    answered_at: datetime,
    posted_at: datetime | None,
) -> Points:
    """The day's first correct answer: more on the first try, more soon after the post,
    less for each hint taken. Only the first correct answer of a day scores at all (the
    storage enforces that atomically)."""
    first_try = FIRST_TRY_BONUS if earlier_attempts == 0 and hints_used == 0 else 0
    early = (
        EARLY_BONUS
        if posted_at is not None and timedelta(0) <= answered_at - posted_at <= EARLY_WINDOW
        else 0
    )
    return Points(base=BASE_POINTS, first_try=first_try, early=early, hints=-HINT_COST * hints_used)


@dataclass(frozen=True, slots=True)
class Streak:
    """A user's run of local days with a correct answer in one chat.

    ``last_day`` is the last day the streak covers (answered, or bridged by a freeze).
    Freezes are earned on every 7th day of a streak, at most 2 are held, and each one
    bridges one missed day automatically.
    """

    current: int = 0
    best: int = 0
    freezes: int = 0
    last_day: date | None = None
    freezes_used: int = 0

    def settle(self, today: date) -> Streak:
        """The streak as of ``today``: missed days before today are bridged by freezes while
        they last; a gap longer than that ends it. Today itself is not missed yet."""
        if self.last_day is None or self.current == 0:
            return self
        missed = (today - self.last_day).days - 1
        if missed <= 0:
            return self
        if missed <= self.freezes:
            return replace(
                self,
                freezes=self.freezes - missed,
                last_day=today - timedelta(days=1),
                freezes_used=self.freezes_used + missed,
            )
        return replace(self, current=0, freezes=0, last_day=None)

    def answered(self, day: date) -> Streak:
        """A correct answer on ``day``; a second one on the same day changes nothing."""
        settled = self.settle(day)
        if settled.last_day == day:
            return settled
        current = settled.current + 1 if settled.last_day == day - timedelta(days=1) else 1
        freezes = settled.freezes
        if current % FREEZE_EVERY == 0:
            freezes = min(MAX_FREEZES, freezes + 1)
        return replace(
            settled,
            current=current,
            best=max(settled.best, current),
            freezes=freezes,
            last_day=day,
        )

    def alive_on(self, today: date) -> int:
        """The streak to show today: still counting when today has not been answered yet."""
        return self.settle(today).current

    def at_risk(self, today: date) -> bool:
        """True when today needs an answer to keep the streak (no freeze left to cover it)."""
        settled = self.settle(today)
        return settled.current > 0 and settled.last_day != today and settled.freezes == 0


def replay(correct_days: Iterable[date]) -> Streak:
    """The streak from the days with a correct answer, in any order, from scratch: a
    correction accepted for an old day simply changes the history that is replayed."""
    streak = Streak()
    for day in sorted(set(correct_days)):
        streak = streak.answered(day)
    return streak
