"""Discord adapter: discord.py events in, neutral messages to the core, replies back out."""
