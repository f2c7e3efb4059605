"""Dependencies point down only: checked by walking every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "recognition", "quizzes", "storage", "config")
ADAPTER_DIRS = ("bot/telegram", "bot/discord")
TRAINING_DIRS = ("recognition/training",)


def imports_of(path: Path) -> set[str]:
    """Top-level names and full dotted names a module imports, lazily or not."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def top(name: str) -> str:
    return name.split(".", 1)[0]


def violations(root: Path) -> list[str]:
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            in_adapter = rel.startswith(ADAPTER_DIRS)
            in_training = rel.startswith(TRAINING_DIRS)
            for name in imports_of(path):
                if (
                    package in ("recognition", "quizzes", "storage", "config")
                    and top(name) == "bot"
                ):
                    found.append(f"{rel} imports {name}: lower layers never import bot")
                if package in ("storage", "config") and top(name) in ("quizzes", "recognition"):
                    found.append(f"{rel} imports {name}: {package} sits below the domain")
                if top(name) in ("telegram", "discord") and not in_adapter:
                    found.append(f"{rel} imports {name}: only adapters import chat libraries")
                if top(name) in ("tensorflow", "keras", "tf_keras") and not in_training:
                    found.append(f"{rel} imports {name}: TensorFlow is for training only")
                if rel.startswith("bot/telegram") and name.startswith("bot.discord"):
                    found.append(f"{rel} imports {name}: adapters never import each other")
                if rel.startswith("bot/discord") and name.startswith("bot.telegram"):
                    found.append(f"{rel} imports {name}: adapters never import each other")
    return found


def test_the_layers_point_down_only() -> None:
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("path", "code", "expected"),
    [
        ("storage/leak.py", "from bot.core import Core\n", "lower layers never import bot"),
        (
            "quizzes/leak.py",
            "def f():\n    import telegram\n",
            "only adapters import chat libraries",
        ),
        ("bot/core_leak.py", "import discord.ext\n", "only adapters import chat libraries"),
        ("recognition/leak.py", "import tensorflow as tf\n", "TensorFlow is for training only"),
        ("bot/telegram/leak.py", "from bot.discord import x\n", "adapters never import each other"),
        (
            "storage/leak.py",
            "import importlib\nimportlib.import_module('bot.app')\n",
            "lower layers never import bot",
        ),
    ],
)
def test_the_checker_catches_each_kind_of_violation(
    tmp_path: Path, path: str, code: str, expected: str
) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(code)
    assert any(expected in v for v in violations(tmp_path))


def test_the_checker_allows_what_is_allowed(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "bot/telegram").mkdir()
    (tmp_path / "bot/telegram/adapter.py").write_text(
        "import telegram\nfrom bot.core import Core\n"
    )
    (tmp_path / "recognition/training").mkdir()
    (tmp_path / "recognition/training/train.py").write_text("import tensorflow\n")
    (tmp_path / "bot/core.py").write_text("from storage import open_storage\n")
    assert violations(tmp_path) == []


def test_starting_the_app_loads_no_heavy_or_platform_module() -> None:
    """What actually ends up in sys.modules when the console bot is built."""
    code = (
        "import sys, bot.app, bot.console, bot.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'telegram', 'discord'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
