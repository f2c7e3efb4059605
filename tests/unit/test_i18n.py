"""Every user-facing string lives in the catalog, and every catalog entry is used."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from bot.core import _UNREADABLE_REASONS, COMMANDS
from bot.i18n import available_languages, catalog, t
from recognition.api import Verdict
from recognition.images import ImageProblem

ROOT = Path(__file__).resolve().parents[2]
LOOKUPS = {"t", "say", "UserError"}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def literal_lookups() -> set[str]:
    """Keys passed as literals to t(), ctx.say() and UserError() anywhere in bot/."""
    keys: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and _name(node.func) in LOOKUPS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                keys.add(node.args[0].value)
    return keys


def referenced_keys() -> set[str]:
    keys = literal_lookups()
    # Keys built at run time from enums and periods.
    keys |= {f"photo.{p.value}" for p in ImageProblem}
    keys |= {f"verdict.{v.value}" for v in Verdict}
    keys |= {f"verdict.unreadable_{r}" for r in _UNREADABLE_REASONS.values()}
    keys |= {f"leaderboard.header_{p}" for p in ("today", "week", "all")}
    for spec in COMMANDS.values():
        keys.add(spec.description_key)
        if spec.args_key:
            keys.add(spec.args_key)
    return keys


def test_every_referenced_key_exists() -> None:
    missing = sorted(referenced_keys() - set(catalog("en")))
    assert missing == []


def test_every_catalog_entry_is_used() -> None:
    unused = sorted(set(catalog("en")) - referenced_keys())
    assert unused == []


@pytest.mark.parametrize("language", available_languages())
def test_translations_use_the_same_placeholders_as_english(language: str) -> None:
    english = catalog("en")
    for key, text in catalog(language).items():
        assert key in english, f"{language}: {key} is not an English key"
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(english[key]) if f}


def test_unknown_language_falls_back_to_english() -> None:
    assert t("help.header", "xx") == t("help.header", "en")


def test_missing_key_is_an_error_not_a_blank_message() -> None:
    with pytest.raises(KeyError):
        t("no.such_key")
