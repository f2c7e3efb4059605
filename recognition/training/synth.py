"""Synthetic handwriting: characters drawn from stroke data and fonts, degraded like photos."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from recognition.training.photo import Gray, PhotoOptions, normalize_polarity, photograph
from recognition.training.strokes import CharStrokes, Points, StrokeData, find_stroke_data

__all__ = [
    "UNKNOWN",
    "Dataset",
    "FontFace",
    "FontSplit",
    "Generator",
    "HandOptions",
    "Sample",
    "find_cjk_fonts",
    "generate",
    "normalize_polarity",
    "split_fonts",
]

Kind = Literal["char", "font", "unknown", "incomplete"]
Style = Literal["pen", "brush", "font"]
Split = Literal["train", "val", "test"]

STYLES = (0.7, 0.12, 0.18)  # shares of pen strokes, brush outlines and fonts
UNKNOWN = "unknown"  # the label of everything that is not one of the target characters
_SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
_KIND_CODE: dict[str, int] = {"char": 0, "incomplete": 1, "unknown": 2}

# Non-target characters whose handwritten forms cannot be told from an HSK 1 character, so
# teaching the model to call them "unknown" would teach it to reject good answers.
LOOKALIKES = frozenset("囗曰沒")


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated image with what it shows.

    ``label`` is the target character (also for ``incomplete``) or ``UNKNOWN``; ``dropped``
    lists the stroke indices (writing order, from 0) left out of an incomplete character;
    ``source`` says what was drawn, e.g. ``pen``, ``font:AR PL UKai CN``, ``other:鬼``.
    """

    image: Gray
    label: str
    kind: Kind
    dropped: tuple[int, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class FontFace:
    """One face of an installed font file (a .ttc holds several)."""

    path: str
    index: int
    name: str

    @property
    def group(self) -> str:
        """The design family: a font package installs its faces (weights, widths, italics)
        in one directory, so faces of one directory are one hand and split together."""
        return Path(self.path).parent.name


@dataclass(frozen=True, slots=True)
class FontSplit:
    """Fonts to train on and fonts kept for evaluation only (never the same design)."""

    train: tuple[FontFace, ...]
    held_out: tuple[FontFace, ...]


def find_cjk_fonts(dirs: Sequence[Path] = (Path("/usr/share/fonts"),)) -> tuple[FontFace, ...]:
    """Installed faces that draw Han characters (Chinese, and Japanese handwriting faces,
    which lack the simplified-only characters: ``has_glyph`` checks each one): asks
    fontconfig, else looks for known files."""
    faces: set[FontFace] = set()
    fc_list = shutil.which("fc-list")
    if fc_list:
        out = subprocess.run(
            # Faces with 一 and 四: Han, whichever language fontconfig files them under.
            [fc_list, ":charset=4e00 56db", "file", "index", "family"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for line in out.splitlines():
            m = re.match(r"(.+?): (.*?):index=(\d+)$", line.strip())
            if m and m.group(1).lower().endswith((".ttf", ".ttc", ".otf", ".otc")):
                faces.add(FontFace(m.group(1), int(m.group(3)), m.group(2).split(",")[0]))
    if not faces:
        known = ("ukai", "uming", "wqy-zenhei", "wqy-microhei", "NotoSansCJK", "NotoSerifCJK")
        for d in dirs:
            for path in sorted(d.rglob("*")):
                if path.suffix.lower() in (".ttc", ".ttf", ".otf") and path.stem.startswith(known):
                    faces.add(FontFace(str(path), 0, path.stem))
    # Bitmap-heavy "Sharp" faces render like their outline siblings at our sizes; grass
    # script (草書, "Sousyo") is too cursive for a learner's character to look like it.
    skip = ("Sharp", "Sousyo")
    return tuple(sorted((f for f in faces if not any(w in f.name for w in skip)), key=_font_key))


def _font_key(face: FontFace) -> tuple[str, int]:
    return (face.path, face.index)


def _fraction(name: str) -> float:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 2**32


def split_fonts(fonts: Sequence[FontFace], held_out_share: float = 0.1) -> FontSplit:
    """Split by design group, by a hash of the group name so it never depends on what else
    is installed: groups hashing into the top ``held_out_share`` are held out; if none does
    (few fonts), the single highest-hashing group is, as long as another remains to train on.
    """
    groups = sorted({f.group for f in fonts}, key=_fraction)
    held = {g for g in groups if _fraction(g) >= 1 - held_out_share}
    if not held and len(groups) >= 2:
        held = {groups[-1]}
    if held and held == set(groups):
        held.discard(groups[0])
    ordered = sorted(set(fonts), key=_font_key)
    return FontSplit(
        tuple(f for f in ordered if f.group not in held),
        tuple(f for f in ordered if f.group in held),
    )


@cache
def hsk1_charset() -> str:
    """The product's character set, imported lazily so the generator works without it."""
    from quizzes.hsk import load_vocabulary

    return load_vocabulary().charset


# --- Latin letters and digits as pen strokes (unit box, y down), for the unknown class ---


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 10
) -> list[tuple[float, float]]:
    a = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in a]


_L = list[list[tuple[float, float]]]
_B_TOP = [(0.28, 0.1), *_arc(0.48, 0.3, 0.22, 0.2, -90, 90), (0.28, 0.5)]
_P = [(0.28, 0.9), (0.28, 0.1), *_arc(0.5, 0.3, 0.22, 0.2, -90, 90), (0.28, 0.5)]
_ARCH = [(0.3, 0.62), *_arc(0.5, 0.62, 0.2, 0.18, 180, 360), (0.7, 0.9)]
LATIN_STROKES: dict[str, _L] = {
    "0": [_arc(0.5, 0.5, 0.27, 0.4, -90, 270, 16)],
    "1": [[(0.35, 0.25), (0.52, 0.1), (0.52, 0.9)]],
    "2": [[*_arc(0.5, 0.33, 0.26, 0.23, 200, 400), (0.25, 0.9), (0.78, 0.9)]],
    "3": [[*_arc(0.48, 0.3, 0.25, 0.2, 210, 450), *_arc(0.48, 0.7, 0.28, 0.2, -90, 150)]],
    "4": [[(0.62, 0.9), (0.62, 0.1), (0.18, 0.65), (0.82, 0.65)]],
    "5": [[(0.74, 0.1), (0.32, 0.1)], [(0.32, 0.1), *_arc(0.5, 0.65, 0.27, 0.25, -140, 150)]],
    "6": [[*_arc(0.68, 0.68, 0.43, 0.56, -90, -180), *_arc(0.5, 0.68, 0.25, 0.22, 180, 540, 14)]],
    "7": [[(0.22, 0.1), (0.78, 0.1), (0.42, 0.9)]],
    "8": [[*_arc(0.5, 0.3, 0.22, 0.2, 90, 450, 14), *_arc(0.5, 0.7, 0.26, 0.2, -90, 270, 14)]],
    "9": [[*_arc(0.5, 0.32, 0.25, 0.22, 0, 360, 14), (0.7, 0.9)]],
    "A": [[(0.2, 0.9), (0.5, 0.1), (0.8, 0.9)], [(0.32, 0.6), (0.68, 0.6)]],
    "B": [[(0.28, 0.1), (0.28, 0.9)], _B_TOP, [*_arc(0.5, 0.7, 0.25, 0.2, -90, 90), (0.28, 0.9)]],
    "C": [_arc(0.55, 0.5, 0.3, 0.4, -40, -320, 14)],
    "D": [[(0.28, 0.1), (0.28, 0.9)], [(0.28, 0.1), *_arc(0.38, 0.5, 0.38, 0.4, -90, 90)]],
    "E": [[(0.75, 0.1), (0.28, 0.1), (0.28, 0.9), (0.75, 0.9)], [(0.28, 0.5), (0.65, 0.5)]],
    "F": [[(0.75, 0.1), (0.28, 0.1), (0.28, 0.9)], [(0.28, 0.5), (0.65, 0.5)]],
    "G": [[*_arc(0.52, 0.5, 0.3, 0.4, -45, -360, 14), (0.56, 0.5)]],
    "H": [[(0.25, 0.1), (0.25, 0.9)], [(0.75, 0.1), (0.75, 0.9)], [(0.25, 0.5), (0.75, 0.5)]],
    "K": [[(0.28, 0.1), (0.28, 0.9)], [(0.75, 0.1), (0.28, 0.58)], [(0.42, 0.45), (0.78, 0.9)]],
    "L": [[(0.3, 0.1), (0.3, 0.9), (0.75, 0.9)]],
    "M": [[(0.18, 0.9), (0.22, 0.1), (0.5, 0.65), (0.78, 0.1), (0.82, 0.9)]],
    "N": [[(0.25, 0.9), (0.25, 0.1), (0.75, 0.9), (0.75, 0.1)]],
    "P": [_P],
    "R": [_P, [(0.45, 0.5), (0.78, 0.9)]],
    "S": [[*_arc(0.5, 0.3, 0.24, 0.2, -20, -270), *_arc(0.5, 0.7, 0.26, 0.2, -90, 160)]],
    "T": [[(0.18, 0.1), (0.82, 0.1)], [(0.5, 0.1), (0.5, 0.9)]],
    "U": [[(0.25, 0.1), (0.25, 0.62), *_arc(0.5, 0.62, 0.25, 0.28, 180, 0), (0.75, 0.1)]],
    "V": [[(0.2, 0.1), (0.5, 0.9), (0.8, 0.1)]],
    "W": [[(0.12, 0.1), (0.3, 0.9), (0.5, 0.35), (0.7, 0.9), (0.88, 0.1)]],
    "X": [[(0.22, 0.1), (0.78, 0.9)], [(0.78, 0.1), (0.22, 0.9)]],
    "Y": [[(0.2, 0.1), (0.5, 0.5), (0.8, 0.1)], [(0.5, 0.5), (0.5, 0.9)]],
    "Z": [[(0.22, 0.1), (0.78, 0.1), (0.22, 0.9), (0.78, 0.9)]],
    "a": [_arc(0.47, 0.67, 0.22, 0.23, 0, -360, 14), [(0.7, 0.42), (0.7, 0.9)]],
    "b": [[(0.3, 0.1), (0.3, 0.9)], _arc(0.5, 0.67, 0.21, 0.23, 180, 540, 14)],
    "d": [_arc(0.5, 0.67, 0.21, 0.23, 0, 360, 14), [(0.71, 0.1), (0.71, 0.9)]],
    "e": [[(0.28, 0.66), (0.72, 0.66), *_arc(0.5, 0.66, 0.22, 0.24, 0, -300, 12)]],
    "h": [[(0.3, 0.1), (0.3, 0.9)], _ARCH],
    "n": [[(0.3, 0.42), (0.3, 0.9)], _ARCH],
    "o": [_arc(0.5, 0.66, 0.22, 0.24, -90, 270, 14)],
    "p": [[(0.3, 0.42), (0.3, 1.0)], _arc(0.5, 0.64, 0.21, 0.22, 180, 540, 14)],
    "r": [[(0.35, 0.42), (0.35, 0.9)], [(0.35, 0.62), *_arc(0.55, 0.62, 0.2, 0.16, 180, 300)]],
    "t": [[(0.45, 0.2), (0.45, 0.85), (0.6, 0.9)], [(0.3, 0.42), (0.65, 0.42)]],
    "u": [[(0.3, 0.42), (0.3, 0.7), *_arc(0.5, 0.7, 0.2, 0.2, 180, 0), (0.7, 0.42)]],
    "x": [[(0.3, 0.42), (0.7, 0.9)], [(0.7, 0.42), (0.3, 0.9)]],
    "y": [[(0.28, 0.42), (0.5, 0.8)], [(0.72, 0.42), (0.4, 1.05)]],
}
LATIN_FONT_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabdefghkmnpqrstuvwxyz?&"


# --- one writer's hand: the random choices shared by all strokes of a sample ---


@dataclass(frozen=True, slots=True)
class HandOptions:
    """Ranges of the writers drawn (recipe experiments); the defaults are the shipped recipe.

    ``pen``: median pen width (fraction of the box), ``pen_spread``: sigma of its log,
    ``pen_min``/``pen_max``: its clip; ``elastic`` and ``sloppy`` scale the smooth
    displacement field and the per-stroke placement error; ``cursive``: the share of
    writers with a running hand (corners rounded off, strokes mostly joined by paths that
    follow the pen, with loops where it turns back), as real everyday handwriting
    (CASIA-HWDB) is written; measured no help on real ink, so off by default. ``turn``:
    the spread (degrees) of an extra turn of single strokes about their middle, given to
    a third of them (a 横 written rising steeply, as many write 七's); 0: none. ``bend``:
    the chance that a stroke which runs down and then turns right (竖弯, 竖弯钩, as in 四,
    七, 儿) is written with its foot cut short, as fast writers do (四's inner strokes as
    two short bars); 0: never.
    """

    pen: float = 0.04
    pen_spread: float = 0.3
    pen_min: float = 0.018
    pen_max: float = 0.085
    elastic: float = 1.0
    sloppy: float = 1.0
    cursive: float = 0.0
    turn: float = 0.0
    bend: float = 0.0


TURNED_STROKES = 0.35  # with HandOptions.turn: the share of strokes turned


@dataclass(frozen=True, slots=True)
class _Hand:
    pen: float  # pen width, as a fraction of the character's box
    taper: float  # how much the ends of a stroke thin out (0: ballpoint, ~0.6: brush pen)
    pressure: float  # amplitude of width change along a stroke
    sloppy: float  # scales per-stroke displacement: how carefully strokes meet
    tremor: float  # point jitter, in box units
    curve: float  # low-frequency bowing of strokes, relative to their length
    length: float  # standard deviation of the change in stroke length, relative
    connect: float  # chance of linking one stroke's end to the next one's start
    affine: npt.NDArray[np.float64]  # 2x2: rotation, slant, rising lines, aspect
    elastic: npt.NDArray[np.float64]  # (3, 5) plane waves: wave vector, amplitude, phase
    fill: float  # the character's longer side, as a fraction of the cell
    flicks: bool  # keeps the brush's entry and exit flicks (a writer trained with a brush)
    running: float = 0.0  # running hand: how far corners are rounded off, in box units
    turn: float = 0.0  # spread of the extra turn of some strokes, degrees


def _draw_hand(
    rng: np.random.Generator, *, neat: bool = False, options: HandOptions | None = None
) -> _Hand:
    """A writer: how wide the pen, how careful the strokes, how slanted the whole."""
    o = options or _DEFAULT_HAND
    g = rng.random(13)
    z = np.clip(rng.normal(size=5), -3.0, 3.0)
    waves = rng.random((3, 5))
    # A fifth of writers are beginners whose strokes land well away from where they belong.
    sloppy = (0.2 + 0.8 * g[0]) * (1.6 if g[1] < 0.2 else 1.0) * (0.5 if neat else 1.0)
    sloppy *= o.sloppy
    rot = math.radians(min(max(3.5 * z[0], -10.0), 10.0))
    slant = 0.09 * z[1]
    rise = -0.06 + 0.05 * z[2]  # horizontal strokes tend to climb to the right
    aspect = math.exp(0.15 * z[3])
    c, s = math.cos(rot), math.sin(rot)
    affine = (
        np.array([[c, -s], [s, c]])
        @ np.array([[1.0, slant], [rise, 1.0]])
        @ np.diag([math.sqrt(aspect), 1 / math.sqrt(aspect)])
    )
    # A smooth random displacement field: three plane waves of about one cycle per box.
    strength = (0.004 + 0.024 * g[2]) * o.elastic
    freq = (0.5 + 1.3 * waves[:, 0]) * 2 * np.pi
    fa, da, phase = (waves[:, i] * 2 * np.pi for i in (1, 2, 3))
    amp = strength * (0.3 + 0.7 * waves[:, 4])
    elastic = np.stack(
        [freq * np.cos(fa), freq * np.sin(fa), amp * np.cos(da), amp * np.sin(da), phase], 1
    )
    taper = 0.0 if g[3] < 0.4 else (0.1 + 0.25 * g[4] if g[3] < 0.75 else 0.3 + 0.35 * g[4])
    connect = 0.0 if g[9] < 0.7 else 0.2 + 0.6 * g[10]
    running = 0.0
    # Drawn only when asked for, so the regular recipe's samples stay byte for byte the same.
    if o.cursive > 0 and not neat and rng.random() < o.cursive:
        fast = rng.random(2)
        running = 0.02 + 0.06 * fast[0]
        connect = 0.5 + 0.45 * fast[1]
    return _Hand(
        pen=min(max(o.pen * math.exp(o.pen_spread * z[4]), o.pen_min), o.pen_max),
        taper=taper,
        pressure=0.18 * g[5],
        sloppy=sloppy,
        tremor=0.005 * g[6],
        curve=0.06 * g[7] * (0.6 if neat else 1.0),
        length=(0.02 + 0.08 * g[8]) * (0.5 if neat else 1.0),
        connect=connect,
        affine=affine,
        elastic=elastic,
        fill=0.62 + 0.32 * g[11],
        flicks=g[12] < 0.3,
        running=running,
        turn=o.turn,
    )


_DEFAULT_HAND = HandOptions()


def _warp(points: Points, hand: _Hand) -> Points:
    """The hand's global distortion: affine about the centre, then a smooth random field."""
    p = (points - 0.5) @ hand.affine.T + 0.5
    return np.asarray(p + _field(p, hand), dtype=np.float64)


def _field(points: Points, hand: _Hand) -> Points:
    """The hand's smooth displacement at each point: a sum of plane waves."""
    waves = hand.elastic
    return np.asarray(
        np.sin(points @ waves[:, 0:2].T + waves[:, 4]) @ waves[:, 2:4], dtype=np.float64
    )


SPACING = 0.03  # between resampled points, in box units: fine enough for the pen's width


# With HandOptions.bend: how much of a shortened foot is kept (uniform share of its length).
# Never none of it: 七 without the foot of its second stroke is 十.
BEND_KEEP = (0.15, 0.6)


def _foot(median: Points) -> int | None:
    """Where a stroke that runs down and then right (竖弯, 竖弯钩) turns: the index of its
    corner point (the lowest-leftmost), or None for any other stroke. y runs down."""
    if len(median) < 3:
        return None
    k = int(np.argmax(median[:, 1] - median[:, 0]))
    if not 0 < k < len(median) - 1:
        return None
    down, foot = median[k] - median[0], median[-1] - median[k]
    upright = down[1] > 0.15 and abs(down[0]) < 0.5 * down[1]
    flat = foot[0] > 0.08 and abs(foot[1]) < 0.6 * foot[0]
    if not (upright and flat):
        return None
    # A bend turns over several points; a fold (竖折 of 出 and 医, 撇折 of 车, 竖提 of 饣)
    # turns at one, and cutting its foot short opens a box or loses a stroke's meaning.
    seg = np.diff(median, axis=0)
    near = range(max(1, k - 2), min(len(seg), k + 3))
    return k if max(_turn(seg[j - 1], seg[j]) for j in near) < 60 else None


def _shorten_feet(
    medians: Sequence[Points], share: float, rng: np.random.Generator
) -> tuple[Points, ...]:
    """``medians`` with the foot of some down-then-right strokes cut short (HandOptions.bend).
    Draws the same numbers whatever the strokes, so a character and its incomplete twin
    (the same generator state) stay alike."""
    draws = rng.random((len(medians), 2))
    out = []
    for m, (chance, keep) in zip(medians, draws, strict=True):
        k = _foot(m) if chance < share else None
        if k is None:
            out.append(m)
            continue
        tail = np.diff(m[k:], axis=0)
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(tail[:, 0], tail[:, 1]))])
        stop = (BEND_KEEP[0] + (BEND_KEEP[1] - BEND_KEEP[0]) * keep) * cum[-1]
        j = int(np.searchsorted(cum, stop))  # the first point past the cut, j >= 1
        f = (stop - cum[j - 1]) / max(cum[j] - cum[j - 1], 1e-12)
        end = m[k + j - 1] + f * (m[k + j] - m[k + j - 1])
        out.append(np.vstack([m[: k + j], end[None]]))
    return tuple(out)


def _pen_strokes(
    medians: Sequence[Points], hand: _Hand, rng: np.random.Generator
) -> list[tuple[Points, npt.NDArray[np.float64]]]:
    """The strokes as the hand draws them: length, bow, tremor and placement noise. Returns
    each stroke's centre line (before the global warp) and relative pen width per point.

    All strokes are processed at once, padded to a common length, because per-stroke numpy
    calls cost more than the arithmetic.
    """
    count = len(medians)
    r = rng.normal(size=(count, 10))
    v = rng.random((count, 6))
    sizes = np.array([max(len(m), 2) for m in medians])
    k_max = int(sizes.max())
    med = np.empty((count, k_max, 2))
    for i, m in enumerate(medians):
        if len(m) < 2:
            m = np.vstack([m[:1], m[:1] + 1e-3])
        med[i, : len(m)] = m
        med[i, len(m) :] = m[-1]  # zero-length padding segments
    rows = np.arange(count)
    seg = np.hypot(*np.moveaxis(np.diff(med, axis=1), 2, 0))
    length = np.maximum(seg.sum(axis=1), 1e-3)

    # Change the length smoothly: trim or extend each end along the direction it leaves in.
    d0 = np.clip(r[:, 0] * hand.length, -0.3, 0.2) * length
    d1 = np.clip(r[:, 1] * hand.length, -0.3, 0.2) * length
    e0, e1 = np.maximum(d0, 0.0), np.maximum(d1, 0.0)
    k = np.minimum(2, sizes - 1)
    last = med[rows, sizes - 1]
    out0 = med[:, 0] - med[rows, k]
    out1 = last - med[rows, sizes - 1 - k]
    out0 /= np.maximum(np.hypot(out0[:, 0], out0[:, 1]), 1e-9)[:, None]
    out1 /= np.maximum(np.hypot(out1[:, 0], out1[:, 1]), 1e-9)[:, None]
    line = np.concatenate(
        [(med[:, 0] + out0 * e0[:, None])[:, None], med, (last + out1 * e1[:, None])[:, None]], 1
    )
    cum = np.empty((count, k_max + 2))
    cum[:, 0] = 0.0
    cum[:, 1:-1] = e0[:, None]
    cum[:, 2:-1] += np.cumsum(seg, axis=1)
    cum[:, -1] = cum[:, -2] + e1
    lo, hi = e0 - d0, cum[:, -1] - e1 + d1
    short = hi - lo < 0.3 * length
    lo[short], hi[short] = e0[short], cum[short, -1] - e1[short]
    n = np.clip(np.ceil((hi - lo) / SPACING), 2, 40).astype(int) + 1
    u = np.minimum(np.arange(int(n.max()))[None, :] / (n[:, None] - 1), 1.0)
    t = lo[:, None] + (hi - lo)[:, None] * u

    # Piecewise-linear interpolation of every row at once: offset the rows so the flattened
    # arc lengths stay sorted, then one searchsorted finds each point's segment.
    span = float(cum.max()) + 1.0
    flat = (cum + rows[:, None] * span).ravel()
    at = np.searchsorted(flat, (t + rows[:, None] * span).ravel(), side="right") - 1
    first = np.repeat(rows * (k_max + 2), t.shape[1])
    at = np.clip(at, first, first + k_max)
    c0, c1 = flat[at], flat[at + 1]
    frac = np.clip(
        (t.ravel() + np.repeat(rows * span, t.shape[1]) - c0) / np.maximum(c1 - c0, 1e-12), 0, 1
    )
    pts_flat = line.reshape(-1, 2)
    pts = (pts_flat[at] + (pts_flat[at + 1] - pts_flat[at]) * frac[:, None]).reshape(count, -1, 2)

    # Bow each stroke sideways to its chord (a low-frequency curvature error), and let it
    # wobble a little (tremor): both smooth along the stroke, so it bends rather than frays.
    chord = pts[rows, n - 1] - pts[:, 0]
    normal = np.stack([-chord[:, 1], chord[:, 0]], 1)
    normal /= np.maximum(np.hypot(chord[:, 0], chord[:, 1]), 1e-9)[:, None]
    bow = (r[:, 2:3] * hand.curve) * np.sin(np.pi * u) + (r[:, 3:4] * hand.curve / 2) * np.sin(
        2 * np.pi * u + 6.283 * v[:, 0:1]
    )
    pts += (bow * np.maximum(length, 0.15)[:, None])[:, :, None] * normal[:, None, :]
    cycles = (np.maximum(1.0, (hi - lo) / 0.1) * 2 * np.pi)[:, None]
    pts[:, :, 0] += (r[:, 4:5] * hand.tremor) * np.sin(cycles * u + 6.283 * v[:, 1:2])
    pts[:, :, 1] += (r[:, 5:6] * hand.tremor) * np.sin(1.3 * cycles * u + 6.283 * v[:, 2:3])

    # Each stroke lands a little off where it belongs: sloppy joins, gaps and overshoots.
    valid = u < 1.0
    valid[rows, n - 1] = True
    centre = (pts * valid[:, :, None]).sum(axis=1) / n[:, None]
    a = np.radians(r[:, 6] * 4.0 * hand.sloppy)
    if hand.turn > 0:
        # Drawn only when asked for, so the regular recipe's samples stay the same.
        turned = rng.random(count) < TURNED_STROKES
        a += np.radians(rng.normal(size=count) * hand.turn * turned)
    scale = 1 + r[:, 7] * 0.05 * hand.sloppy
    ca, sa = (np.cos(a) * scale)[:, None], (np.sin(a) * scale)[:, None]
    rel = pts - centre[:, None, :]
    shifted = centre + r[:, 8:10] * (0.017 * hand.sloppy)
    pts = np.stack(
        [
            ca * rel[:, :, 0] - sa * rel[:, :, 1] + shifted[:, 0:1],
            sa * rel[:, :, 0] + ca * rel[:, :, 1] + shifted[:, 1:2],
        ],
        2,
    )

    # Pressure: a thinner entry and exit, and a slow swell along the stroke.
    ramp = (0.08 + 0.12 * v[:, 3])[:, None]
    ends = np.minimum(1.0, np.minimum(u, 1 - u) / ramp)
    width = (1 - hand.taper) + hand.taper * np.sqrt(ends)
    width *= 1 + hand.pressure * np.sin(2 * np.pi * u * (0.5 + v[:, 4:5]) + 6.283 * v[:, 5:6])
    return [(pts[i, : n[i]], width[i, : n[i]]) for i in range(count)]


def _round_off(pts: Points, reach: float) -> Points:
    """A stroke written fast: its centre line smoothed over about ``reach`` (box units),
    so corners turn into curves and short hooks melt into the stroke; the ends stay."""
    n = len(pts)
    if n < 3 or reach <= 0:
        return pts
    step = max(float(np.mean(np.hypot(*np.diff(pts, axis=0).T))), 1e-6)
    sigma = reach / step
    if sigma < 0.5:
        return pts
    r = min(math.ceil(2.5 * sigma), n - 1)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(pts, ((r, r), (0, 0)), mode="edge")
    out = np.stack([np.convolve(padded[:, j], k, mode="valid") for j in range(2)], 1)
    out[0], out[-1] = pts[0], pts[-1]
    return np.asarray(out, dtype=np.float64)


PEN_LIFT = 0.6  # box units: a join longer than this is not written, even in running script


def _link(a: Points, b: Points, bulge: float) -> Points | None:
    """The pen's path from one stroke's end ``a`` to the next one's start ``b`` (ends
    included), or None when it is too far to go without lifting the pen."""
    gap = b - a
    if float(np.hypot(*gap)) > PEN_LIFT:
        return None
    mid = (a + b) / 2 + bulge * np.array([-gap[1], gap[0]])
    return _bezier(np.array([a, mid, mid, b]), 10)


def _flowing_link(a: Points, b: Points, tension: float) -> Points | None:
    """The pen's path in a running hand from the end of stroke ``a`` to the start of
    stroke ``b`` (ends included): it leaves along ``a``'s last direction and arrives
    along ``b``'s first, so where the next stroke starts behind the pen, the join turns
    back in a loop (又 written as a loop, 口 in one movement). None when it is too far."""
    start, end = a[-1], b[0]
    dist = float(np.hypot(*(end - start)))
    if dist > PEN_LIFT:
        return None
    out = a[-1] - a[max(len(a) - 3, 0)]
    into = b[min(2, len(b) - 1)] - b[0]
    out /= max(float(np.hypot(*out)), 1e-9)
    into /= max(float(np.hypot(*into)), 1e-9)
    reach = min(tension * max(dist, 0.1), 0.15)  # a small, quick loop, not a swoop
    ctrl = np.array([start, start + reach * out, end - reach * into, end])
    n = max(8, math.ceil(float(np.hypot(*np.diff(ctrl, axis=0).T).sum()) / SPACING))
    return _bezier(ctrl, n)


def _running_paths(
    warped: Sequence[Points],
    strokes: Sequence[tuple[Points, npt.NDArray[np.float64]]],
    links: Sequence[tuple[bool, float, float]],
    dropped: tuple[int, ...],
    hand: _Hand,
) -> list[tuple[Points, npt.NDArray[np.float64]]]:
    """A running hand: linked strokes become one path of the pen, thin where it only
    travels, and each path is smoothed so corners and joins round off together."""
    paths: list[tuple[Points, npt.NDArray[np.float64]]] = []
    pts: list[Points] = []
    widths: list[npt.NDArray[np.float64]] = []
    for i, stroke in enumerate(warped):
        if i in dropped:
            continue
        linked, bulge, thin = links[i - 1] if i > 0 else (False, 0.0, 0.0)
        path = None
        if linked and pts and i - 1 not in dropped:
            # The pen follows through: the further it swings, the rounder the join.
            path = _flowing_link(warped[i - 1], stroke, 0.4 + 1.5 * abs(bulge))
        if path is not None:
            pts.append(path[1:-1])
            widths.append(np.full(len(path) - 2, hand.pen * thin))
        elif pts:
            paths.append((np.vstack(pts), np.concatenate(widths)))
            pts, widths = [], []
        pts.append(stroke)
        widths.append(strokes[i][1] * hand.pen)
    if pts:
        paths.append((np.vstack(pts), np.concatenate(widths)))
    return [(_round_off(p, hand.running), w) for p, w in paths]


def _choose_dropped(n: int, rng: np.random.Generator) -> tuple[int, ...]:
    """Which strokes a learner left out: usually the last, sometimes one in the middle,
    sometimes several (later ones more likely); never all of them."""
    if n < 2:
        raise ValueError("a character needs two strokes or more to be incomplete")
    r = rng.random()
    if r < 0.55:
        return (n - 1,)
    if r < 0.8 or n < 3:
        return (int(rng.integers(0, n - 1)),)
    k = int(rng.integers(2, min(3, n - 1) + 1))
    weights = np.arange(1, n + 1, dtype=np.float64)
    return tuple(sorted(int(i) for i in rng.choice(n, k, replace=False, p=weights / weights.sum())))


def _turn(a: Points, b: Points) -> float:
    """Angle in degrees between two direction vectors."""
    cos = float(a @ b) / max(float(np.hypot(*a) * np.hypot(*b)), 1e-12)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


def pen_medians(medians: Sequence[Points]) -> tuple[Points, ...]:
    """Centre lines without the brush's entry and exit flicks that Make Me a Hanzi's medians
    carry (traced from a Kai font): a short first or last segment that bends away at a
    moderate angle. Hooks, which turn back sharply, are kept."""
    out = []
    for m in medians:
        if len(m) >= 4:
            seg = np.diff(m, axis=0)
            lengths = np.hypot(seg[:, 0], seg[:, 1])
            total = float(lengths.sum())
            start, end = 0, len(m)
            if lengths[0] < 0.15 * total and 20 < _turn(seg[0], seg[1]) < 80:
                start = 1
            if lengths[-1] < 0.15 * total and 15 < _turn(seg[-2], seg[-1]) < 75:
                end -= 1
            m = m[start:end]
        out.append(m)
    return tuple(out)


def _shape(medians: Sequence[Points]) -> npt.NDArray[np.float64]:
    """A comparable summary of a stroke sequence: each stroke at 8 evenly spaced points,
    centred and scaled by the longer side of their joint box (aspect kept)."""
    out = np.empty((len(medians), 8, 2))
    for i, m in enumerate(medians):
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(m, axis=0).T))])
        t = np.linspace(0.0, cum[-1], 8)
        out[i, :, 0] = np.interp(t, cum, m[:, 0])
        out[i, :, 1] = np.interp(t, cum, m[:, 1])
    lo, hi = out.reshape(-1, 2).min(axis=0), out.reshape(-1, 2).max(axis=0)
    return np.asarray((out - (lo + hi) / 2) / max(float((hi - lo).max()), 1e-3), dtype=np.float64)


# Mean distance between matching points of two shapes (in units of their size) under which
# what is left of a character is taken for another target: 三 without a stroke is 二, 少
# without its last is 小, 来 without its first is 米. Measured on the HSK 1 set, this also
# catches a few near misses (爱 -> 觉), which only narrows the strokes chosen for dropping.
RESEMBLES = 0.12


def _paint_pen(
    draw: ImageDraw.ImageDraw, pts: Points, widths: npt.NDArray[np.float64], fill: int = 255
) -> None:
    """A variable-width stroke: a trapezoid per segment and a disc at every point."""
    d = np.diff(pts, axis=0)
    length = np.hypot(d[:, 0], d[:, 1])
    length[length == 0] = 1.0
    normal = np.stack([-d[:, 1] / length, d[:, 0] / length], 1)
    h0 = normal * (widths[:-1, None] / 2)
    h1 = normal * (widths[1:, None] / 2)
    quads = np.concatenate([pts[:-1] + h0, pts[1:] + h1, pts[1:] - h1, pts[:-1] - h0], axis=1)
    for quad in quads.tolist():
        draw.polygon(quad, fill=fill)
    for (x, y), w in zip(pts.tolist(), widths.tolist(), strict=True):
        r = w / 2
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _bezier(p: npt.NDArray[np.float64], n: int = 24) -> Points:
    t = np.linspace(0, 1, n)[:, None]
    u = 1 - t
    return np.asarray(
        u**3 * p[0] + 3 * u**2 * t * p[1] + 3 * u * t**2 * p[2] + t**3 * p[3], dtype=np.float64
    )


class _Unavailable(Exception):
    """No installed font has the glyph asked for."""


class Generator:
    """Draws samples: a target character in several styles, incomplete variants and negatives.

    Every method takes the ``numpy`` random generator to draw from, so a sample depends only
    on that generator's state: ``rng_for(...)`` makes one from the generator's seed and a key.
    """

    def __init__(
        self,
        strokes: StrokeData | Path | str | None = None,
        fonts: Sequence[FontFace] = (),
        seed: int = 0,
        size: int = 64,
        *,
        supersample: int | None = None,
        split: Split = "train",
        exclude: str | None = None,
        photo_options: PhotoOptions | None = None,
        photo_share: float = 0.85,
        styles: tuple[float, float, float] | None = None,
        hand_options: HandOptions | None = None,
    ) -> None:
        self.strokes = strokes if isinstance(strokes, StrokeData) else find_stroke_data(strokes)
        self.fonts = tuple(fonts)
        by_group: dict[str, list[FontFace]] = {}
        for face in sorted(self.fonts, key=_font_key):
            by_group.setdefault(face.group, []).append(face)
        self._font_groups = tuple(tuple(by_group[g]) for g in sorted(by_group))
        self.seed = seed
        self.size = size
        # Draw at 2-4x and box-filter down: anti-aliased edges like a camera's.
        self.ss = supersample or int(np.clip(round(192 / size), 2, 4))
        self.split = split
        self.exclude = frozenset(hsk1_charset() if exclude is None else exclude) | LOOKALIKES
        self.photo_options = photo_options or PhotoOptions()
        self.photo_share = photo_share
        self.styles = styles or STYLES  # pen, brush (outlines), font
        self.hand_options = hand_options or HandOptions()
        self._negatives = tuple(c for c in self.strokes.chars if self._is_negative(c))
        self._font_cache: dict[tuple[str, int, int], ImageFont.FreeTypeFont] = {}
        self._glyph_cache: dict[tuple[str, int, str], bool] = {}
        self._notdef: dict[tuple[str, int], tuple[tuple[int, int], bytes]] = {}
        self._drops_cache: dict[str, tuple[tuple[int, ...], ...]] = {}
        self._plain_cache: dict[str, tuple[Points, ...]] = {}
        self._target_shapes: dict[int, list[tuple[str, npt.NDArray[np.float64]]]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_font_cache"] = {}  # FreeType handles do not pickle; workers reopen them
        return state

    def rng_for(self, *key: int) -> np.random.Generator:
        """A random generator for one sample: the same key always gives the same sample."""
        return np.random.default_rng([self.seed, *key])

    def _is_negative(self, ch: str) -> bool:
        if ch in self.exclude or not ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"):
            return False
        # Evaluation negatives are characters never seen as negatives in training.
        held_out = zlib.crc32(ch.encode()) % 10 == 0
        return held_out == (self.split != "train")

    # --- drawing ---

    def _pen_image(
        self,
        medians: Sequence[Points],
        rng: np.random.Generator,
        *,
        choose_drop: Callable[[np.random.Generator], tuple[int, ...]] | None = None,
        neat: bool = False,
        plain: Sequence[Points] | None = None,
    ) -> tuple[Gray, tuple[int, ...]]:
        """Pen strokes along ``medians`` (or ``plain``, the same without brush flicks, for
        the writers who do not make them)."""
        hand = _draw_hand(rng, neat=neat, options=self.hand_options)
        if plain is not None and not hand.flicks:
            medians = plain
        if self.hand_options.bend > 0:
            # Drawn only when asked for, so the regular recipe's samples stay the same.
            medians = _shorten_feet(medians, self.hand_options.bend, rng)
        strokes = _pen_strokes(medians, hand, rng)
        links = [
            (rng.random() < hand.connect, float(rng.normal(0, 0.2)), float(rng.uniform(0.25, 0.55)))
            for _ in range(len(medians) - 1)
        ]
        place = rng.beta(2.0, 2.0, 2)  # off-centre, but rarely against an edge
        # Everything random is drawn before the dropped strokes are chosen, so an incomplete
        # sample is the full one minus its strokes, from the same generator state.
        dropped = choose_drop(rng) if choose_drop else ()
        warped = [_warp(pts, hand) for pts, _ in strokes]
        scale, offset = self._fit(np.vstack(warped), hand.pen, hand.fill, place)
        big = self.size * self.ss
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        min_width = 0.75 * self.ss  # thinner lines vanish when downsampled
        if hand.running > 0:
            for pts, width in _running_paths(warped, strokes, links, dropped, hand):
                _paint_pen(draw, pts * scale + offset, np.maximum(width * scale, min_width))
            return self._finish(canvas), dropped
        for i, (pts, (_, width)) in enumerate(zip(warped, strokes, strict=True)):
            if i in dropped:
                continue
            px = pts * scale + offset
            _paint_pen(draw, px, np.maximum(width * hand.pen * scale, min_width))
        for i, (linked, bulge, thin) in enumerate(links):
            if not linked or i in dropped or i + 1 in dropped:
                continue
            path = _link(warped[i][-1], warped[i + 1][0], bulge)
            if path is None:
                continue
            curve = path * scale + offset
            _paint_pen(draw, curve, np.full(len(curve), max(hand.pen * scale * thin, min_width)))
        return self._finish(canvas), dropped

    def _brush_image(
        self,
        outlines: Sequence[Sequence[Points]],
        rng: np.random.Generator,
        *,
        choose_drop: Callable[[np.random.Generator], tuple[int, ...]] | None = None,
    ) -> tuple[Gray, tuple[int, ...]]:
        """The stroke outlines filled: a brush or calligraphy pen, or a font-like hand."""
        hand = _draw_hand(rng, neat=True, options=self.hand_options)
        moves = []
        for _ in outlines:
            a = math.radians(float(rng.normal(0, 2.0 * hand.sloppy)))
            shift = rng.normal(0, 0.012 * hand.sloppy, 2)
            moves.append(
                (np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]), shift)
            )
        place = rng.beta(2.0, 2.0, 2)  # off-centre, but rarely against an edge
        weight = int(rng.choice([-1, 0, 0, 0, 1, 1, 2]))
        dropped = choose_drop(rng) if choose_drop else ()
        shapes: list[list[Points]] = []
        for polys, (rot, shift) in zip(outlines, moves, strict=True):
            if not polys:
                shapes.append([])
                continue
            centre = np.vstack(polys).mean(axis=0)
            shapes.append([_warp((p - centre) @ rot.T + centre + shift, hand) for p in polys])
        scale, offset = self._fit(np.vstack([p for s in shapes for p in s]), 0.0, hand.fill, place)
        big = self.size * self.ss
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        # A heavier hand: an outline drawn around each shape grows it by half its width.
        grow = 2 * weight if weight > 0 else 0
        for i, polys in enumerate(shapes):
            if i not in dropped:
                for p in polys:
                    xy = (p * scale + offset).ravel().tolist()
                    draw.polygon(xy, fill=255, outline=255 if grow else None, width=max(grow, 1))
        if weight < 0:
            canvas = canvas.filter(ImageFilter.MinFilter(3))
        return self._finish(canvas), dropped

    def _fit(
        self, points: Points, pen: float, fill: float, place: npt.NDArray[np.float64]
    ) -> tuple[float, npt.NDArray[np.float64]]:
        """Scale and offset (supersampled pixels) that put the points' box, pen included, at
        ``fill`` of the cell, positioned by ``place`` (0..1 per axis) within the margins."""
        lo = points.min(axis=0) - pen / 2
        hi = points.max(axis=0) + pen / 2
        extent = max(float((hi - lo).max()), 1e-3)
        big = self.size * self.ss
        scale = fill * big / extent
        spare = big - (hi - lo) * scale
        return scale, spare * place - lo * scale

    def _finish(self, coverage: Image.Image) -> Gray:
        small = coverage.reduce(self.ss) if self.ss > 1 else coverage
        return (255 - np.asarray(small, dtype=np.uint8)).astype(np.uint8)

    # --- fonts ---

    def _font(self, face: FontFace, px: int) -> ImageFont.FreeTypeFont:
        key = (face.path, face.index, px)
        font = self._font_cache.get(key)
        if font is None:
            font = self._font_cache[key] = ImageFont.truetype(face.path, px, index=face.index)
        return font

    def has_glyph(self, face: FontFace, ch: str) -> bool:
        """Whether ``face`` draws ``ch`` rather than its missing-glyph box."""
        key = (face.path, face.index, ch)
        found = self._glyph_cache.get(key)
        if found is None:
            font = self._font(face, 32)
            notdef = self._notdef.get((face.path, face.index))
            if notdef is None:
                box = font.getmask("\uffff")  # a noncharacter: every face draws .notdef
                notdef = self._notdef[(face.path, face.index)] = (box.size, bytes(box))
            mask = font.getmask(ch)
            found = mask.getbbox() is not None and (mask.size, bytes(mask)) != notdef
            self._glyph_cache[key] = found
        return found

    def _pick_face(self, text: str, rng: np.random.Generator) -> FontFace:
        """A face that draws ``text``: a design family first, every family as likely (one
        with 120 weights and widths is still one hand), then one of its faces."""
        for g in rng.permutation(len(self._font_groups)):
            faces = self._font_groups[int(g)]
            face = faces[int(rng.integers(len(faces)))]
            if self.has_glyph(face, text):
                return face
        raise _Unavailable(text)

    def _font_image(
        self, text: str, rng: np.random.Generator, *, latin: bool = False
    ) -> tuple[Gray, str]:
        """``text`` in a random installed face, with a random weight and the hand's warp;
        returns the image and the face's name."""
        face = self._pick_face(text, rng)
        hand = _draw_hand(rng, neat=True, options=self.hand_options)
        weight = int(rng.choice([-1, 0, 0, 1, 1, 2]))
        place = rng.beta(2.0, 2.0, 2)  # off-centre, but rarely against an edge
        big = self.size * self.ss
        canvas = Image.new("L", (big, big), 0)
        ImageDraw.Draw(canvas).text(
            (big / 2, big / 2),
            text,
            fill=255,
            font=self._font(face, int(big * 0.7)),
            anchor="mm",
            stroke_width=max(weight, 0),
            stroke_fill=255,
        )
        if weight < 0:
            canvas = canvas.filter(ImageFilter.MinFilter(3))
        canvas = _mesh_warp(canvas, hand)
        box = canvas.getbbox()
        if box is None:
            raise _Unavailable(text)
        glyph = canvas.crop(box)
        fill = hand.fill * (0.85 if latin else 1.0)
        scale = fill * self.size / max(glyph.size)
        w, h = (max(1, round(v * scale)) for v in glyph.size)
        glyph = glyph.resize((w, h), Image.Resampling.BOX)
        cell = Image.new("L", (self.size, self.size), 0)
        cell.paste(glyph, (int(place[0] * (self.size - w)), int(place[1] * (self.size - h))))
        return (255 - np.asarray(cell, dtype=np.uint8)).astype(np.uint8), face.name

    # --- the public recipes ---

    def render_char(
        self, ch: str, rng: np.random.Generator, *, style: Style | None = None
    ) -> Sample:
        """The character ``ch`` as someone might write it (``pen``: from the stroke centre
        lines), with a brush (``brush``: filled outlines) or as printed (``font``)."""
        if style is None:
            style = self._pick_style(rng)
        if style == "font":
            try:
                image, face = self._font_image(ch, rng)
                return Sample(image, ch, "font", source=f"font:{face}")
            except _Unavailable:
                style = "pen"
        cs = self.strokes[ch]
        if style == "brush":
            image, _ = self._brush_image(cs.outlines, rng)
        else:
            image, _ = self._pen_image(cs.medians, rng, plain=self._plain(ch))
        return Sample(image, ch, "char", source=style)

    def _pick_style(self, rng: np.random.Generator) -> Style:
        pen, brush, font = self.styles
        weights = np.array([pen, brush, font if self.fonts else 0.0])
        styles: tuple[Style, ...] = ("pen", "brush", "font")
        return styles[int(rng.choice(3, p=weights / weights.sum()))]

    def render_incomplete(
        self, ch: str, rng: np.random.Generator, *, style: Literal["pen", "brush"] | None = None
    ) -> Sample:
        """``ch`` with one or more strokes left out (``dropped``, in writing order).

        From the same generator state as ``render_char(ch, rng, style=...)`` it is that very
        drawing minus the dropped strokes; the layout is the full character's, as a writer
        leaves room for the stroke they forget.
        """
        cs = self.strokes[ch]
        n = len(cs)
        if not self.can_be_incomplete(ch):
            raise ValueError(f"{ch} cannot be incomplete: any stroke left out makes another")
        if style is None:
            style = "brush" if rng.random() < 0.15 else "pen"

        def choose(r: np.random.Generator) -> tuple[int, ...]:
            for _ in range(8):
                dropped = _choose_dropped(n, r)
                if not self._resembles_other_target(ch, dropped):
                    return dropped
            return self._drop_options(ch)[0]

        if style == "brush":
            image, dropped = self._brush_image(cs.outlines, rng, choose_drop=choose)
        else:
            image, dropped = self._pen_image(
                cs.medians, rng, choose_drop=choose, plain=self._plain(ch)
            )
        return Sample(image, ch, "incomplete", dropped=dropped, source=style)

    def _plain(self, ch: str) -> tuple[Points, ...]:
        found = self._plain_cache.get(ch)
        if found is None:
            found = self._plain_cache[ch] = pen_medians(self.strokes[ch].medians)
        return found

    def can_be_incomplete(self, ch: str) -> bool:
        """Whether some strokes of ``ch`` can be left out without writing another target
        (一 has one stroke; 二 without either stroke is 一)."""
        return ch in self.strokes and bool(self._drop_options(ch))

    def _drop_options(self, ch: str) -> tuple[tuple[int, ...], ...]:
        """Single strokes (last first), then pairs, that can be dropped from ``ch``."""
        found = self._drops_cache.get(ch)
        if found is None:
            n = len(self.strokes[ch])
            singles = [(i,) for i in reversed(range(n))] if n >= 2 else []
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n)] if n >= 3 else []
            found = tuple(d for d in singles + pairs if not self._resembles_other_target(ch, d))
            self._drops_cache[ch] = found
        return found

    def _resembles_other_target(self, ch: str, dropped: tuple[int, ...]) -> bool:
        if self._target_shapes is None:
            shapes: dict[int, list[tuple[str, npt.NDArray[np.float64]]]] = {}
            for t in sorted(self.exclude - LOOKALIKES):
                if t in self.strokes:
                    medians = self.strokes[t].medians
                    shapes.setdefault(len(medians), []).append((t, _shape(medians)))
            self._target_shapes = shapes
        medians = self.strokes[ch].medians
        rest = [m for i, m in enumerate(medians) if i not in dropped]
        candidates = self._target_shapes.get(len(rest), [])
        if not candidates:
            return False
        shape = _shape(rest)
        return any(
            t != ch and float(np.hypot(*(shape - other).reshape(-1, 2).T).mean()) < RESEMBLES
            for t, other in candidates
        )

    def render_unknown(self, rng: np.random.Generator) -> Sample:
        """Something that is none of the targets: another character, Latin letters or
        digits, a scribble, or (nearly) blank paper."""
        r = rng.random()
        if r < 0.5:
            image, what = self._other_char(rng)
        elif r < 0.7:
            image, what = self._latin(rng)
        elif r < 0.85:
            image, what = self._scribble(rng), "scribble"
        else:
            image, what = self._blank(rng), "blank"
        return Sample(image, UNKNOWN, "unknown", source=what)

    def _other_char(self, rng: np.random.Generator) -> tuple[Gray, str]:
        if self._negatives and (not self.fonts or rng.random() < 0.8):
            ch = self._negatives[int(rng.integers(len(self._negatives)))]
            cs: CharStrokes = self.strokes[ch]
            if rng.random() < 0.15:
                return self._brush_image(cs.outlines, rng)[0], f"other:{ch}"
            return self._pen_image(cs.medians, rng, plain=self._plain(ch))[0], f"other:{ch}"
        for _ in range(20):
            ch = chr(int(rng.integers(0x4E00, 0x9FA6)))
            if self._is_negative(ch):
                try:
                    return self._font_image(ch, rng)[0], f"other:{ch}"
                except _Unavailable:
                    continue
        return self._scribble(rng), "scribble"

    def _latin(self, rng: np.random.Generator) -> tuple[Gray, str]:
        if self.fonts and rng.random() < 0.4:
            ch = LATIN_FONT_CHARS[int(rng.integers(len(LATIN_FONT_CHARS)))]
            try:
                return self._font_image(ch, rng, latin=True)[0], f"latin:{ch}"
            except _Unavailable:
                pass
        keys = sorted(LATIN_STROKES)
        ch = keys[int(rng.integers(len(keys)))]
        medians = [np.asarray(s, dtype=np.float64) for s in LATIN_STROKES[ch]]
        return self._pen_image(medians, rng)[0], f"latin:{ch}"

    def _scribble(self, rng: np.random.Generator) -> Gray:
        curves = [_bezier(rng.uniform(0.05, 0.95, (4, 2))) for _ in range(int(rng.integers(1, 4)))]
        return self._pen_image(curves, rng)[0]

    def _blank(self, rng: np.random.Generator) -> Gray:
        canvas = Image.new("L", (self.size, self.size), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.choice([0, 0, 1, 2, 3, 5]))):
            x, y = rng.uniform(0, self.size, 2)
            r = float(rng.uniform(0.3, 1.3))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=int(rng.integers(90, 256)))
        return (255 - np.asarray(canvas, dtype=np.uint8)).astype(np.uint8)

    def photo(self, img: Gray, rng: np.random.Generator, **kw: Any) -> Gray:
        """``img`` photographed (see ``photo.photograph``), with this generator's options."""
        return photograph(img, rng, options=self.photo_options, **kw)

    def make(
        self, label: str, kind: Literal["char", "incomplete", "unknown"], rng: np.random.Generator
    ) -> Sample:
        """One training sample as ``generate`` makes it: drawn, then usually photographed."""
        if kind == "unknown":
            sample = self.render_unknown(rng)
        elif kind == "incomplete":
            sample = self.render_incomplete(label, rng)
        else:
            sample = self.render_char(label, rng)
        if sample.source == "blank":
            # Empty paper is only interesting with what paper has on it: lines, light, noise.
            image = self.photo(sample.image, rng, grid=None if rng.random() < 0.4 else "tian")
        elif rng.random() < self.photo_share:
            image = self.photo(sample.image, rng)
        else:
            return sample
        return Sample(image, sample.label, sample.kind, sample.dropped, sample.source)


def _mesh_warp(canvas: Image.Image, hand: _Hand, cells: int = 4) -> Image.Image:
    """Apply the hand's affine and elastic distortion to an image, piecewise (PIL MESH).

    MESH wants, for each output cell, the input quadrilateral: the inverse map. The smooth
    random field is its own approximate inverse with the sign flipped, which is as random.
    """
    w, h = canvas.size
    inv = np.linalg.inv(hand.affine * 1.0)
    grid = np.linspace(0.0, 1.0, cells + 1)
    gx, gy = np.meshgrid(grid, grid)
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    disp = _field(pts, hand)
    # Shrink a little first so a rotated or slanted glyph stays on the canvas.
    src = ((pts - disp - 0.5) @ inv.T) / 0.85 + 0.5
    src = (src * [w, h]).reshape(cells + 1, cells + 1, 2)
    mesh = []
    for j in range(cells):
        for i in range(cells):
            box = (
                round(grid[i] * w),
                round(grid[j] * h),
                round(grid[i + 1] * w),
                round(grid[j + 1] * h),
            )
            quad = (*src[j, i], *src[j + 1, i], *src[j + 1, i + 1], *src[j, i + 1])
            mesh.append((box, tuple(float(v) for v in quad)))
    return canvas.transform(
        canvas.size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=0
    )


# --- data sets ---


@dataclass(frozen=True, eq=False)
class Dataset:
    """Generated images with their labels, kinds and dropped strokes, in generation order
    (class by class: shuffle before training)."""

    images: npt.NDArray[np.uint8]  # (N, size, size), dark ink on light
    labels: tuple[str, ...]  # a target character or UNKNOWN
    kinds: tuple[Kind, ...]
    dropped: tuple[tuple[int, ...], ...] = field(default=())

    def __len__(self) -> int:
        return len(self.labels)


Task = tuple[str, str, int]
_WORKER: Generator | None = None


def _init_worker(gen: Generator) -> None:
    global _WORKER
    _WORKER = gen


def _task_rng(gen: Generator, task: Task) -> np.random.Generator:
    label, kind, index = task
    code = 0 if label == UNKNOWN else ord(label)
    return gen.rng_for(_SPLITS[gen.split], _KIND_CODE[kind], code, index)


def _run(gen: Generator, task: Task) -> Sample:
    return gen.make(task[0], task[1], _task_rng(gen, task))  # type: ignore[arg-type]


def _work(task: Task) -> tuple[bytes, Kind, tuple[int, ...]]:
    assert _WORKER is not None, "worker not initialised"
    s = _run(_WORKER, task)
    return s.image.tobytes(), s.kind, s.dropped


class _Progress:
    """tqdm when it is installed (the train extra), else a plain counter on stderr."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done = 0
        self.bar: Any = None
        self.start = time.monotonic()
        self.last = 0.0
        if enabled:
            try:
                import importlib

                self.bar = importlib.import_module("tqdm").tqdm(
                    total=total, desc=desc, unit="img", smoothing=0.1
                )
            except ImportError:
                self.bar = None

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= 0.5 or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            end = "\n" if self.done == self.total else ""
            print(
                f"\r{self.desc}: {self.done}/{self.total} ({rate:.0f} img/s)",
                end=end,
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def generate(
    chars: Sequence[str] | str,
    n_per_class: int,
    seed: int,
    size: int = 64,
    split: Split = "train",
    *,
    strokes: StrokeData | Path | str | None = None,
    fonts: Sequence[FontFace] | None = None,
    incomplete_per_class: int = 0,
    unknown: int | None = None,
    photo_share: float = 0.85,
    photo_options: PhotoOptions | None = None,
    hand_options: HandOptions | None = None,
    styles: tuple[float, float, float] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Dataset:
    """A labelled synthetic data set: ``n_per_class`` images of each character in ``chars``,
    ``incomplete_per_class`` incomplete variants of each (characters of two strokes or
    more) and ``unknown`` (default ``n_per_class``) negatives.

    Deterministic: each image comes from its own generator seeded by (seed, split, kind,
    character, index), so the result does not depend on ``workers`` or on which other
    characters are asked for. ``fonts`` defaults to the installed CJK fonts, training fonts
    for ``train`` and held-out fonts for ``val`` and ``test``.
    """
    if fonts is None:
        found = split_fonts(find_cjk_fonts())
        fonts = found.train if split == "train" else found.held_out
    gen = Generator(
        strokes,
        fonts,
        seed,
        size,
        split=split,
        photo_share=photo_share,
        photo_options=photo_options,
        hand_options=hand_options,
        styles=styles,
    )
    tasks: list[Task] = []
    for ch in dict.fromkeys(chars):
        tasks += [(ch, "char", i) for i in range(n_per_class)]
        if incomplete_per_class and gen.can_be_incomplete(ch):
            tasks += [(ch, "incomplete", i) for i in range(incomplete_per_class)]
    tasks += [(UNKNOWN, "unknown", i) for i in range(n_per_class if unknown is None else unknown)]

    images = np.empty((len(tasks), size, size), dtype=np.uint8)
    kinds: list[Kind] = []
    dropped: list[tuple[int, ...]] = []
    bar = _Progress(len(tasks), f"synth {split}", progress)
    try:
        if workers > 1 and len(tasks) > 1:
            import multiprocessing

            # spawn: no inherited locks or threads, the same behaviour on every platform.
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(gen,)) as pool:
                chunk = max(1, min(64, len(tasks) // (workers * 8)))
                for i, (data, kind, drop) in enumerate(pool.imap(_work, tasks, chunk)):
                    images[i] = np.frombuffer(data, dtype=np.uint8).reshape(size, size)
                    kinds.append(kind)
                    dropped.append(drop)
                    bar.update()
        else:
            for i, task in enumerate(tasks):
                s = _run(gen, task)
                images[i] = s.image
                kinds.append(s.kind)
                dropped.append(s.dropped)
                bar.update()
    finally:
        bar.close()
    return Dataset(images, tuple(t[0] for t in tasks), tuple(kinds), tuple(dropped))


# --- sample sheets and a speed check: python -m recognition.training.synth ---


def contact_sheet(images: Sequence[Gray], cols: int = 16, gap: int = 2) -> Image.Image:
    """Images in a grid on mid-grey, for looking at a batch at once."""
    h, w = images[0].shape
    rows = -(-len(images) // cols)
    sheet = Image.new("L", (cols * (w + gap) + gap, rows * (h + gap) + gap), 128)
    for i, img in enumerate(images):
        sheet.paste(
            Image.fromarray(img),
            (gap + (i % cols) * (w + gap), gap + (i // cols) * (h + gap)),
        )
    return sheet


def write_sheets(
    out: Path, gen: Generator, chars: str, cols: int = 16, rows: int = 8
) -> list[Path]:
    """The sample sheets of docs/synth: one per kind of sample, 16 x 8 at the output size."""
    n = cols * rows
    pick = [chars[(i * 37) % len(chars)] for i in range(n)]
    partial = [c for c in chars if gen.can_be_incomplete(c)]
    recipes: dict[str, Callable[[int, np.random.Generator], Gray]] = {
        "handwritten": lambda i, r: gen.render_char(pick[i], r, style="pen").image,
        "brush": lambda i, r: gen.render_char(pick[i], r, style="brush").image,
        "font": lambda i, r: gen.render_char(pick[i], r, style="font").image,
        "photographed": lambda i, r: gen.make(pick[i], "char", r).image,
        "incomplete": lambda i, r: gen.render_incomplete(partial[(i * 37) % len(partial)], r).image,
        "unknown": lambda i, r: gen.make(UNKNOWN, "unknown", r).image,
    }
    # Photographs are noisy and compress badly: fewer rows keep the sheets small to commit.
    noisy = {"photographed", "unknown"}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k, (name, recipe) in enumerate(recipes.items()):
        count = cols * (rows * 3 // 4) if name in noisy else n
        images = [recipe(i, gen.rng_for(99, k, i)) for i in range(count)]
        path = out / f"sheet_{name}.png"
        contact_sheet(images, cols).save(path, optimize=True)
        written.append(path)
    return written


def _bench(gen: Generator, chars: str, n: int) -> dict[str, float]:
    """Samples per second on one core, per recipe, after a warm-up that parses every char."""
    for c in chars:
        gen.render_char(c, gen.rng_for(0, ord(c)), style="pen")
    clean = gen.render_char("我", gen.rng_for(5, 0), style="pen").image
    recipes: dict[str, Callable[[int], object]] = {
        "pen": lambda i: gen.render_char(chars[i % len(chars)], gen.rng_for(1, i), style="pen"),
        "brush": lambda i: gen.render_char(chars[i % len(chars)], gen.rng_for(2, i), style="brush"),
        "font": lambda i: gen.render_char(chars[i % len(chars)], gen.rng_for(3, i), style="font"),
        "unknown": lambda i: gen.render_unknown(gen.rng_for(4, i)),
        "photo": lambda i: gen.photo(clean, gen.rng_for(5, i)),
        "make (char)": lambda i: gen.make(chars[i % len(chars)], "char", gen.rng_for(6, i)),
        "make (unknown)": lambda i: gen.make(UNKNOWN, "unknown", gen.rng_for(7, i)),
    }
    rates = {}
    for name, recipe in recipes.items():
        start = time.perf_counter()
        for i in range(n):
            recipe(i)
        rates[name] = n / (time.perf_counter() - start)
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["sheets", "bench"])
    parser.add_argument("--out", type=Path, default=Path("docs/synth"))
    parser.add_argument("--strokes", type=Path, default=None, help="stroke data file or dir")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("-n", type=int, default=1000, help="samples per recipe (bench)")
    args = parser.parse_args(argv)
    fonts = split_fonts(find_cjk_fonts()).train
    gen = Generator(args.strokes, fonts, args.seed, args.size)
    chars = hsk1_charset()
    if args.command == "sheets":
        for path in write_sheets(args.out, gen, chars):
            print(f"{path} ({path.stat().st_size // 1024} KiB)")
    else:
        print(f"size {args.size}, {len(fonts)} font faces, stroke data {gen.strokes.source}")
        for name, rate in _bench(gen, chars, args.n).items():
            print(f"{name:>15}: {rate:6.0f} samples/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
