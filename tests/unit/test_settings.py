"""Settings as an operator meets them: environment variables, a TOML file and clear errors."""

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config import Settings, SettingsError, load_settings
from config.settings import DEFAULT_MODEL_DIR

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
DISCORD = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyz0123"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hanzi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(env: dict[str, str], config_file: Path | None = None) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(env, config_file)
    return str(info.value)


def assert_readable(message: str, variable: str) -> None:
    assert variable in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert "input_value" not in message
    assert "errors.pydantic.dev" not in message


def test_defaults_need_no_variables_at_all() -> None:
    settings = load_settings({})

    assert settings.telegram_token is None
    assert settings.discord_token is None
    assert settings.telegram_base_url is None
    assert settings.telegram_base_file_url is None
    assert settings.telegram_webhook_url is None
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.data_dir == Path("data")
    assert settings.model_dir == DEFAULT_MODEL_DIR
    assert (settings.model_dir / "strokes").is_dir()
    assert settings.timezone == "UTC"
    assert settings.tz == ZoneInfo("UTC")
    assert settings.daily_time == time(9, 0)
    assert settings.admin_ids == frozenset()
    assert settings.log_level == "INFO"
    assert settings.language == "en"
    assert settings.max_photo_bytes == 20_000_000


def test_every_setting_is_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "HANZI_TELEGRAM_TOKEN": TOKEN,
            "HANZI_DISCORD_TOKEN": DISCORD,
            "HANZI_TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
            "HANZI_TELEGRAM_BASE_FILE_URL": "http://127.0.0.1:8081/file/bot",
            "HANZI_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook",
            "HANZI_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "HANZI_TELEGRAM_WEBHOOK_PORT": "8088",
            "HANZI_TELEGRAM_WEBHOOK_SECRET": "s3cret-Token_1\n",
            "HANZI_DISCORD_DEV_GUILD": "123456789012345678",
            "HANZI_DATABASE_PATH": "/srv/hanzi/bot.db",
            "HANZI_DATA_DIR": "/srv/hanzi/data",
            "HANZI_MODEL_DIR": "/srv/hanzi/models",
            "HANZI_TIMEZONE": "Asia/Shanghai",
            "HANZI_DAILY_TIME": "08:30",
            "HANZI_ADMIN_IDS": "12345,telegram:42",
            "HANZI_LOG_LEVEL": "debug",
            "HANZI_LANGUAGE": "zh",
            "HANZI_MAX_PHOTO_BYTES": "5000000",
        }
    )

    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == DISCORD
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot"
    assert settings.telegram_base_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.telegram_webhook_url == "https://bot.example.org/hook"
    assert (settings.telegram_webhook_listen, settings.telegram_webhook_port) == ("127.0.0.1", 8088)
    assert settings.telegram_webhook_secret is not None
    assert settings.telegram_webhook_secret.get_secret_value() == "s3cret-Token_1"
    assert settings.discord_dev_guild == 123456789012345678
    assert settings.database_path == Path("/srv/hanzi/bot.db")
    assert settings.data_dir == Path("/srv/hanzi/data")
    assert settings.model_dir == Path("/srv/hanzi/models")
    assert settings.tz == ZoneInfo("Asia/Shanghai")
    assert settings.daily_time == time(8, 30)
    assert settings.admin_ids == frozenset({"12345", "telegram:42"})
    assert settings.log_level == "DEBUG"
    assert settings.language == "zh"
    assert settings.max_photo_bytes == 5_000_000


def test_variable_names_are_case_insensitive_and_unknown_ones_ignored() -> None:
    settings = load_settings({"hanzi_timezone": "Europe/Berlin", "HANZI_NO_SUCH_THING": "x"})

    assert settings.timezone == "Europe/Berlin"


def test_empty_tokens_count_as_not_set() -> None:
    settings = load_settings({"HANZI_TELEGRAM_TOKEN": "", "HANZI_DISCORD_TOKEN": "  "})

    assert settings.telegram_token is None
    assert settings.discord_token is None


def test_only_the_given_mapping_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANZI_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("HANZI_CONFIG", "/does/not/exist.toml")

    assert load_settings({}).timezone == "UTC"


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANZI_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("HANZI_ADMIN_IDS", "1,telegram:2")

    assert load_settings().timezone == "Asia/Tokyo"
    # Constructing Settings directly reads the same variables the same way.
    assert Settings().admin_ids == frozenset({"1", "telegram:2"})


def test_values_come_from_the_toml_file_named_by_hanzi_config(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'telegram_token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"\n'
        'daily_time = "07:45"\n'
        'timezone = "America/New_York"\n'
        'admin_ids = ["telegram:42", 7]\n'
        "max_photo_bytes = 1_000_000\n",
    )

    settings = load_settings({"HANZI_CONFIG": str(path)})

    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN
    assert settings.daily_time == time(7, 45)
    assert settings.timezone == "America/New_York"
    assert settings.admin_ids == frozenset({"telegram:42", "7"})
    assert settings.max_photo_bytes == 1_000_000


def test_toml_may_use_a_native_time(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "daily_time = 08:30:00\n")

    assert load_settings({}, config_file=path).daily_time == time(8, 30)


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'daily_time = "07:45"\ntimezone = "America/New_York"\n')

    settings = load_settings({"HANZI_CONFIG": str(path), "HANZI_DAILY_TIME": "21:15"})

    assert settings.daily_time == time(21, 15)
    assert settings.timezone == "America/New_York"


def test_settings_constructed_directly_read_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, 'daily_time = "07:45"\nlanguage = "de"\n')
    monkeypatch.setenv("HANZI_CONFIG", str(path))
    monkeypatch.setenv("HANZI_LANGUAGE", "fr")

    settings = Settings()

    assert settings.daily_time == time(7, 45)
    assert settings.language == "fr"


def test_a_missing_config_file_is_an_error_naming_hanzi_config(tmp_path: Path) -> None:
    message = error_of({"HANZI_CONFIG": str(tmp_path / "missing.toml")})

    assert_readable(message, "HANZI_CONFIG")
    assert "missing.toml" in message


def test_an_unparsable_config_file_is_an_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, f'telegram_token = "{TOKEN}\ndaily_time = \n')

    message = error_of({"HANZI_CONFIG": str(path)})

    assert_readable(message, "HANZI_CONFIG")
    assert "not valid TOML" in message
    assert TOKEN not in message


def test_a_misspelt_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'dayly_time = "07:45"\n')

    message = error_of({"HANZI_CONFIG": str(path)})

    assert_readable(message, "HANZI_CONFIG")
    assert "dayly_time" in message


@pytest.mark.parametrize(
    ("variable", "value", "explanation"),
    [
        ("HANZI_TIMEZONE", "Mars/Olympus_Mons", "IANA time zone"),
        ("HANZI_DAILY_TIME", "25:00", "expected HH:MM (24-hour), got '25:00'"),
        ("HANZI_DAILY_TIME", "9am", "expected HH:MM (24-hour), got '9am'"),
        ("HANZI_LOG_LEVEL", "loud", "DEBUG, INFO, WARNING, ERROR"),
        ("HANZI_TELEGRAM_BASE_URL", "ftp://example.org/bot", "http"),
        ("HANZI_TELEGRAM_WEBHOOK_URL", "example.org/hook", "http"),
        ("HANZI_MAX_PHOTO_BYTES", "-5", "positive"),
        ("HANZI_MAX_PHOTO_BYTES", "lots", "integer"),
        ("HANZI_ADMIN_IDS", "telegram:", "telegram:12345"),
    ],
)
def test_a_bad_value_is_one_readable_line_naming_the_variable(
    variable: str, value: str, explanation: str
) -> None:
    message = error_of({variable: value})

    assert_readable(message, variable)
    assert message.startswith(f"{variable}: ")
    assert explanation in message


def test_a_bad_value_in_the_toml_file_names_both_the_key_and_the_variable(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'daily_time = "25:00"\n')

    message = error_of({"HANZI_CONFIG": str(path)})

    assert_readable(message, "HANZI_DAILY_TIME")
    assert "daily_time in" in message
    assert "hanzi.toml" in message


def test_several_problems_are_reported_together_on_one_line() -> None:
    message = error_of({"HANZI_TIMEZONE": "Nowhere", "HANZI_DAILY_TIME": "9am"})

    assert_readable(message, "HANZI_TIMEZONE")
    assert "HANZI_DAILY_TIME" in message
    assert "; " in message


def test_tokens_never_appear_in_errors_or_repr() -> None:
    env = {
        "HANZI_TELEGRAM_TOKEN": TOKEN,
        "HANZI_DISCORD_TOKEN": DISCORD,
        # Someone pasted the token into the neighbouring setting by mistake.
        "HANZI_TELEGRAM_BASE_URL": f"api.telegram.org/bot{TOKEN}",
        "HANZI_TELEGRAM_WEBHOOK_URL": f"ftp://{DISCORD}",
    }

    message = error_of(env)

    assert_readable(message, "HANZI_TELEGRAM_BASE_URL")
    assert "HANZI_TELEGRAM_WEBHOOK_URL" in message
    assert TOKEN not in message
    assert TOKEN.split(":")[1] not in message
    assert DISCORD not in message

    settings = load_settings({"HANZI_TELEGRAM_TOKEN": TOKEN, "HANZI_DISCORD_TOKEN": DISCORD})
    for text in (repr(settings), str(settings), repr(settings.model_dump())):
        assert TOKEN not in text
        assert DISCORD not in text


def test_a_token_of_the_wrong_type_in_toml_is_not_echoed(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "telegram_token = 123456789\n")

    message = error_of({"HANZI_CONFIG": str(path)})

    assert_readable(message, "HANZI_TELEGRAM_TOKEN")
    assert "123456789" not in message


def test_admin_ids_accept_bare_and_platform_ids_with_whitespace() -> None:
    settings = load_settings(
        {"HANZI_ADMIN_IDS": " 12345 , Telegram:42,discord : 987,, console:me "}
    )

    assert settings.admin_ids == frozenset({"12345", "telegram:42", "discord:987", "console:me"})
    # A bare id is an operator on every platform.
    assert settings.is_admin("telegram", "12345")
    assert settings.is_admin("discord", "12345")
    # A platform id only on its platform.
    assert settings.is_admin("telegram", "42")
    assert not settings.is_admin("discord", "42")
    assert settings.is_admin("discord", "987")
    assert settings.is_admin("console", "me")
    assert not settings.is_admin("telegram", "me")
    assert not settings.is_admin("telegram", "1234")


def test_nobody_is_admin_by_default() -> None:
    assert not load_settings({}).is_admin("telegram", "42")


def test_settings_cannot_be_changed_after_loading() -> None:
    settings = load_settings({})

    with pytest.raises(ValueError, match="frozen"):
        settings.timezone = "Asia/Shanghai"
