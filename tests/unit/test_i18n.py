"""Every user-facing string lives in the catalog, and every catalog entry is used."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from bot.core import COMMANDS
from bot.game import LEADERBOARD_PERIODS, UNREADABLE_REASONS
from bot.i18n import available_languages, catalog, t
from recognition.api import Verdict
from recognition.images import ImageProblem

ROOT = Path(__file__).resolve().parents[2]
LOOKUPS = {"t", "say", "text", "UserError"}
# Helpers that look up a key under a fixed prefix: option("image") -> discord_options.image.
PREFIXED = {"option": "discord_options."}


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
            if isinstance(node, ast.Call) and _name(node.func) in LOOKUPS and node.args:
                keys |= _strings(node.args[0])
            if isinstance(node, ast.Call) and _name(node.func) in PREFIXED and node.args:
                keys |= {PREFIXED[_name(node.func)] + k for k in _strings(node.args[0])}
            # A message key passed on as an argument: refuse(ctx, cmd, key="...").
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg is not None and keyword.arg.endswith("key"):
                        keys |= _strings(keyword.value)
            if isinstance(node, ast.arguments):
                named = [*zip(node.args[::-1], node.defaults[::-1], strict=False)]
                named += [
                    (a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d
                ]
                for arg, default in named:
                    if arg.arg.endswith("key"):
                        keys |= _strings(default)
    return keys


def _strings(node: ast.expr) -> set[str]:
    """The literal strings an expression can be: a constant, or either side of an if."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def hint_keys() -> set[str]:
    """The hint ladder (quizzes/hints.py) names its messages; the bot words them."""
    tree = ast.parse((ROOT / "quizzes" / "hints.py").read_text("utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("hint.")
    }


def referenced_keys() -> set[str]:
    keys = literal_lookups() | hint_keys()
    # Keys built at run time from enums and periods.
    keys |= {f"photo.{p.value}" for p in ImageProblem}
    keys |= {f"verdict.{v.value}" for v in Verdict}
    keys |= {f"verdict.unreadable_{r}" for r in UNREADABLE_REASONS.values()}
    keys |= {f"leaderboard.header_{p}" for p in LEADERBOARD_PERIODS}
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
