"""Every user-facing string, looked up by key from one TOML file per language."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LANGUAGE = "en"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = str(value)
    return out


@cache
def catalog(language: str) -> dict[str, str]:
    """All strings of a language as dotted keys; an unknown language is empty."""
    source = resources.files("bot.locales").joinpath(f"{language}.toml")
    if not source.is_file():
        return {}
    return _flatten(tomllib.loads(source.read_text("utf-8")))


def available_languages() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files("bot.locales").iterdir()
        if entry.name.endswith(".toml")
    )


def t(key: str, language: str = DEFAULT_LANGUAGE, /, **values: object) -> str:
    """The text for ``key`` in ``language`` (falling back to English), with values filled in."""
    template = catalog(language).get(key) or catalog(DEFAULT_LANGUAGE).get(key)
    if template is None:
        raise KeyError(f"no message {key!r}")
    return template.format(**values) if values else template
