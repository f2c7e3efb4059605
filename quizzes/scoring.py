"""Points for an answer to the daily challenge."""

from __future__ import annotations

BASE_POINTS = 10
FIRST_TRY_BONUS = 5


def points_for_correct(*, earlier_attempts_today: int, already_correct_today: bool) -> int:
    """Only the first correct answer of a day scores; getting it on the first try earns more."""
    if already_correct_today:
        return 0
    return BASE_POINTS + (FIRST_TRY_BONUS if earlier_attempts_today == 0 else 0)
