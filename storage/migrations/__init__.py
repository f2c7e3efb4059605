"""Numbered SQL migrations, applied in order inside transactions and recorded in schema_version."""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import aiosqlite

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Split the script into statements; sqlite3.complete_statement knows about comments."""
        out: list[str] = []
        buf = ""
        for line in self.sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                if buf.strip():
                    out.append(buf.strip())
                buf = ""
        if buf.strip() and not all(
            ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
        ):
            raise ValueError(f"migration {self.version:04d} ends with an incomplete statement")
        return out


def available_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001.. without gaps, found {versions}")
    return found


async def current_version(conn: aiosqlite.Connection) -> int:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(
    conn: aiosqlite.Connection,
    *,
    target: int | None = None,
    migrations: list[Migration] | None = None,
) -> int:
    """Bring the schema up to ``target`` (default: latest); safe to run twice or concurrently.

    The connection must be in autocommit mode (isolation_level=None) so the explicit
    BEGIN IMMEDIATE below is the only transaction: it takes the write lock before the
    version is re-read, so two processes starting together cannot both apply a step.
    """
    steps = migrations if migrations is not None else available_migrations()
    goal = target if target is not None else (steps[-1].version if steps else 0)
    await current_version(conn)
    for step in steps:
        if step.version > goal:
            break
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if step.version <= await current_version(conn):
                await conn.execute("ROLLBACK")
                continue
            for statement in step.statements():
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, datetime.now(UTC).isoformat()),
            )
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        log.info("schema.migrated", extra={"fields": {"version": step.version, "name": step.name}})
    return await current_version(conn)
