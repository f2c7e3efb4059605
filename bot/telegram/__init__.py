"""Telegram adapter: python-telegram-bot updates in, neutral messages to the core, replies out."""

from bot.telegram.adapter import TelegramAdapter, run_telegram

__all__ = ["TelegramAdapter", "run_telegram"]
