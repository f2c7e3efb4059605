"""`hanzi-bot bench leaderboard`: the bot's leaderboard queries on a generated history of answers,
timed against the naive sum over attempts they replaced."""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo

import numpy as np

from storage.protocols import Board, LeaderboardRow
from storage.sqlite import SqliteStorage, open_storage

TARGET_MS = 20.0
LIMIT = 10
# A fixed last day, so a seed gives the same file whenever it is run.
LAST_DAY = date(2026, 6, 30)
DAILY_TIME = clock_time(9, 0)
ZONES = ("UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
ZONE_SHARE = (0.3, 0.3, 0.2, 0.15, 0.05)
ITEMS = "一二三四五六七八九十人大小中国好你我他她们的是不在有这那会看说吃喝水米饭茶学生老师"
VERDICTS = ("correct", "wrong", "incomplete", "unreadable")
VERDICT_SHARE = (0.6, 0.25, 0.1, 0.05)
DAILY_SHARE = 0.85  # the rest are practice answers, which never score
TRIES_SHARE = (0.6, 0.25, 0.1, 0.05)  # answers per user per challenge: 1, 2, 3, 4
HINTS_SHARE = (0.8, 0.12, 0.05, 0.03)  # hints taken before answering: 0, 1, 2, 3
MEMBERSHIPS_PER_USER = 1.5

# The points rule of quizzes.scoring.points_for_correct, which storage may not import (it sits
# below the domain); tests/storage/test_leaderboard_bench.py checks the two agree.
BASE_POINTS, FIRST_TRY_BONUS, EARLY_BONUS, HINT_COST, MIN_POINTS = 10, 5, 3, 2, 4
EARLY_WINDOW_S = 2 * 3600

CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class Shape:
    """How much history to generate."""

    attempts: int = 1_000_000
    chats: int = 2_000
    users: int = 50_000
    days: int = 365
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Generated:
    """A generated database and what the benchmark needs to know about it."""

    path: Path
    seconds: float
    rows: dict[str, int]
    big_chat: int
    big_members: int
    typical_chat: int
    typical_members: int
    problems: list[str]


@dataclass(slots=True)
class Case:
    """One timed query: ours through SqliteStorage, the baseline over attempts."""

    name: str
    rows: int = 0  # board rows shown (at most LIMIT)
    rank: int | None = None  # for an own-rank lookup: the rank found
    ours_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    mismatch: str = ""

    def summary(self) -> dict[str, Any]:
        ours, base = _stats(self.ours_ms), _stats(self.baseline_ms)
        return {
            "name": self.name,
            "rows": self.rows,
            "rank": self.rank,
            "ours_median_ms": ours[0],
            "ours_p95_ms": ours[1],
            "baseline_median_ms": base[0],
            "baseline_p95_ms": base[1],
            "ratio": base[0] / ours[0] if ours[0] > 0 else math.inf,
            "agree": not self.mismatch,
            "mismatch": self.mismatch,
        }


def _stats(samples: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank) in ms."""
    if not samples:
        return 0.0, 0.0
    ordered = sorted(samples)
    n = len(ordered)
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    return median, ordered[max(0, math.ceil(0.95 * n) - 1)]


class _Bar(Protocol):
    def update(self, n: int) -> object: ...
    def close(self) -> object: ...


class _Plain:
    """Progress in tenths on stderr, for when tqdm (dev and train extras) is not installed."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.shown = max(1, total), desc, 0, -1

    def update(self, n: int) -> None:
        self.done += n
        tenth = 10 * self.done // self.total
        if tenth != self.shown:
            self.shown = tenth
            print(f"{self.desc}: {10 * tenth}%", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _Silent:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, desc: str, show: bool, unit: str = "row") -> _Bar:
    if not show:
        return _Silent()
    try:
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError:
        return _Plain(total, desc)
    bar: _Bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr)
    return bar


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _day_bounds(days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per zone, the UTC epoch second at which each local day starts (one extra for the end),
    and the local daily post time of each day; both through zoneinfo, so DST days are right."""
    first = LAST_DAY - timedelta(days=days - 1)
    starts = np.empty((len(ZONES), days + 1), np.int64)
    posts = np.empty((len(ZONES), days), np.int64)
    for z, name in enumerate(ZONES):
        tz = ZoneInfo(name)
        for i in range(days + 1):
            day = first + timedelta(days=i)
            starts[z, i] = int(datetime.combine(day, clock_time(0), tz).timestamp())
            if i < days:
                posts[z, i] = int(datetime.combine(day, DAILY_TIME, tz).timestamp())
    return starts, posts


def _recent_days(rng: np.random.Generator, days: int, n: int) -> np.ndarray:
    # Density grows linearly with the day: the bot gains users, so history grows lately.
    return np.minimum((days * np.sqrt(rng.random(n))).astype(np.int64), days - 1)


def _sessions(
    rng: np.random.Generator, weights: np.ndarray, days: int, wanted: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (membership, day) pairs: a user answers a chat's challenge at most one day each."""
    p = weights / weights.sum()
    keys = np.empty(0, np.int64)
    capacity = weights.size * days
    wanted = min(wanted, capacity)
    while keys.size < wanted:
        need = wanted - keys.size
        m = rng.choice(weights.size, size=int(need * 1.2) + 16, p=p)
        keys = np.unique(np.concatenate([keys, m * days + _recent_days(rng, days, m.size)]))
    keys = rng.permutation(keys)[:wanted]
    return keys // days, keys % days


def generate(path: Path, shape: Shape, *, progress: bool = True) -> Generated:
    """Write a seeded history into a fresh database made by open_storage's migrations."""
    if path.exists():
        raise FileExistsError(f"{path} exists; the benchmark only writes a new file")
    start = time.perf_counter()

    async def create() -> None:
        await (await open_storage(path)).close()

    asyncio.run(create())
    rng = np.random.default_rng(shape.seed)
    n_users, n_chats, days = shape.users, shape.chats, shape.days

    # Chat sizes follow Zipf's law: one chat with thousands of members, most with a handful.
    raw = 1.0 / np.arange(1, n_chats + 1)
    sizes = np.round(raw / raw.sum() * n_users * MEMBERSHIPS_PER_USER).astype(np.int64)
    sizes = rng.permutation(np.clip(sizes, 2, n_users))
    chat_zone = rng.choice(len(ZONES), size=n_chats, p=ZONE_SHARE)
    mem_chat = np.repeat(np.arange(n_chats), sizes)
    mem_user = np.concatenate([rng.choice(n_users, size=int(s), replace=False) for s in sizes])
    # A few keen learners answer nearly every day; most answer now and then.
    activity = rng.pareto(1.3, mem_chat.size) + 0.2

    n_daily = round(shape.attempts * DAILY_SHARE)
    mean_tries = float(np.dot(np.arange(1, 5), TRIES_SHARE))
    sess_m, sess_day = _sessions(rng, activity, days, math.ceil(n_daily / mean_tries * 1.1))
    tries = rng.choice(4, size=sess_m.size, p=TRIES_SHARE) + 1
    ends = np.cumsum(tries)
    keep = min(int(np.searchsorted(ends, n_daily)) + 1, ends.size)
    sess_m, sess_day, tries = sess_m[:keep], sess_day[:keep], tries[:keep]
    tries[-1] -= max(0, int(ends[keep - 1]) - n_daily)
    n_daily = int(tries.sum())
    sess_chat, sess_user = mem_chat[sess_m], mem_user[sess_m]
    sess_zone = chat_zone[sess_chat]
    hints = rng.choice(4, size=sess_m.size, p=HINTS_SHARE)

    day_starts, posts = _day_bounds(days)
    post = posts[sess_zone, sess_day]
    day_end = day_starts[sess_zone, sess_day + 1]
    # Most answers come soon after the post; retries a few minutes apart, all on the same day.
    first_at = post + (rng.random(sess_m.size) ** 2 * (day_end - post - 2400)).astype(np.int64)

    sess = np.repeat(np.arange(sess_m.size), tries)
    sess_start = np.concatenate([[0], np.cumsum(tries)[:-1]])
    k = np.arange(n_daily) - sess_start[sess]
    gaps = rng.integers(30, 600, size=n_daily)
    gaps[k == 0] = 0
    walked = np.cumsum(gaps)
    at = first_at[sess] + walked - walked[sess_start[sess]]
    verdict = rng.choice(len(VERDICTS), size=n_daily, p=VERDICT_SHARE)
    correct = verdict == 0
    first_correct = np.minimum.reduceat(np.where(correct, k, 99), sess_start)
    awarded = correct & (k == first_correct[sess])
    h = hints[sess]
    early = (at - post[sess] >= 0) & (at - post[sess] <= EARLY_WINDOW_S)
    points = np.maximum(
        MIN_POINTS,
        BASE_POINTS + FIRST_TRY_BONUS * ((k == 0) & (h == 0)) + EARLY_BONUS * early - HINT_COST * h,
    )
    points = np.where(awarded, points, 0)

    # One challenge per chat and local day that was answered, numbered in date order.
    ckeys, challenge_of = np.unique(sess_day * n_chats + sess_chat, return_inverse=True)
    challenge_target = rng.integers(len(ITEMS), size=ckeys.size)

    n_practice = shape.attempts - n_daily
    prac_m = rng.choice(activity.size, size=n_practice, p=activity / activity.sum())
    prac_day = _recent_days(rng, days, n_practice)
    prac_zone = chat_zone[mem_chat[prac_m]]
    lo, hi = day_starts[prac_zone, prac_day], day_starts[prac_zone, prac_day + 1]
    prac_at = lo + (rng.random(n_practice) * (hi - lo)).astype(np.int64)

    att_user = np.concatenate([sess_user[sess], mem_user[prac_m]]) + 1
    att_chat = np.concatenate([sess_chat[sess], mem_chat[prac_m]]) + 1
    att_challenge = np.concatenate([challenge_of[sess] + 1, np.zeros(n_practice, np.int64)])
    att_target = np.concatenate(
        [challenge_target[challenge_of[sess]], rng.integers(len(ITEMS), size=n_practice)]
    )
    att_verdict = np.concatenate(
        [verdict, rng.choice(len(VERDICTS), size=n_practice, p=VERDICT_SHARE)]
    )
    att_at = np.concatenate([at, prac_at])
    att_points = np.concatenate([points, np.zeros(n_practice, np.int64)])
    att_hints = np.concatenate([h, np.zeros(n_practice, np.int64)])
    att_conf = np.round(rng.uniform(0.5, 1.0, size=att_at.size), 3)
    wrong_guess = rng.integers(len(ITEMS), size=att_at.size)
    # Ids follow arrival, as they do in the bot.
    order = np.argsort(att_at, kind="stable")

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A throwaway file: no journal and no fsync while loading; WAL again afterwards.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -65536")
        created = _iso(int(day_starts[0, 0]) - 86_400)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO users (id, platform, external_id, display_name, language, created_at,"
            " updated_at) VALUES (?, 'bench', ?, ?, 'en', ?, ?)",
            ((i, f"u{i}", f"Learner {i}", created, created) for i in range(1, n_users + 1)),
        )
        conn.executemany(
            "INSERT INTO chats (id, platform, external_id, kind, title, timezone, daily_time,"
            " language, created_at, updated_at) VALUES (?, 'bench', ?, ?, ?, ?, ?, 'en', ?, ?)",
            (
                (
                    c + 1,
                    f"c{c + 1}",
                    "group" if sizes[c] > 2 else "private",
                    f"Study group {c + 1}",
                    ZONES[chat_zone[c]],
                    DAILY_TIME.strftime("%H:%M"),
                    created,
                    created,
                )
                for c in range(n_chats)
            ),
        )
        first_day = LAST_DAY - timedelta(days=days - 1)
        conn.executemany(
            "INSERT INTO challenges (id, chat_id, local_date, target, source, prompt_message_id,"
            " posted_at, created_at) VALUES (?, ?, ?, ?, 'auto', ?, ?, ?)",
            _challenge_rows(ckeys, n_chats, first_day, chat_zone, posts, challenge_target),
        )
        bar = _bar(att_at.size, "attempts", progress)
        columns = (att_user, att_chat, att_challenge, att_target, att_verdict, att_at)
        extra = (att_points, att_hints, att_conf, wrong_guess)
        for lo_i in range(0, att_at.size, CHUNK):
            idx = order[lo_i : lo_i + CHUNK]
            conn.executemany(
                "INSERT INTO attempts (id, user_id, chat_id, challenge_id, kind, target, image_ref,"
                " status, verdict, predicted, confidence, points, received_at, graded_at,"
                " scores_json, model_version, hints)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'graded', ?, ?, ?, ?, ?, ?, ?, 'bench', ?)",
                _attempt_rows(lo_i + 1, idx, columns, extra),
            )
            bar.update(idx.size)
        bar.close()
        conn.execute("COMMIT")
        _derive_scores(conn)
        rows = {
            table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in (
                "users",
                "chats",
                "challenges",
                "attempts",
                "daily_scores",
                "chat_totals",
                "user_totals",
            )
        }
        problems = _consistency(conn)
        big, typical = _chosen_chats(conn, LAST_DAY)
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    return Generated(
        path=path,
        seconds=time.perf_counter() - start,
        rows=rows,
        big_chat=big,
        big_members=int(sizes[big - 1]),
        typical_chat=typical,
        typical_members=int(sizes[typical - 1]),
        problems=problems,
    )


def _challenge_rows(
    ckeys: np.ndarray,
    n_chats: int,
    first_day: date,
    chat_zone: np.ndarray,
    posts: np.ndarray,
    targets: np.ndarray,
) -> Iterator[tuple[Any, ...]]:
    for i, (key, target) in enumerate(zip(ckeys.tolist(), targets.tolist(), strict=True)):
        day, chat = divmod(key, n_chats)
        posted = _iso(int(posts[chat_zone[chat], day]))
        local = (first_day + timedelta(days=day)).isoformat()
        yield i + 1, chat + 1, local, ITEMS[target], str(1000 + i), posted, posted


def _attempt_rows(
    first_id: int,
    idx: np.ndarray,
    columns: tuple[np.ndarray, ...],
    extra: tuple[np.ndarray, ...],
) -> Iterator[tuple[Any, ...]]:
    user, chat, challenge, target, verdict, at = (c[idx].tolist() for c in columns)
    points, hints, conf, guess = (c[idx].tolist() for c in extra)
    for j in range(idx.size):
        attempt_id = first_id + j
        v = VERDICTS[verdict[j]]
        item = ITEMS[target[j]]
        predicted = {"correct": item, "incomplete": item, "wrong": ITEMS[guess[j]]}.get(v)
        digest = f"{attempt_id * 0x9E3779B97F4A7C15 % (1 << 256):064x}"
        yield (
            attempt_id,
            user[j],
            chat[j],
            challenge[j] or None,
            "daily" if challenge[j] else "practice",
            item,
            f"{digest[:2]}/{digest}.jpg",
            v,
            predicted,
            conf[j],
            points[j],
            _iso(at[j]),
            _iso(at[j] + 2),
            f'{{"{predicted or "?"}": {conf[j]}}}',
            hints[j],
        )


def _derive_scores(conn: sqlite3.Connection) -> None:
    """The score tables from the attempts, as the bot's _award builds them answer by answer:
    the awarded answer (the first correct one of a user's challenge) holds the day's points."""
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO daily_scores (chat_id, user_id, local_date, points, correct)"
        " SELECT a.chat_id, a.user_id, c.local_date, SUM(a.points), 1"
        " FROM attempts a JOIN challenges c ON c.id = a.challenge_id"
        " WHERE a.kind = 'daily' AND a.points > 0"
        " GROUP BY a.chat_id, a.user_id, c.local_date"
    )
    conn.execute(
        "INSERT INTO chat_totals (chat_id, user_id, points)"
        " SELECT chat_id, user_id, SUM(points) FROM daily_scores GROUP BY chat_id, user_id"
    )
    conn.execute(
        "INSERT INTO user_totals (user_id, points)"
        " SELECT user_id, SUM(points) FROM daily_scores GROUP BY user_id"
    )
    conn.execute("COMMIT")


def _consistency(conn: sqlite3.Connection) -> list[str]:
    """What would make the timings meaningless: scores that do not add up."""
    problems: list[str] = []
    awarded, points = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(points), 0) FROM attempts WHERE points > 0"
    ).fetchone()
    days, day_points = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(points), 0) FROM daily_scores"
    ).fetchone()
    if awarded != days:
        problems.append(f"{awarded} awarded answers but {days} scored days")
    for table in ("daily_scores", "chat_totals", "user_totals"):
        total = conn.execute(f"SELECT COALESCE(SUM(points), 0) FROM {table}").fetchone()[0]
        if total != points:
            problems.append(f"{table} holds {total} points, the attempts {points}")
    if day_points != points:
        problems.append(f"daily_scores sum {day_points} != attempts sum {points}")
    return problems


def _chosen_chats(conn: sqlite3.Connection, today: date) -> tuple[int, int]:
    """The chat with the most members, and a typical one: the median chat by members among
    those with someone scoring today, so its today board is not empty."""
    sizes = conn.execute(
        "SELECT chat_id, COUNT(*) AS n FROM chat_totals GROUP BY chat_id ORDER BY n DESC, chat_id"
    ).fetchall()
    big = int(sizes[0][0]) if sizes else 1
    active = {
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT chat_id FROM daily_scores WHERE local_date = ?", (today.isoformat(),)
        )
    }
    ranked = [int(c) for c, _ in sizes if int(c) in active and int(c) != big] or [big]
    return big, ranked[len(ranked) // 2]


def _naive_totals(board: Board, zone: str) -> tuple[str, list[Any]]:
    """The query the bot used before the score tables: points summed over the attempts,
    filtered by chat and by the UTC bounds of the chat's local days."""
    where: list[str] = []
    params: list[Any] = []
    if board.chat_id is not None:
        where.append("a.chat_id = ?")
        params.append(board.chat_id)
    tz = ZoneInfo(zone)
    if board.first_day is not None:
        where.append("a.received_at >= ?")
        params.append(datetime.combine(board.first_day, clock_time(0), tz).astimezone(UTC))
    if board.last_day is not None:
        where.append("a.received_at < ?")
        after = board.last_day + timedelta(days=1)
        params.append(datetime.combine(after, clock_time(0), tz).astimezone(UTC))
    params = [p.isoformat() if isinstance(p, datetime) else p for p in params]
    sql = (
        "SELECT a.user_id, u.display_name, SUM(a.points) AS points"
        " FROM attempts a JOIN users u ON u.id = a.user_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " GROUP BY a.user_id HAVING SUM(a.points) > 0"
    )
    return sql, params


async def _naive_leaderboard(
    storage: SqliteStorage, board: Board, zone: str, limit: int = LIMIT
) -> list[LeaderboardRow]:
    totals, params = _naive_totals(board, zone)
    async with storage.connection.execute(
        f"{totals} ORDER BY points DESC, a.user_id LIMIT ?", [*params, limit]
    ) as cur:
        rows = await cur.fetchall()
    out: list[LeaderboardRow] = []
    for position, row in enumerate(rows, start=1):
        rank = out[-1].rank if out and out[-1].points == row[2] else position
        out.append(LeaderboardRow(row[0], row[1], row[2], rank))
    return out


async def _naive_rank(
    storage: SqliteStorage, board: Board, zone: str, user_id: int
) -> LeaderboardRow | None:
    totals, params = _naive_totals(board, zone)
    async with storage.connection.execute(
        f"WITH t AS ({totals}) SELECT points, display_name,"
        " (SELECT COUNT(*) FROM t o WHERE o.points > t.points) FROM t WHERE user_id = ?",
        [*params, user_id],
    ) as cur:
        row = await cur.fetchone()
    return LeaderboardRow(user_id, row[1], row[0], int(row[2]) + 1) if row else None


def _top_mismatch(ours: list[LeaderboardRow], naive: list[LeaderboardRow]) -> str:
    """Empty when both lists have the same points, ranks and people, order within a tie aside
    (and, for a full list, who of the last tie made the cut)."""
    if [(r.points, r.rank) for r in ours] != [(r.points, r.rank) for r in naive]:
        return f"points/ranks {[(r.points, r.rank) for r in ours]} vs baseline " + str(
            [(r.points, r.rank) for r in naive]
        )
    cut = ours[-1].points if len(ours) == LIMIT else None
    for points in {r.points for r in ours} - {cut}:
        mine = {r.user_id for r in ours if r.points == points}
        theirs = {r.user_id for r in naive if r.points == points}
        if mine != theirs:
            return f"users with {points} points: {sorted(mine)} vs baseline {sorted(theirs)}"
    return ""


async def _timed(
    call: Callable[[], Awaitable[object]], *, warmup: int, repeat: int, budget_s: float
) -> list[float]:
    """Milliseconds per call after a warm-up; stops early (after at least five) once the time
    budget is spent, so the slow baseline does not take minutes."""
    for _ in range(warmup):
        await call()
    samples: list[float] = []
    begin = time.perf_counter()
    while len(samples) < repeat:
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= 5 and time.perf_counter() - begin > budget_s:
            break
    return samples


async def _bottom_user(storage: SqliteStorage, board: Board) -> int | None:
    """Someone with the fewest points on the board: the rank that counts everyone above."""
    rows = await storage.scores.leaderboard(board, limit=1 << 30)
    return rows[-1].user_id if rows else None


def boards(gen: Generated) -> list[tuple[str, Board]]:
    """The boards the bot builds in cmd_leaderboard, for the big and the typical chat."""
    today = LAST_DAY
    week = today - timedelta(days=6)
    out: list[tuple[str, Board]] = []
    for label, chat in (("big chat", gen.big_chat), ("typical chat", gen.typical_chat)):
        out.append((f"{label} today", Board(chat, today, today)))
        out.append((f"{label} week", Board(chat, week, today)))
        out.append((f"{label} all", Board(chat)))
    out.append(("global", Board(None)))
    return out


Query = Callable[[], Awaitable[Any]]


async def _case(name: str, ours: Query, naive: Query, repeat: int) -> Case:
    """Compare the two answers once, then time both the same way."""
    mine, theirs = await ours(), await naive()
    case = Case(name)
    if isinstance(mine, list):
        case.rows, case.mismatch = len(mine), _top_mismatch(mine, theirs)
    else:
        case.rank = mine.rank if mine else None
        if mine != theirs:
            case.mismatch = f"{mine} vs baseline {theirs}"
    case.ours_ms = await _timed(ours, warmup=5, repeat=repeat, budget_s=5.0)
    case.baseline_ms = await _timed(naive, warmup=1, repeat=repeat, budget_s=3.0)
    return case


async def measure(gen: Generated, *, repeat: int = 200, progress: bool = True) -> list[Case]:
    """Time every board and an own-rank lookup near its bottom, ours and the baseline, on the
    connection the bot would use."""
    storage = await open_storage(gen.path)
    scores = storage.scores
    cases: list[Case] = []
    try:
        zones = {
            int(r[0]): str(r[1])
            for r in await storage.connection.execute_fetchall("SELECT id, timezone FROM chats")
        }
        plan = boards(gen)
        bar = _bar(2 * len(plan), "queries", progress, unit="query")
        for name, board in plan:
            zone = zones.get(board.chat_id, "UTC") if board.chat_id is not None else "UTC"
            cases.append(
                await _case(
                    name,
                    partial(scores.leaderboard, board, LIMIT),
                    partial(_naive_leaderboard, storage, board, zone),
                    repeat,
                )
            )
            bar.update(1)
            user = await _bottom_user(storage, board)
            if user is not None:
                cases.append(
                    await _case(
                        f"{name} my rank",
                        partial(scores.rank, board, user),
                        partial(_naive_rank, storage, board, zone, user),
                        repeat,
                    )
                )
            bar.update(1)
        bar.close()
    finally:
        await storage.close()
    return cases


def report(shape: Shape, gen: Generated, cases: list[Case]) -> dict[str, Any]:
    summaries = [c.summary() for c in cases]
    worst = max(summaries, key=lambda s: s["ours_median_ms"]) if summaries else None
    return {
        "shape": asdict(shape),
        "generation_s": round(gen.seconds, 2),
        "db_bytes": gen.path.stat().st_size if gen.path.exists() else 0,
        "rows": gen.rows,
        "big_chat": {"id": gen.big_chat, "members": gen.big_members},
        "typical_chat": {"id": gen.typical_chat, "members": gen.typical_members},
        "consistency_problems": gen.problems,
        "cases": summaries,
        "worst_median_ms": worst["ours_median_ms"] if worst else 0.0,
        "worst_case": worst["name"] if worst else "",
        "target_ms": TARGET_MS,
        "target_met": bool(worst is None or worst["ours_median_ms"] <= TARGET_MS),
        "agree": all(s["agree"] for s in summaries) and not gen.problems,
    }


def print_report(result: dict[str, Any], out: TextIO) -> None:
    shape = result["shape"]
    rows = result["rows"]
    print(
        f"leaderboard benchmark: {rows['attempts']:,} attempts, {shape['chats']:,} chats,"
        f" {shape['users']:,} users, {shape['days']} days (seed {shape['seed']})",
        file=out,
    )
    print(
        f"generated in {result['generation_s']:.1f} s, {result['db_bytes'] / 2**20:.0f} MiB:"
        f" {rows['daily_scores']:,} scored days, {rows['chat_totals']:,} chat totals,"
        f" {rows['user_totals']:,} user totals, {rows['challenges']:,} challenges",
        file=out,
    )
    big, typical = result["big_chat"], result["typical_chat"]
    print(
        f"big chat #{big['id']}: {big['members']:,} members;"
        f" typical chat #{typical['id']}: {typical['members']:,} members",
        file=out,
    )
    header = (
        f"{'query':<26}{'rows':>6}{'ours ms':>10}{'p95':>8}{'baseline ms':>13}{'p95':>9}"
        f"{'ratio':>9}"
    )
    print(header, file=out)
    for s in result["cases"]:
        shown = f"#{s['rank']}" if s["rank"] is not None else str(s["rows"])
        ratio = s["ratio"]
        print(
            f"{s['name']:<26}{shown:>6}{s['ours_median_ms']:>10.2f}{s['ours_p95_ms']:>8.2f}"
            f"{s['baseline_median_ms']:>13.2f}{s['baseline_p95_ms']:>9.2f}"
            f"{ratio:>8.{1 if ratio < 10 else 0}f}x",
            file=out,
        )
    verdict = "met" if result["target_met"] else "MISSED"
    print(
        f"worst median: {result['worst_median_ms']:.2f} ms ({result['worst_case']}),"
        f" target {result['target_ms']:.0f} ms: {verdict}",
        file=out,
    )
    if result["agree"]:
        print("top-10 and ranks agree with the baseline on every board", file=out)


def run_leaderboard_bench(
    shape: Shape = Shape(),
    *,
    db: Path | None = None,
    as_json: bool = False,
    repeat: int = 200,
    progress: bool = True,
    out: TextIO | None = None,
) -> int:
    """Generate, measure and print; 1 when the fast path and the baseline disagree or the
    generated scores do not add up (a bug either way), else 0."""
    out = out or sys.stdout
    if db is not None and db.exists():
        print(f"hanzi-bot: {db} exists; the benchmark only writes a new file", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hanzi-bench-") as tmp:
        path = db or Path(tmp) / "bench.sqlite3"
        gen = generate(path, shape, progress=progress)
        cases = asyncio.run(measure(gen, repeat=repeat, progress=progress))
        result = report(shape, gen, cases)
    if as_json:
        print(json.dumps(result), file=out)
    else:
        print_report(result, out)
    for problem in gen.problems:
        print(f"INCONSISTENT GENERATED DATA: {problem}", file=sys.stderr)
    for s in result["cases"]:
        if s["mismatch"]:
            print(f"MISMATCH on {s['name']}: {s['mismatch']}", file=sys.stderr)
    return 0 if result["agree"] else 1
