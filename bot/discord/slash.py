"""The Discord slash commands: each builds the text command the core knows ("/leaderboard week")
and hands it, with any attached photo, to the adapter."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import available_timezones

import discord
from discord import app_commands

from bot.core import COMMANDS
from bot.i18n import t

if TYPE_CHECKING:
    from bot.discord.adapter import DiscordAdapter

# Discord's limit on a command's description.
MAX_DESCRIPTION = 100
# Commands that change a server for everyone: hidden from members without Manage Server.
# Discord enforces this in its client only; the core checks again on every use.
ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)

Interaction = discord.Interaction[discord.Client]
Period = Literal["today", "week", "all", "global"]
OnOff = Literal["on", "off"]
Decision = Literal["accept", "reject"]


def option(name: str) -> str:
    """An option's description, from the locale file."""
    return t(f"discord_options.{name}")[:MAX_DESCRIPTION]


def describe(name: str) -> str:
    spec = COMMANDS[name]
    text = t(spec.description_key)
    if spec.admin:
        text += t("help.admin_marker")
    return text[:MAX_DESCRIPTION]


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def command_line(*parts: object) -> str:
    """``/name arg ...`` with the options a user left out dropped."""
    return " ".join(str(part) for part in parts if part not in (None, ""))


def build_tree(
    client: discord.Client, adapter: DiscordAdapter
) -> app_commands.CommandTree[discord.Client]:
    """Every core command except /start (Discord has no such convention), plus /answer."""
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    run = adapter.run_interaction
    tree.error(adapter.on_command_error)

    @tree.command(name="help", description=describe("help"))
    async def help_(interaction: Interaction) -> None:
        await run(interaction, text="/help")

    @tree.command(name="today", description=describe("today"))
    async def today(interaction: Interaction) -> None:
        await run(interaction, text="/today")

    # "Send a photo of your handwriting to answer today's challenge."
    @tree.command(name="answer", description=t("help.footer")[:MAX_DESCRIPTION])
    @app_commands.describe(image=option("image"))
    async def answer_photo(interaction: Interaction, image: discord.Attachment) -> None:
        await run(interaction, attachment=image)

    @tree.command(name="ocr", description=describe("ocr"))
    @app_commands.describe(image=option("image"))
    async def ocr(interaction: Interaction, image: discord.Attachment) -> None:
        await run(interaction, text="/ocr", attachment=image)

    @tree.command(name="hint", description=describe("hint"))
    async def hint(interaction: Interaction) -> None:
        await run(interaction, text="/hint")

    @tree.command(name="practice", description=describe("practice"))
    @app_commands.describe(stop=option("stop"))
    async def practice(interaction: Interaction, stop: bool = False) -> None:
        await run(interaction, text=command_line("/practice", "stop" if stop else None))

    @tree.command(name="leaderboard", description=describe("leaderboard"))
    @app_commands.describe(period=option("period"))
    async def leaderboard(interaction: Interaction, period: Period | None = None) -> None:
        await run(interaction, text=command_line("/leaderboard", period))

    @tree.command(name="stats", description=describe("stats"))
    async def stats(interaction: Interaction) -> None:
        await run(interaction, text="/stats")

    @tree.command(name="wrong", description=describe("wrong"))
    @app_commands.describe(hanzi=option("hanzi"), answer=option("answer"))
    async def wrong(interaction: Interaction, hanzi: str, answer: int | None = None) -> None:
        await run(interaction, text=command_line("/wrong", f"#{answer}" if answer else None, hanzi))

    # Open to everyone: members may look at the settings; the core refuses their changes.
    @tree.command(name="settings", description=describe("settings"))
    @app_commands.describe(
        tz=option("tz"), time=option("time"), daily=option("daily"), channel=option("channel")
    )
    async def settings(
        interaction: Interaction,
        tz: str | None = None,
        time: str | None = None,
        daily: OnOff | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        changes = [
            command_line("/settings", what, value)
            for what, value in (
                ("tz", tz),
                ("time", time),
                ("daily", daily),
                ("channel", f"<#{channel.id}>" if channel is not None else None),
            )
            if value
        ]
        # Each change is its own core command and reply, as if typed one after the other.
        for text in changes or ["/settings"]:
            await run(interaction, text=text)

    @settings.autocomplete("tz")
    async def zones(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        found = [zone for zone in _zones() if typed in zone.lower()][:25]  # Discord's limit
        return [app_commands.Choice(name=zone, value=zone) for zone in found]

    challenge = app_commands.Group(
        name="challenge", description=describe("challenge"), default_permissions=ADMIN_PERMISSIONS
    )

    @challenge.command(name="set", description=describe("challenge"))
    @app_commands.describe(hanzi=option("hanzi"))
    async def challenge_set(interaction: Interaction, hanzi: str) -> None:
        await run(interaction, text=command_line("/challenge set", hanzi))

    tree.add_command(challenge)

    @tree.command(name="review", description=describe("review"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(decision=option("decision"), id=option("id"))
    async def review(
        interaction: Interaction, decision: Decision | None = None, id: int | None = None
    ) -> None:
        await run(interaction, text=command_line("/review", decision, id))

    @tree.command(name="export", description=describe("export"))
    @app_commands.default_permissions(manage_guild=True)
    async def export(interaction: Interaction) -> None:
        # Zipping a chat's photos can take longer than Discord's 3 seconds.
        await run(interaction, text="/export", slow=True)

    @tree.command(name="remind", description=describe("remind"))
    @app_commands.describe(switch=option("switch"))
    async def remind(interaction: Interaction, switch: OnOff | None = None) -> None:
        await run(interaction, text=command_line("/remind", switch))

    @tree.command(name="forget", description=describe("forget"))
    async def forget(interaction: Interaction) -> None:
        # Only the one asking sees the question and its button, and so only they can press it.
        await run(interaction, text="/forget", ephemeral=True)

    return tree
