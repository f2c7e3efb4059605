"""Migrations: from an empty file, from every earlier version, twice, and concurrently."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.migrations import Migration, available_migrations, current_version, migrate
from storage.sqlite import connect, open_storage


def schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    return [(t, n, " ".join((s or "").split())) for t, n, s in rows]


def latest() -> int:
    return available_migrations()[-1].version


async def test_fresh_database_gets_every_table(tmp_path: Path) -> None:
    store = await open_storage(tmp_path / "new" / "bot.sqlite3")
    await store.close()
    tables = {name for kind, name, _ in schema(tmp_path / "new" / "bot.sqlite3") if kind == "table"}
    assert {
        "schema_version",
        "users",
        "chats",
        "challenges",
        "attempts",
        "srs_cards",
        "srs_review_log",
        "corrections",
        "admin_audit",
    } <= tables


async def test_pragmas_are_on(tmp_path: Path) -> None:
    store = await open_storage(tmp_path / "bot.sqlite3")
    conn = store.connection
    async with conn.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    async with conn.execute("PRAGMA foreign_keys") as cur:
        assert (await cur.fetchone())[0] == 1
    async with conn.execute("PRAGMA busy_timeout") as cur:
        assert (await cur.fetchone())[0] >= 5000
    await store.close()


async def test_running_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await open_storage(path)).close()
    before = schema(path)
    await (await open_storage(path)).close()
    assert schema(path) == before
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, latest() + 1))


@pytest.mark.parametrize("start", range(0, len(available_migrations()) + 1))
async def test_upgrade_from_each_earlier_version(tmp_path: Path, start: int) -> None:
    fresh = tmp_path / "fresh.sqlite3"
    await (await open_storage(fresh)).close()

    old = tmp_path / "old.sqlite3"
    conn = await connect(old)
    assert await migrate(conn, target=start) == start
    await conn.close()
    # Data written at the old version survives the upgrade.
    if start >= 1:
        with sqlite3.connect(old) as raw:
            raw.execute(
                "INSERT INTO users (platform, external_id, created_at, updated_at)"
                " VALUES ('x', '1', '2026-01-01', '2026-01-01')"
            )
    store = await open_storage(old)
    await store.close()
    assert schema(old) == schema(fresh)
    if start >= 1:
        with sqlite3.connect(old) as raw:
            assert raw.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1


async def test_concurrent_starts_apply_each_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    stores = await asyncio.gather(*(open_storage(path) for _ in range(4)))
    for store in stores:
        assert await current_version(store.connection) == latest()
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == latest()


async def test_a_failing_migration_rolls_back_whole(tmp_path: Path) -> None:
    conn = await connect(tmp_path / "bot.sqlite3")
    broken = [
        Migration(1, "good", "CREATE TABLE a (x INTEGER);"),
        Migration(2, "bad", "CREATE TABLE b (x INTEGER);\nINSERT INTO missing VALUES (1);"),
    ]
    with pytest.raises(sqlite3.OperationalError):
        await migrate(conn, migrations=broken)
    assert await current_version(conn) == 1
    async with conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'") as cur:
        assert await cur.fetchone() is None
    await conn.close()


def test_statement_splitting_respects_comments_and_strings() -> None:
    m = Migration(
        1,
        "x",
        "-- a comment; with a semicolon\nCREATE TABLE t (s TEXT DEFAULT 'a;b');\n"
        "INSERT INTO t VALUES ('c');\n-- trailing comment\n",
    )
    assert len(m.statements()) == 2
