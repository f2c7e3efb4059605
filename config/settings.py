"""The bot's settings, read from ``HANZI_*`` environment variables and an optional TOML file."""

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .logging import Redactor

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"

__all__ = ["CONFIG_ENV", "ENV_PREFIX", "LOG_LEVELS", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "HANZI_"
CONFIG_ENV = "HANZI_CONFIG"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_PLATFORM = re.compile(r"[a-z][a-z0-9_-]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*")


class SettingsError(Exception):
    """Settings that cannot be used; ``str()`` is one line naming each bad setting."""


@dataclass(frozen=True)
class _Inputs:
    """What load_settings() read, handed to settings_customise_sources for one construction."""

    env_values: dict[str, str] = field(default_factory=dict)
    toml_file: Path | None = None


# load_settings() reads the environment itself (so tests can pass a plain dict without
# touching os.environ) and must tell the sources so; a ContextVar keeps that per call.
_INPUTS: ContextVar[_Inputs | None] = ContextVar("hanzi_settings_inputs", default=None)


class Settings(BaseSettings):
    """Everything the composition root needs; every field has a default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        env_ignore_empty=True,
        frozen=True,
        # pydantic's own error text would otherwise quote the offending value, token or not.
        hide_input_in_errors=True,
    )

    telegram_token: SecretStr | None = None
    discord_token: SecretStr | None = None
    telegram_base_url: str | None = None
    telegram_base_file_url: str | None = None
    telegram_webhook_url: str | None = None
    # Where the webhook server listens (a reverse proxy usually terminates TLS in front);
    # without a secret, a random one is made at each start and given to Telegram.
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    telegram_webhook_secret: SecretStr | None = None
    # Slash commands are synced to this one server at start (they show there at once; global
    # commands take up to an hour to appear), for development.
    discord_dev_guild: int | None = None
    database_path: Path = Path("data/bot.sqlite3")
    data_dir: Path = Path("data")
    # The models committed beside the code, wherever the bot is started from.
    model_dir: Path = DEFAULT_MODEL_DIR
    timezone: str = "UTC"
    daily_time: time = time(9, 0)
    # NoDecode: the environment gives "1,telegram:2", not JSON.
    admin_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    log_level: str = "INFO"
    language: str = "en"
    max_photo_bytes: int = 20_000_000
    # A line recognizer with Open Model Zoo's handwritten Chinese interface (.xml or .onnx)
    # and its charset file; when both are set, text-line OCR reads lines with it.
    line_model: Path | None = None
    line_charset: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: explicit arguments, then the environment, then the TOML file.
        inputs = _INPUTS.get()
        if inputs is None:
            toml_file = _config_path(os.environ)
            environment = env_settings
        else:
            toml_file = inputs.toml_file
            environment = InitSettingsSource(settings_cls, dict(inputs.env_values))
        sources: list[PydanticBaseSettingsSource] = [init_settings, environment]
        if toml_file is not None:
            if inputs is None:
                # Readable errors before pydantic reads it; load_settings() checked already.
                _read_toml(toml_file, CONFIG_ENV)
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def tz(self) -> ZoneInfo:
        """The default time zone of new chats."""
        return ZoneInfo(self.timezone)

    def is_admin(self, platform: str, user_id: str) -> bool:
        """Whether this user operates the bot: listed by bare id or as ``platform:id``."""
        user_id = user_id.strip()
        return (
            user_id in self.admin_ids or f"{platform.strip().lower()}:{user_id}" in self.admin_ids
        )

    @field_validator("telegram_token", "discord_token", "telegram_webhook_secret", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            # A token pasted from a file often carries a newline; an empty one means "off".
            return value.strip() or None
        return value

    @field_validator(
        "telegram_base_url", "telegram_base_file_url", "telegram_webhook_url", mode="before"
    )
    @classmethod
    def _check_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        url = value.strip()
        if not url:
            return None
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises on a port that is not a number
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return url

    @field_validator("database_path", "data_dir", "model_dir", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("line_model", "line_charset", mode="after")
    @classmethod
    def _check_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser()
        if not path.is_file():
            raise ValueError(f"file {str(path)!r} does not exist")
        return path

    @field_validator("line_model", mode="after")
    @classmethod
    def _check_model_suffix(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in (".xml", ".onnx"):
            raise ValueError(
                f"expected an OpenVINO IR (.xml) or ONNX (.onnx) file, got {str(value)!r}"
            )
        return value

    @model_validator(mode="after")
    def _line_model_needs_charset(self) -> "Settings":
        if (self.line_model is None) != (self.line_charset is None):
            missing = "HANZI_LINE_CHARSET" if self.line_charset is None else "HANZI_LINE_MODEL"
            raise ValueError(
                f"HANZI_LINE_MODEL and HANZI_LINE_CHARSET go together: {missing} is not set"
            )
        return self

    @field_validator("timezone", mode="before")
    @classmethod
    def _check_timezone(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            hint = ""
            matches = [z for z in available_timezones() if z.lower() == name.lower()]
            if len(matches) == 1:
                hint = f" (did you mean {matches[0]!r}?)"
            raise ValueError(
                f"expected an IANA time zone name such as Asia/Shanghai or UTC, got {value!r}{hint}"
            ) from None
        return name

    @field_validator("daily_time", mode="before")
    @classmethod
    def _parse_daily_time(cls, value: object) -> object:
        if isinstance(value, time) and value.tzinfo is None:  # a TOML local time: 08:30:00
            return value.replace(second=0, microsecond=0)
        if isinstance(value, str) and (match := _TIME.fullmatch(value.strip())):
            return time(int(match[1]), int(match[2]))
        raise ValueError(f"expected HH:MM (24-hour), got {_show(value)}")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            entries: list[object] = list(value.split(","))
        elif isinstance(value, list | tuple | set | frozenset):
            entries = list(value)
        else:
            raise ValueError(
                f"expected comma-separated ids like 12345 or telegram:12345, got {_show(value)}"
            )
        return frozenset(admin for admin in (_parse_admin_id(entry) for entry in entries) if admin)

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: object) -> object:
        level = value.strip().upper() if isinstance(value, str) else ""
        level = "WARNING" if level == "WARN" else level
        if level not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {_show(value)}")
        return level

    @field_validator("language", mode="before")
    @classmethod
    def _check_language(cls, value: object) -> object:
        language = value.strip().lower() if isinstance(value, str) else ""
        if not _LANGUAGE.fullmatch(language):
            raise ValueError(f"expected a language code such as en or zh, got {_show(value)}")
        return language

    @field_validator("max_photo_bytes", mode="after")
    @classmethod
    def _check_positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"expected a positive number of bytes, got {value}")
        return value


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float) else type(value).__name__


def _parse_admin_id(entry: object) -> str:
    """``" Telegram : 42 "`` -> ``"telegram:42"``; a blank entry (``"1,,2"``) -> ``""``."""
    if isinstance(entry, int) and not isinstance(entry, bool):
        entry = str(entry)
    if not isinstance(entry, str):
        raise ValueError(f"expected ids like 12345 or telegram:12345, got {_show(entry)}")
    text = entry.strip()
    if not text:
        return ""
    platform, colon, user_id = text.partition(":")
    if not colon:
        platform, user_id = "", text
    platform, user_id = platform.strip().lower(), user_id.strip()
    if (colon and not _PLATFORM.fullmatch(platform)) or not user_id or re.search(r"\s", user_id):
        raise ValueError(f"expected ids like 12345 or telegram:12345, got {entry!r}")
    return f"{platform}:{user_id}" if colon else user_id


def _env_name(field_name: str) -> str:
    return f"{ENV_PREFIX}{field_name.upper()}"


def _config_path(environ: Mapping[str, str]) -> Path | None:
    for key, value in environ.items():
        if key.upper() == CONFIG_ENV and value.strip():
            return Path(value.strip()).expanduser()
    return None


def _env_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``HANZI_*`` variables that name a field, keyed by field name; blanks are unset."""
    values: dict[str, str] = {}
    for key, value in environ.items():
        if not key.upper().startswith(ENV_PREFIX) or value == "":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        # If both HANZI_X and hanzi_x are set, the conventional upper-case spelling wins.
        if name in Settings.model_fields and (name not in values or key.isupper()):
            values[name] = value
    return values


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise SettingsError(f"{label}: config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise SettingsError(f"{label}: {str(path)!r} is a directory, not a TOML file") from None
    except OSError as exc:
        raise SettingsError(f"{label}: cannot read {str(path)!r}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The decoder names line and column, never the text it choked on.
        raise SettingsError(f"{label}: {str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        # A typo in a file we own should not be silently ignored (unlike stray env vars).
        known = ", ".join(Settings.model_fields)
        raise SettingsError(
            f"{label}: unknown setting(s) {', '.join(unknown)} in {str(path)!r}; known: {known}"
        )
    return data


def _secret_fields() -> frozenset[str]:
    def mentions_secret(annotation: object) -> bool:
        return annotation is SecretStr or any(mentions_secret(a) for a in get_args(annotation))

    return frozenset(
        name for name, info in Settings.model_fields.items() if mentions_secret(info.annotation)
    )


def _secret_values(
    sources: Iterable[Mapping[str, Any]], secret_fields: frozenset[str]
) -> list[str]:
    return [
        str(source[name])
        for source in sources
        for name in secret_fields
        if isinstance(source.get(name), str | int)
    ]


def _describe(error: ErrorDetails, origin: Mapping[str, str], secret_fields: frozenset[str]) -> str:
    """One ``HANZI_X: problem`` line, written from the error's parts, never from its str()."""
    field_name = str(error["loc"][0]) if error["loc"] else ""
    name = origin.get(field_name, _env_name(field_name) if field_name else "settings")
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error" and "error" in ctx:
        # Our validators word their own messages (and never quote a secret).
        problem = str(ctx["error"])
    else:
        msg = error["msg"]
        problem = msg[:1].lower() + msg[1:]
        value = error.get("input")
        if field_name not in secret_fields and isinstance(value, str | int | float):
            problem += f", got {value!r}"
    return f"{name}: {problem}"


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Read the settings from ``env`` (default: the process environment) and the TOML file.

    The TOML file is ``config_file`` or else the one named by ``HANZI_CONFIG``; environment
    variables override it. Raises SettingsError listing every problem on one line.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    env_values = _env_values(environ)
    if config_file is not None:
        toml_file: Path | None = config_file
        label = "config file"
    else:
        toml_file = _config_path(environ)
        label = CONFIG_ENV
    toml_values = _read_toml(toml_file, label) if toml_file is not None else {}

    token = _INPUTS.set(_Inputs(env_values, toml_file))
    try:
        return Settings()
    except ValidationError as exc:
        secret_fields = _secret_fields()
        origin = {
            name: f"{_env_name(name)} ({name} in {str(toml_file)!r})"
            for name in toml_values
            if name not in env_values
        }
        redact = Redactor(_secret_values((env_values, toml_values), secret_fields))
        problems = [_describe(error, origin, secret_fields) for error in exc.errors()]
        message = "; ".join(dict.fromkeys(problems))  # keeps order, drops repeats
        # Belt and braces: no token, and nothing that would break the one-line promise.
        raise SettingsError(redact(" ".join(message.splitlines()))) from None
    finally:
        _INPUTS.reset(token)
