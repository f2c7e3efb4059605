"""Discord adapter: discord.py events in, neutral messages to the core, replies back out."""

from bot.discord.adapter import DiscordAdapter, run_discord

__all__ = ["DiscordAdapter", "run_discord"]
