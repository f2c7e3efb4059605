"""Log lines as an operator reads them: one logfmt line per event, and never a token."""

import io
import logging
import re
from collections.abc import Iterator

import pytest

from config import configure_logging, log_event

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
LINE_START = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("httpx", "httpcore", "telegram.ext", "discord")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def out() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("INFO", secrets=[TOKEN], stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_an_event_is_one_line_with_its_fields(out: io.StringIO) -> None:
    log = logging.getLogger("bot.core")

    log.info(
        "photo.received",
        extra={"fields": {"chat": "telegram:-100", "user": "telegram:42", "size": 12345}},
    )

    [line] = lines(out)
    assert LINE_START.match(line)
    assert line.endswith(
        " level=info logger=bot.core event=photo.received"
        " chat=telegram:-100 user=telegram:42 size=12345"
    )


def test_log_event_helper_writes_the_same_line(out: io.StringIO) -> None:
    log_event(logging.getLogger("bot.core"), logging.WARNING, "quiz.skipped", chat="c1", n=2)
    log_event(logging.getLogger("bot.core"), "info", "quiz.posted", hanzi="你好")

    first, second = lines(out)
    assert first.endswith(" level=warning logger=bot.core event=quiz.skipped chat=c1 n=2")
    assert second.endswith(" event=quiz.posted hanzi=你好")


def test_values_with_spaces_quotes_or_newlines_are_quoted_on_one_line(out: io.StringIO) -> None:
    log_event(
        logging.getLogger("bot.core"),
        logging.INFO,
        "user.named",
        name="Ada Lovelace",
        said='he said "hi"',
        note="two\nlines",
        empty="",
    )

    [line] = lines(out)
    assert 'name="Ada Lovelace"' in line
    assert r'said="he said \"hi\""' in line
    assert r'note="two\nlines"' in line
    assert 'empty=""' in line


def test_below_the_level_nothing_is_written(out: io.StringIO) -> None:
    logging.getLogger("bot.core").debug("chatty")

    assert out.getvalue() == ""


def test_an_exception_is_followed_by_its_traceback(out: io.StringIO) -> None:
    try:
        raise RuntimeError("model exploded")
    except RuntimeError:
        logging.getLogger("bot.core").exception("grade.failed", extra={"fields": {"chat": "c1"}})

    first, *rest = lines(out)
    assert first.endswith(" level=error logger=bot.core event=grade.failed chat=c1")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "RuntimeError: model exploded"


def test_the_token_is_redacted_from_messages_fields_and_tracebacks(out: io.StringIO) -> None:
    log = logging.getLogger("bot.telegram")

    log.info("connecting with %s", TOKEN)
    log_event(log, logging.INFO, "bot.ready", url=f"https://api.telegram.org/bot{TOKEN}/getMe")
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates")
    except ConnectionError:
        log.exception("poll.failed")

    text = out.getvalue()
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text
    assert "connecting with ***" in text
    assert "url=https://api.telegram.org/bot***/getMe" in text
    assert "ConnectionError: cannot reach https://api.telegram.org/bot***/getUpdates" in text


def test_an_httpx_request_line_does_not_show_the_token(out: io.StringIO) -> None:
    logging.getLogger("httpx").warning(
        'HTTP Request: %s %s "%s %d %s"',
        "POST",
        f"https://api.telegram.org/bot{TOKEN}/getUpdates",
        "HTTP/1.1",
        502,
        "Bad Gateway",
    )

    [line] = lines(out)
    assert TOKEN not in line
    assert "https://api.telegram.org/bot***/getUpdates" in line


def test_a_token_that_was_not_configured_is_still_redacted_by_its_shape() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    other = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"

    logging.getLogger("bot").info("token.seen", extra={"fields": {"token": other}})

    assert other not in stream.getvalue()
    assert "token=***" in stream.getvalue()


def test_noisy_libraries_are_quieted(out: io.StringIO) -> None:
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("telegram.ext").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("discord").getEffectiveLevel() == logging.WARNING

    logging.getLogger("httpx").info("HTTP Request: GET https://example.org")
    assert out.getvalue() == ""


def test_at_debug_discord_speaks_but_httpx_stays_quiet() -> None:
    configure_logging("debug", stream=io.StringIO())

    assert logging.getLogger("discord").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


def test_configuring_twice_does_not_duplicate_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", secrets=[TOKEN], stream=first)
    configure_logging("INFO", secrets=[TOKEN], stream=second)

    logging.getLogger("bot").info("once")

    assert first.getvalue() == ""
    assert len(lines(second)) == 1


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="LOUD"):
        configure_logging("LOUD", stream=io.StringIO())
