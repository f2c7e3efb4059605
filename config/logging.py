"""Structured one-line-per-event logging (logfmt) with secrets redacted from everything written."""

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TextIO
from urllib.parse import quote

__all__ = [
    "LogfmtFormatter",
    "RedactingFilter",
    "Redactor",
    "configure_logging",
    "log_event",
]

REDACTED = "***"

# Defence in depth: tokens nobody told us about still never reach a log line.
# Telegram: "<bot id>:<35 chars>"; Discord: three base64url parts joined by dots.
TOKEN_PATTERNS = (
    re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}"),
    re.compile(r"[A-Za-z0-9_-]{24,}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"),
)

# Libraries that are chatty at INFO; httpx even logs every request URL, and Telegram's
# URLs contain the bot token.
_ALWAYS_QUIET = ("httpx", "httpcore", "telegram.ext")
_QUIET_UNLESS_DEBUG = ("discord",)

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "fields",
}

_NEEDS_QUOTES = re.compile(r'[\s"=\\]')
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.:/-]")


class Redactor:
    """Replaces the configured secrets, and anything shaped like a chat token, with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            secret = secret.strip()
            # A one- or two-character "secret" would shred every line; such a value is not a
            # real token, and the token patterns still apply.
            if len(secret) < 4:
                continue
            variants.add(secret)
            variants.add(quote(secret, safe=""))  # as it appears inside an encoded URL
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in TOKEN_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break logging
        return f"<unprintable {type(value).__name__}>"


def _record_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # mismatched %-args: keep what we have rather than raise from a filter
        return f"{_safe_str(record.msg)} {_safe_str(record.args)}"


class RedactingFilter(logging.Filter):
    """Rewrites a record so that its message, fields and traceback carry no secret.

    It runs before formatting, so the record is rewritten in place: every handler after this
    one (pytest's log capture, for instance) sees the redacted text too.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor
        record.msg = redact(_record_message(record))
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            record.fields = {str(k): self._clean(v) for k, v in fields.items()}
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, self._clean(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    def _clean(self, value: object) -> object:
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redactor(_format_value_text(value))


def _format_value_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _safe_str(value)


def _format_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _format_value_text(value)
    if not text or _NEEDS_QUOTES.search(text) or not text.isprintable():
        # JSON string escaping keeps a value on one line and is what logfmt readers expect;
        # non-ASCII (汉字) stays readable.
        return json.dumps(text, ensure_ascii=False)
    return text


def _format_key(key: str) -> str:
    return _BAD_KEY_CHARS.sub("_", key) or "_"


class LogfmtFormatter(logging.Formatter):
    """``<UTC time> level=info logger=name event=name key=value ...``, tracebacks below."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            self.formatTime(record),
            f"level={record.levelname.lower()}",
            f"logger={_format_value(record.name)}",
            f"event={_format_value(_record_message(record))}",
        ]
        fields = getattr(record, "fields", None)
        pairs: list[tuple[str, object]] = []
        if isinstance(fields, Mapping):
            pairs.extend((str(k), v) for k, v in fields.items())
        pairs.extend(
            (key, value) for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS
        )
        parts.extend(f"{_format_key(key)}={_format_value(value)}" for key, value in pairs)
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        # The filter already cleaned the record; this catches anything a formatter adds.
        return self.redactor(line)


class _HanziHandler(logging.StreamHandler[TextIO]):
    """Our root handler; its own class so a second configure_logging() can find and replace it."""


def _parse_level(level: str) -> int:
    try:
        return _LEVELS[level.strip().upper()]
    except KeyError:
        raise ValueError(
            f"unknown log level {level!r}; expected DEBUG, INFO, WARNING or ERROR"
        ) from None


def configure_logging(
    level: str, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Send every log record to ``stream`` (stderr) as one logfmt line, secrets redacted.

    Safe to call again (for example after reading new settings): the previous handler is
    replaced, not duplicated.
    """
    numeric = _parse_level(level)
    redactor = Redactor(secrets)
    handler = _HanziHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LogfmtFormatter(redactor))
    handler.addFilter(RedactingFilter(redactor))

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HanziHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)

    for name in _ALWAYS_QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING
        )


def log_event(
    logger: logging.Logger,
    level: int | str,
    event: str,
    /,
    *,
    exc_info: bool = False,
    **fields: object,
) -> None:
    """Log ``event`` with ``fields`` as key=value pairs: ``log_event(log, "info", "x", a=1)``."""
    numeric = level if isinstance(level, int) else _parse_level(level)
    # stacklevel=2: the record names the caller's line, not this helper.
    logger.log(numeric, event, exc_info=exc_info, extra={"fields": fields}, stacklevel=2)
