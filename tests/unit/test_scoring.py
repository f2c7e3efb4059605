"""Points, streaks with freezes over simulated weeks, and FSRS ratings from verdicts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fsrs import Rating

from quizzes.challenges import difficulty_weights
from quizzes.scoring import (
    BASE_POINTS,
    EARLY_BONUS,
    FIRST_TRY_BONUS,
    MAX_FREEZES,
    MIN_POINTS,
    Streak,
    points_for_correct,
    replay,
)
from quizzes.srs import rating_for

POSTED = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
D0 = date(2026, 11, 2)


def days(*offsets: int) -> list[date]:
    return [D0 + timedelta(days=o) for o in offsets]


def test_first_try_soon_after_the_post_earns_every_bonus() -> None:
    points = points_for_correct(
        earlier_attempts=0,
        hints_used=0,
        answered_at=POSTED + timedelta(minutes=30),
        posted_at=POSTED,
    )
    assert points.total == BASE_POINTS + FIRST_TRY_BONUS + EARLY_BONUS


def test_retries_and_late_answers_earn_the_base_only() -> None:
    points = points_for_correct(
        earlier_attempts=2, hints_used=0, answered_at=POSTED + timedelta(hours=5), posted_at=POSTED
    )
    assert points.total == BASE_POINTS


def test_each_hint_costs_points_but_a_correct_answer_always_scores() -> None:
    one = points_for_correct(earlier_attempts=1, hints_used=1, answered_at=POSTED, posted_at=None)
    four = points_for_correct(earlier_attempts=4, hints_used=4, answered_at=POSTED, posted_at=None)
    assert BASE_POINTS > one.total > four.total >= MIN_POINTS
    # A hint taken before the first answer also loses the first-try bonus.
    hinted = points_for_correct(
        earlier_attempts=0, hints_used=1, answered_at=POSTED, posted_at=None
    )
    assert hinted.first_try == 0


def test_a_streak_counts_consecutive_days_and_a_gap_ends_it() -> None:
    assert replay(days(0, 1, 2)).current == 3
    broken = replay(days(0, 1, 2, 5))
    assert broken.current == 1 and broken.best == 3


def test_two_answers_on_one_day_count_once() -> None:
    assert replay(days(0, 0, 1)).current == 2


def test_a_freeze_is_earned_every_7_days_and_at_most_2_are_held() -> None:
    assert replay(days(*range(6))).freezes == 0
    assert replay(days(*range(7))).freezes == 1
    assert replay(days(*range(14))).freezes == 2
    assert replay(days(*range(28))).freezes == MAX_FREEZES


def test_a_missed_day_spends_a_freeze_and_keeps_the_streak() -> None:
    # Week 1 answered every day (one freeze earned), day 7 missed, day 8 answered.
    streak = replay(days(*range(7), 8))
    assert streak.current == 8
    assert streak.freezes == 0 and streak.freezes_used == 1


def test_a_gap_longer_than_the_freezes_held_ends_the_streak() -> None:
    streak = replay(days(*range(7), 10))  # two days missed, one freeze
    assert streak.current == 1 and streak.best == 7


def test_simulated_weeks_of_a_busy_learner() -> None:
    """Six weeks: answers most days, misses one day in week 3 and two in week 5."""
    answered = [d for d in range(42) if d not in (17, 30, 31)]
    streak = replay(days(*answered))
    # Day 17 spends one of the freezes earned on days 6 and 13; day 20 (streak day 21)
    # earns it back, day 27 would earn a third but 2 is the most held; days 30-31 spend both.
    assert streak.current == 39
    assert streak.freezes_used == 3


def test_the_shown_streak_survives_today_but_not_a_missed_yesterday() -> None:
    streak = replay(days(0, 1, 2))
    assert streak.alive_on(D0 + timedelta(days=3)) == 3  # today not answered yet: still on
    assert streak.at_risk(D0 + timedelta(days=3))
    assert streak.alive_on(D0 + timedelta(days=5)) == 0  # yesterday and the day before missed
    assert Streak().alive_on(D0) == 0


@pytest.mark.parametrize(
    ("verdict", "first_try", "hints", "confidence", "seconds", "expected"),
    [
        ("correct", True, 0, 0.8, 600, Rating.Good),
        ("correct", True, 0, 0.99, 30, Rating.Easy),
        ("correct", True, 0, 0.99, 3600, Rating.Good),  # sure, but recall took long
        ("correct", False, 0, 0.99, 30, Rating.Hard),  # after a retry
        ("correct", True, 1, 0.99, 30, Rating.Hard),  # after a hint
        ("wrong", True, 0, 0.9, 30, Rating.Again),
        ("incomplete", True, 0, 0.9, 30, Rating.Again),
        ("unreadable", True, 0, None, 30, None),  # says nothing about memory
        ("invalid_target", True, 0, None, 30, None),
    ],
)
def test_the_verdict_sets_the_fsrs_rating(
    verdict: str,
    first_try: bool,
    hints: int,
    confidence: float | None,
    seconds: int,
    expected: Rating | None,
) -> None:
    rating = rating_for(
        verdict,
        first_try=first_try,
        hints=hints,
        confidence=confidence,
        answer_time=timedelta(seconds=seconds),
    )
    assert rating == expected


def test_items_the_chat_often_misses_are_more_likely() -> None:
    outcomes = {"好": (8, 10), "人": (0, 10), "你好": (3, 4)}
    hard, easy, unseen = difficulty_weights(["好", "人", "大"], outcomes)
    assert hard > unseen > easy
