"""The ``hanzi-bot`` command line: one entry point with a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from config import Settings, SettingsError, configure_logging, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hanzi-bot",
        description="A chat bot that teaches HSK 1 Chinese handwriting. Settings come from "
        "HANZI_* environment variables or a TOML file named by HANZI_CONFIG.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "run",
        help="start the bot: Telegram and/or Discord when their tokens are set, "
        "otherwise the console chat",
    )
    console = sub.add_parser("console", help="chat with the bot in this terminal")
    console.add_argument("--user", default="me", help="who you are in the chat (default: me)")
    console.add_argument(
        "--chat", default="console", help="which chat you are in (default: console)"
    )
    export = sub.add_parser(
        "export-feedback", help="write user corrections to a zip dataset (images + labels.csv)"
    )
    export.add_argument("--out", type=Path, default=None, help="folder for the zip file")
    return parser


async def _export(settings: Settings, out: Path | None) -> int:
    from datetime import UTC, datetime

    from quizzes.feedback import export_corrections
    from storage import ImageStore, open_storage

    storage = await open_storage(settings.database_path)
    try:
        result = await export_corrections(
            storage,
            ImageStore(settings.data_dir),
            out or settings.data_dir / "exports",
            datetime.now(UTC),
        )
    finally:
        await storage.close()
    if result is None:
        print("No corrections to export.")
    else:
        print(f"Exported {result.count} corrections to {result.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"hanzi-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    secrets = [
        token.get_secret_value()
        for token in (settings.telegram_token, settings.discord_token)
        if token is not None
    ]
    level = settings.log_level
    console_chat = args.command == "console" or (
        args.command == "run" and settings.telegram_token is None and settings.discord_token is None
    )
    if console_chat and "log_level" not in settings.model_fields_set:
        # In a terminal chat, INFO lines would drown the conversation.
        level = "WARNING"
    configure_logging(level, secrets=secrets)

    from bot import app

    try:
        if args.command == "console":
            asyncio.run(app.run_console(settings, user=args.user, chat=args.chat))
            return 0
        if args.command == "run":
            return asyncio.run(app.run_bot(settings))
        if args.command == "export-feedback":
            return asyncio.run(_export(settings, args.out))
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
