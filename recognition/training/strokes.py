"""Stroke data for training: the runtime's parser (quizzes.strokes) plus the full fetched set."""

from __future__ import annotations

import os
from pathlib import Path

from quizzes.strokes import (
    BOX,
    HSK1_STROKES,
    TOP,
    CharStrokes,
    MissingStrokes,
    Points,
    StrokeData,
    parse_char,
    parse_svg_path,
    to_unit,
)

__all__ = [
    "BOX",
    "DEFAULT_CACHE",
    "ENV_VAR",
    "HSK1_STROKES",
    "REPO",
    "TOP",
    "CharStrokes",
    "MissingStrokes",
    "Points",
    "StrokeData",
    "find_stroke_data",
    "parse_char",
    "parse_svg_path",
    "to_unit",
]

REPO = Path(__file__).resolve().parents[2]
# Where tools/fetch_stroke_data.sh unpacks the full package (all 9,574 characters).
DEFAULT_CACHE = REPO / ".cache" / "hanzi-writer-data"
ENV_VAR = "HANZI_STROKE_DATA"


def find_stroke_data(path: Path | str | None = None) -> StrokeData:
    """The fullest stroke data available: ``path``, $HANZI_STROKE_DATA, the fetched cache,
    or else the committed HSK 1 subset."""
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path))
    elif os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        candidates += [DEFAULT_CACHE, HSK1_STROKES]
    for candidate in candidates:
        if candidate.is_file() or (candidate.is_dir() and _has_char_files(candidate)):
            return StrokeData(candidate)
    raise FileNotFoundError(
        f"no stroke data at {', '.join(map(str, candidates))}; run tools/fetch_stroke_data.sh"
    )


def _has_char_files(path: Path) -> bool:
    return (path / "一.json").exists() or (path / "package" / "一.json").exists()
