"""The console chat as a user meets it: the real command, driven through stdin."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot.console import as_path
from tests.conftest import handwriting_png
from tests.recognition.photos import photo

ROOT = Path(__file__).resolve().parents[2]
HANZI_BOT = ROOT / ".venv" / "bin" / "hanzi-bot"


def run_console(
    tmp_path: Path, stdin: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = (
        {k: v for k, v in os.environ.items() if not k.startswith("HANZI_")}
        | {
            "HANZI_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
            "HANZI_DATA_DIR": str(tmp_path / "data"),
        }
        | env
    )
    command = [str(HANZI_BOT)] if HANZI_BOT.exists() else ["hanzi-bot"]
    return subprocess.run(
        [*command, "console", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )


def test_help_and_today_are_answered_from_piped_input(tmp_path: Path) -> None:
    result = run_console(tmp_path, "/help\n/today\n")
    assert result.returncode == 0, result.stderr
    assert "/leaderboard" in result.stdout
    assert "Today's challenge" in result.stdout
    assert (tmp_path / "bot.sqlite3").exists()


def test_a_dropped_image_path_is_sent_as_a_photo(tmp_path: Path) -> None:
    photo = tmp_path / "my answer.png"
    photo.write_bytes(handwriting_png())
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a picture")
    lines = [
        "/today",
        f"'{photo}'",
        str(photo).replace(" ", "\\ "),
        str(text_file),
        f"/ocr {photo}",
    ]
    result = run_console(tmp_path, "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    # Both photos were stored and graded (a cross is no HSK 1 answer to today's word).
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        graded = db.execute("SELECT COUNT(*) FROM attempts WHERE verdict IS NOT NULL")
        assert graded.fetchone()[0] == 2
    assert "Correct!" not in result.stdout
    assert "isn't a picture I can read" in result.stdout
    # /ocr reaches the line reader, which reads the cross as 十 (a cross is what 十 looks
    # like) and sends the photo with the line boxed, or finds no text; without the models
    # it says OCR is missing.
    out = result.stdout
    read = "十" in out and "-ocr-lines.png" in out
    assert read or "can't find any writing" in out or "OCR" in out
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 2


def test_the_console_user_is_an_admin(tmp_path: Path) -> None:
    result = run_console(tmp_path, "/challenge set 好\n/today\n/export\n")
    assert "Next challenge set: 好" in result.stdout
    assert "no corrections or confirmed answers to export" in result.stdout
    assert "Only" not in result.stdout


def test_several_users_and_chats(tmp_path: Path) -> None:
    run_console(tmp_path, "/today\n", "--user", "ann", "--chat", "class-a")
    run_console(tmp_path, "/today\n", "--user", "ben", "--chat", "class-b")
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        users = {r[0] for r in db.execute("SELECT external_id FROM users")}
        chats = {r[0] for r in db.execute("SELECT external_id FROM chats")}
    assert users == {"ann", "ben"} and chats == {"class-a", "class-b"}


def test_a_bad_setting_is_one_readable_line(tmp_path: Path) -> None:
    secret = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    result = run_console(tmp_path, "/help\n", HANZI_DAILY_TIME="25:99", HANZI_TELEGRAM_TOKEN=secret)
    assert result.returncode == 2
    assert "HANZI_DAILY_TIME" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and secret not in result.stderr


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{p}", True),
        ("'{p}'", True),
        ('"{p}"', True),
        ("{escaped}", True),
        ("file://{url}", True),
        ("/today", False),
        ("{p} extra", False),
    ],
)
def test_paths_as_terminals_paste_them(tmp_path: Path, line: str, expected: bool) -> None:
    photo = tmp_path / "a b.png"
    photo.write_bytes(b"x")
    text = line.format(
        p=photo, escaped=str(photo).replace(" ", "\\ "), url=str(photo).replace(" ", "%20")
    )
    assert (as_path(text) == photo) is expected


def test_a_photo_of_the_right_character_scores_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    right, wrong = tmp_path / "hao.jpg", tmp_path / "ni.jpg"
    right.write_bytes(photo("好"))
    wrong.write_bytes(photo("你"))
    lines = ["/challenge set 好", "/today", str(wrong), str(right), "/leaderboard"]
    result = run_console(tmp_path, "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert "looks like 你" in result.stdout
    assert "Correct! That's 好" in result.stdout
    # The wrong answer earned a hint (level 1), which costs 2 of the 10 points.
    assert "Hint 1 of 4" in result.stdout
    assert "1. me - 8 pts (you)" in result.stdout
