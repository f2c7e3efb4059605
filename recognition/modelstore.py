"""The installed character model's version and history: install a new one, roll back, describe."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_JSON = "model.json"
RETRAIN_REPORT = "retrain.json"
KEEP = 3  # previous versions kept for rollback
ROLLED_BACK = "rolled-back-"
RESTART = "A running bot loads its model when it starts: restart it to use the one above."


class StoreError(Exception):
    """A model directory is missing or has nothing to roll back to."""


@dataclass(frozen=True)
class ModelInfo:
    """What ``hanzi-bot model show`` tells about one model directory."""

    path: Path
    version: str
    parent: str | None = None
    created: str | None = None
    figures: dict[str, float] = field(default_factory=dict)


def _meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / MODEL_JSON
    if not path.is_file():
        raise StoreError(f"no character model in {model_dir} ({MODEL_JSON} is missing)")
    meta: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return meta


def weights_digest(model_dir: Path) -> str:
    """A short content hash of the IR weights: the version of a model.json that names none."""
    ir = model_dir / str(_meta(model_dir).get("ir", "charmodel.xml"))
    digest = hashlib.sha256()
    with ir.with_suffix(".bin").open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def model_version(model_dir: Path) -> str:
    return str(_meta(model_dir).get("version") or weights_digest(model_dir))


def stamp(model_dir: Path, parent: str | None = None) -> str:
    """Give a freshly written model a version (time and weights hash) in its model.json."""
    meta = _meta(model_dir)
    version = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{weights_digest(model_dir)[:8]}"
    meta["version"] = version
    meta["created"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    if parent is not None:
        meta["parent"] = parent
    else:
        meta.pop("parent", None)
    (model_dir / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return version


def _figures(model_dir: Path) -> dict[str, float]:
    """Key figures: from the retrain report when the model came from one, else from the
    training report's synthetic test."""
    retrain = model_dir / RETRAIN_REPORT
    report = model_dir / "report.json"
    out: dict[str, float] = {}
    if retrain.is_file():
        new = json.loads(retrain.read_text("utf-8")).get("new", {})
        for part in ("feedback", "synthetic"):
            for key, value in new.get(part, {}).items():
                if isinstance(value, float):
                    out[f"{part} {key}"] = value
    elif report.is_file():
        test = json.loads(report.read_text("utf-8")).get("synthetic_test", {})
        for key in ("top1", "verify_accept_correct", "verify_accept_wrong", "unknown_rejected"):
            if isinstance(test.get(key), float):
                out[f"synthetic {key}"] = test[key]
    return out


def read_info(model_dir: Path) -> ModelInfo:
    meta = _meta(model_dir)
    return ModelInfo(
        model_dir,
        model_version(model_dir),
        meta.get("parent"),
        meta.get("created"),
        _figures(model_dir),
    )


def history_dir(model_dir: Path) -> Path:
    """Previous versions live beside the model directory, never inside it: the bot and the
    committed model files only ever see one model."""
    return model_dir.parent / f"{model_dir.name}.history"


def _entries(model_dir: Path) -> list[Path]:
    """Previous versions, newest first (named ``<number>-<version>``)."""
    root = history_dir(model_dir)
    if not root.is_dir():
        return []
    numbered = [p for p in root.iterdir() if p.is_dir() and p.name.split("-", 1)[0].isdigit()]
    return sorted(numbered, key=lambda p: int(p.name.split("-", 1)[0]), reverse=True)


def history(model_dir: Path) -> list[ModelInfo]:
    """The versions ``rollback`` can go back to, the next one first."""
    return [read_info(p) for p in _entries(model_dir)]


def staging_dir(model_dir: Path) -> Path:
    """An empty folder beside the model directory (same file system, so installing it is a
    rename) to write a new model into."""
    path = model_dir.parent / f".{model_dir.name}.new-{os.getpid()}-{time.time_ns()}"
    path.mkdir(parents=True)
    return path


def install(staged: Path, model_dir: Path, keep: int = KEEP) -> Path:
    """Make ``staged`` the model directory; the old one moves to the history. Two renames:
    a bot starting in between finds no model and says so; it never finds half of one."""
    if staged.parent.resolve() != model_dir.parent.resolve():
        raise StoreError(f"{staged} must be beside {model_dir} to be installed by renaming")
    read_info(staged)  # refuse a folder that is not a model
    entries = _entries(model_dir)
    number = int(entries[0].name.split("-", 1)[0]) + 1 if entries else 1
    previous = history_dir(model_dir) / f"{number:04d}-{model_version(model_dir)}"
    previous.parent.mkdir(parents=True, exist_ok=True)
    model_dir.rename(previous)
    try:
        staged.rename(model_dir)
    except OSError:
        previous.rename(model_dir)
        raise
    for old in _entries(model_dir)[max(keep, 1) :]:
        shutil.rmtree(old)
    return previous


def rollback(model_dir: Path) -> ModelInfo:
    """Put the previous version back; the current one is kept once as ``rolled-back-*``."""
    entries = _entries(model_dir)
    if not entries:
        kept = history_dir(model_dir)
        raise StoreError(f"no previous model to roll back to (none kept in {kept})")
    if not (model_dir / MODEL_JSON).is_file():
        raise StoreError(f"no character model in {model_dir} ({MODEL_JSON} is missing)")
    root = history_dir(model_dir)
    for old in root.glob(f"{ROLLED_BACK}*"):
        shutil.rmtree(old)
    discarded = root / f"{ROLLED_BACK}{model_version(model_dir)}"
    model_dir.rename(discarded)
    try:
        entries[0].rename(model_dir)
    except OSError:
        discarded.rename(model_dir)
        raise
    return read_info(model_dir)


LABELS = {
    "top1": "top-1",
    "verify_accept_correct": "right answers accepted",
    "verify_accept_wrong": "wrong answers accepted",
    "unknown_rejected": "unknown writing rejected",
    "incomplete_flagged": "incomplete flagged",
}


def _figure_line(key: str, value: float) -> str:
    part, _, metric = key.partition(" ")
    where = "held-out feedback" if part == "feedback" else f"{part} test"
    return f"  {where}, {LABELS.get(metric, metric)}: {100 * value:.1f}%"


def describe(model_dir: Path) -> str:
    """The active version, its parent, key figures and the versions to roll back to."""
    info = read_info(model_dir)
    lines = [
        f"Active character model: {model_dir}",
        f"  version: {info.version}",
        f"  parent:  {info.parent or '-'}",
        f"  created: {info.created or '-'}",
    ]
    lines += [_figure_line(key, value) for key, value in info.figures.items()]
    previous = history(model_dir)
    if previous:
        lines.append("Previous versions (hanzi-bot model rollback goes back to the first):")
        lines += [f"  {p.version} (parent {p.parent or '-'})" for p in previous]
    else:
        lines.append("No previous versions kept: nothing to roll back to.")
    lines.append("A running bot uses the model it loaded when it started.")
    return "\n".join(lines)
