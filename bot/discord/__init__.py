"""Discord adapter: messages, slash commands and buttons in as neutral messages for the core,
replies and daily prompts back out."""

from bot.discord.adapter import DiscordAdapter, run_discord

__all__ = ["DiscordAdapter", "run_discord"]
