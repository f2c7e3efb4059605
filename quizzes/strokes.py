"""Stroke outlines and centre lines of characters (Make Me a Hanzi via hanzi-writer-data)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# The subset committed to the repository (models/ is not a package: an installed bot is given
# its model directory, as the recognition models are).
STROKES_FILE = Path("strokes") / "hsk1-strokes.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models"
HSK1_STROKES = DEFAULT_MODEL_DIR / STROKES_FILE

# The data's coordinate box: 1024 units wide, y pointing up, the top of the em box at y=900.
BOX = 1024.0
TOP = 900.0

Points = npt.NDArray[np.float64]  # shape (n, 2): x, y in the unit box, y pointing down

_TOKEN = re.compile(r"[MLQCZmlqcz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARITY = {"M": 2, "L": 2, "Q": 4, "C": 6, "Z": 0}


class MissingStrokes(KeyError):
    """The stroke data has no entry for a character (it only covers the HSK 1 charset)."""

    def __init__(self, chars: str) -> None:
        super().__init__(chars)
        self.chars = chars

    def __str__(self) -> str:
        return f"no stroke data for {self.chars!r}"


@dataclass(frozen=True, eq=False)
class CharStrokes:
    """One character's strokes in writing order, in unit-box coordinates (0..1, y down)."""

    char: str
    medians: tuple[Points, ...]
    paths: tuple[str, ...]  # SVG outline of each stroke, in data units
    # Indices of the strokes that form the radical, when the data says (``radStrokes``).
    radical_strokes: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.medians)

    @cached_property
    def outlines(self) -> tuple[tuple[Points, ...], ...]:
        """Each stroke's outline as closed polygons (parsed on first use: most uses of a
        character only need its medians)."""
        return tuple(
            tuple(to_unit(poly) for poly in parse_svg_path(path) if len(poly) >= 3)
            for path in self.paths
        )


def to_unit(points: Iterable[Iterable[float]]) -> Points:
    """Data coordinates (1024 box, y up) to the unit box with y down, as the image sees it."""
    arr = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
    out = np.empty_like(arr)
    out[:, 0] = arr[:, 0] / BOX
    out[:, 1] = (TOP - arr[:, 1]) / BOX
    return out


@cache
def _bernstein(degree: int, n: int) -> npt.NDArray[np.float64]:
    """Weights of a Bezier curve's control points at n evenly spaced steps (start excluded)."""
    t = np.linspace(0.0, 1.0, n + 1)[1:, None]
    k = np.arange(degree + 1)
    return np.asarray(
        [math.comb(degree, int(i)) for i in k] * t**k * (1 - t) ** (degree - k), dtype=np.float64
    )


def parse_svg_path(d: str, *, segments: int = 6) -> list[npt.NDArray[np.float64]]:
    """Flatten an SVG path (M, L, Q, C, Z, absolute or relative) into polygons in data units.

    Curves become ``segments`` straight pieces each: at the sizes we draw (at most a few
    hundred pixels) that is below a pixel of error for these outlines.
    """
    tokens = _TOKEN.findall(d)
    polygons: list[npt.NDArray[np.float64]] = []
    current: list[npt.NDArray[np.float64]] = []
    pos = np.zeros(2)
    start = np.zeros(2)
    cmd = ""
    i = 0

    def close() -> None:
        if current:
            polygons.append(np.vstack(current))
            current.clear()

    while i < len(tokens):
        tok = tokens[i]
        if tok.isalpha():
            cmd = tok
            i += 1
            if cmd in "Zz":
                close()
                pos = start.copy()
                continue
        elif not cmd or cmd in "Zz":
            raise ValueError(f"path data without a command: {d[:40]!r}")
        arity = _ARITY[cmd.upper()]
        if i + arity > len(tokens):
            raise ValueError(f"truncated path data: {d[:40]!r}")
        nums = np.array([float(t) for t in tokens[i : i + arity]]).reshape(-1, 2)
        i += arity
        if cmd.islower():
            nums = nums + pos
        upper = cmd.upper()
        if upper == "M":
            close()
            start = nums[0].copy()
            current.append(nums[:1])
            # Further coordinate pairs after a moveto are implicit linetos.
            cmd = "l" if cmd.islower() else "L"
        elif upper == "L":
            current.append(nums[:1])
        elif upper == "Q":
            current.append(_bernstein(2, segments) @ np.vstack([pos, nums]))
        else:
            current.append(_bernstein(3, segments + 2) @ np.vstack([pos, nums]))
        pos = nums[-1].copy()
    close()
    return polygons


def parse_char(char: str, entry: Mapping[str, Any]) -> CharStrokes:
    """Build a character's strokes from one hanzi-writer-data JSON entry."""
    strokes = entry["strokes"]
    medians = entry["medians"]
    if len(strokes) != len(medians) or not medians:
        raise ValueError(f"{char}: {len(strokes)} outlines but {len(medians)} medians")
    radical = tuple(int(i) for i in entry.get("radStrokes", ()) if 0 <= int(i) < len(medians))
    return CharStrokes(char, tuple(to_unit(m) for m in medians), tuple(strokes), radical)


class StrokeData:
    """Stroke data for many characters: a directory of ``<char>.json`` files or one JSON dict.

    Characters are parsed on first use and kept, so a training run pays for each once.
    """

    def __init__(self, source: Path | Mapping[str, Mapping[str, Any]]) -> None:
        self._dir: Path | None = None
        self._raw: dict[str, Mapping[str, Any]] = {}
        if isinstance(source, Path):
            if source.is_dir():
                # The npm tarball unpacks into package/; accept either level.
                if not any(source.glob("*.json")) and (source / "package").is_dir():
                    source = source / "package"
                self._dir = source
                names = (p.name[: -len(".json")] for p in source.glob("*.json"))
                self._chars = tuple(sorted(n for n in names if len(n) == 1))
            else:
                self._raw = dict(json.loads(source.read_text("utf-8")))
                self._chars = tuple(sorted(self._raw))
        else:
            self._raw = dict(source)
            self._chars = tuple(sorted(self._raw))
        self.source = source if isinstance(source, Path) else None
        self._parsed: dict[str, CharStrokes] = {}

    @property
    def chars(self) -> tuple[str, ...]:
        """Every character available, in code point order."""
        return self._chars

    def __contains__(self, char: object) -> bool:
        if self._dir is not None:
            return (
                isinstance(char, str) and len(char) == 1 and (self._dir / f"{char}.json").exists()
            )
        return char in self._raw

    def __len__(self) -> int:
        return len(self._chars)

    def raw(self, char: str) -> Mapping[str, Any]:
        """The JSON entry as stored (``strokes``, ``medians`` and possibly ``radStrokes``)."""
        if self._dir is not None:
            path = self._dir / f"{char}.json"
            if not path.exists():
                raise MissingStrokes(char)
            data: Mapping[str, Any] = json.loads(path.read_text("utf-8"))
            return data
        if char not in self._raw:
            raise MissingStrokes(char)
        return self._raw[char]

    def __getitem__(self, char: str) -> CharStrokes:
        found = self._parsed.get(char)
        if found is None:
            found = self._parsed[char] = parse_char(char, self.raw(char))
        return found

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes re-parse what they need rather than receive a large cache.
        state = self.__dict__.copy()
        state["_parsed"] = {}
        return state

    def of(self, text: str) -> list[CharStrokes]:
        """The strokes of every character of ``text``; MissingStrokes names all that lack data
        (so a caller can say which character of a word it cannot draw)."""
        if not text:
            raise ValueError("no characters to draw")
        missing = "".join(dict.fromkeys(ch for ch in text if ch not in self))
        if missing:
            raise MissingStrokes(missing)
        return [self[ch] for ch in text]


def load_strokes(model_dir: Path | str | None = None) -> StrokeData:
    """The committed HSK 1 stroke data: ``<model_dir>/strokes/hsk1-strokes.json`` (the app passes
    its HANZI_MODEL_DIR; the default is the repository's models/), or a JSON file given directly.

    Loaded once per path and shared: drawing only reads it.
    """
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    if not path.is_file():
        path = path / STROKES_FILE
    return _load(path.resolve())


@cache
def _load(path: Path) -> StrokeData:
    if not path.is_file():
        raise FileNotFoundError(f"no stroke data at {path} (set HANZI_MODEL_DIR to models/)")
    return StrokeData(path)


def stroke_count(char: str, strokes: StrokeData | None = None) -> int:
    """How many strokes ``char`` is written with; MissingStrokes outside the data's charset."""
    return len((strokes if strokes is not None else load_strokes())[char])
