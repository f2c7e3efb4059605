"""Configuration of the bot: settings from the environment or a TOML file, and logging."""

from .logging import configure_logging, log_event
from .settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "configure_logging", "load_settings", "log_event"]
