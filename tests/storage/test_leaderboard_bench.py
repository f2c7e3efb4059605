"""The leaderboard benchmark at a small scale: its figures, its agreement check and its data."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import storage.bench as bench
from quizzes.scoring import points_for_correct
from storage.bench import Shape, generate, run_leaderboard_bench
from storage.migrations import available_migrations

SMALL = Shape(attempts=20_000, chats=100, users=2_000, days=60, seed=3)


def case_names() -> list[str]:
    plain = [
        f"{label} {period}"
        for label in ("big chat", "typical chat")
        for period in ("today", "week", "all")
    ]
    return [*plain, "global"]


def test_prints_figures_for_every_board_and_agrees_with_the_baseline() -> None:
    out = io.StringIO()
    assert run_leaderboard_bench(SMALL, repeat=3, progress=False, out=out) == 0
    text = out.getvalue()
    rows = {line[:26].strip(): line for line in text.splitlines()}
    for name in case_names():
        for query in (name, f"{name} my rank"):
            figures = rows[query].split()[-5:]
            # ours median and p95, baseline median and p95, ratio
            assert all(float(f.rstrip("x")) >= 0 for f in figures), rows[query]
    assert "target 20 ms" in text
    assert "agree with the baseline on every board" in text


def test_json_mode_prints_exactly_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_leaderboard_bench(SMALL, as_json=True, repeat=3, progress=False) == 0
    stdout = capsys.readouterr().out
    result = json.loads(stdout)  # fails on anything before or after the object
    assert stdout.strip().count("\n") == 0
    assert result["agree"] is True and result["consistency_problems"] == []
    assert result["rows"]["attempts"] == SMALL.attempts
    names = {case["name"] for case in result["cases"]}
    assert names == {n for name in case_names() for n in (name, f"{name} my rank")}
    for case in result["cases"]:
        assert case["ours_median_ms"] > 0 and case["baseline_median_ms"] > 0
        assert case["ours_p95_ms"] >= case["ours_median_ms"]
        assert case["ratio"] > 0
    assert result["worst_median_ms"] == max(c["ours_median_ms"] for c in result["cases"])
    assert result["target_ms"] == 20.0


def test_a_wrong_fast_path_is_reported_and_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    derive = bench._derive_scores

    def swapped_totals(conn: sqlite3.Connection) -> None:
        # The top and the bottom user trade totals: every sum still adds up, the order is wrong.
        derive(conn)
        (top, high), (bottom, low) = conn.execute(
            "SELECT * FROM (SELECT user_id, points FROM user_totals"
            " ORDER BY points DESC, user_id LIMIT 1)"
            " UNION ALL SELECT * FROM (SELECT user_id, points FROM user_totals"
            " ORDER BY points, user_id LIMIT 1)"
        ).fetchall()
        conn.execute("UPDATE user_totals SET points = ? WHERE user_id = ?", (low, top))
        conn.execute("UPDATE user_totals SET points = ? WHERE user_id = ?", (high, bottom))

    monkeypatch.setattr(bench, "_derive_scores", swapped_totals)
    assert run_leaderboard_bench(SMALL, repeat=1, progress=False) == 1
    assert "MISMATCH on global" in capsys.readouterr().err


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"precious")
    assert run_leaderboard_bench(SMALL, db=path, progress=False) == 2
    assert path.read_bytes() == b"precious"


def test_generated_history_follows_the_bots_rules(tmp_path: Path) -> None:
    gen = generate(tmp_path / "a.sqlite3", SMALL, progress=False)
    assert gen.problems == []
    conn = sqlite3.connect(gen.path)
    latest = available_migrations()[-1].version
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == latest
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = conn.execute(
        "SELECT a.id, a.challenge_id, a.user_id, a.verdict, a.points, a.hints, a.received_at,"
        " c.posted_at, c.local_date, h.timezone"
        " FROM attempts a JOIN challenges c ON c.id = a.challenge_id"
        " JOIN chats h ON h.id = a.chat_id ORDER BY a.id"
    ).fetchall()
    assert rows, "no daily answers generated"
    earlier: dict[tuple[int, int], int] = {}
    scored: set[tuple[int, int]] = set()
    for _, challenge, user, verdict, points, hints, received, posted, day, zone in rows:
        key = (challenge, user)
        at = datetime.fromisoformat(received)
        # Every answer falls on its challenge's local day, so the baseline's UTC bounds agree.
        assert at.astimezone(ZoneInfo(zone)).date().isoformat() == day
        if verdict == "correct" and key not in scored:
            expected = points_for_correct(
                earlier_attempts=earlier.get(key, 0),
                hints_used=hints,
                answered_at=at,
                posted_at=datetime.fromisoformat(posted),
            ).total
            assert points == expected
            scored.add(key)
        else:
            assert points == 0
        earlier[key] = earlier.get(key, 0) + 1
    practice = conn.execute(
        "SELECT COUNT(*), SUM(points) FROM attempts WHERE challenge_id IS NULL"
    ).fetchone()
    assert practice[0] > 0 and practice[1] == 0
    days = conn.execute("SELECT COUNT(*) FROM daily_scores WHERE correct = 1").fetchone()[0]
    assert days == len(scored)
    conn.close()


def test_the_same_seed_gives_the_same_history(tmp_path: Path) -> None:
    def digest(path: Path) -> list[tuple[object, ...]]:
        with sqlite3.connect(path) as conn:
            return conn.execute(
                "SELECT user_id, chat_id, SUM(points), COUNT(*), MAX(received_at)"
                " FROM attempts GROUP BY user_id, chat_id ORDER BY user_id, chat_id"
            ).fetchall()

    small = Shape(attempts=3_000, chats=20, users=300, days=20, seed=5)
    first = generate(tmp_path / "1.sqlite3", small, progress=False)
    second = generate(tmp_path / "2.sqlite3", small, progress=False)
    other = generate(tmp_path / "3.sqlite3", Shape(3_000, 20, 300, 20, seed=6), progress=False)
    assert digest(first.path) == digest(second.path) != digest(other.path)
    assert (first.big_chat, first.typical_chat) == (second.big_chat, second.typical_chat)


def test_chats_are_skewed_one_big_many_small(tmp_path: Path) -> None:
    gen = generate(tmp_path / "a.sqlite3", SMALL, progress=False)
    assert gen.big_members >= 10 * gen.typical_members
    assert gen.big_chat != gen.typical_chat
