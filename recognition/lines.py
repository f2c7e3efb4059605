"""Text lines in a photo: PP-OCRv4 detection and orientation, PP-OCRv6 small recognition,
in reading order."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageOps

from recognition.api import PageProblem, Point, TextLine, TextPage
from recognition.ctc import CTCResult, DecodedChar, Lexicon, beam_decode
from recognition.images import MAX_PIXELS, ImageProblem, ImageRejected, opening
from recognition.ppocr import BLANK, MODEL_DIR, PPOCRRecognizer, line_reader_dir
from recognition.preprocess import to_gray
from recognition.runtime import CompiledModel, ModelLoadError
from recognition.service import BatchingService

log = logging.getLogger(__name__)

Gray = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]

DET_FILE = "det.xml"
CLS_FILE = "cls.xml"

# Crops are cut from the photo at this size: a line is read 48 pixels high, so more
# resolution only costs decoding time.
DECODE_MAX_SIDE = 1600
# Detection runs at most this large (PaddleOCR's default): its cost grows with the pixel
# count, and a page's lines are still 20+ pixels high at this size.
DET_MAX_SIDE = 960
# Tiny images are enlarged for detection: DB finds text poorly when a character is only a
# few pixels of its probability map.
DET_MIN_SIDE = 320
DET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
DET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

THRESHOLD = 0.3  # a pixel of the probability map above this is text
BOX_THRESHOLD = 0.55  # a box whose mean probability is below this is noise
UNCLIP_RATIO = 1.5  # DB shrinks text regions when training; grow them back by this much
MIN_BOX_SIDE = 3.0  # in detection pixels: smaller regions are specks
MAX_BOXES = 200  # text boxes read per photo; a page of hundreds stops here and says so
MAX_REGIONS = 2000  # regions scored per photo, so a noisy photo cannot cost unbounded time

VERTICAL_RATIO = 1.5  # a crop this much taller than wide is a vertical line of text
# Vertical writing (columns read top to bottom, right to left). Two pieces of one column
# join when the space between them is under this share of the column's width.
COLUMN_JOIN_GAP = 1.0
# A page whose lines and columns cover under this share of its boxes' area is one of single
# characters: its layout is told by where each character's nearest neighbour is.
SINGLES_SHARE = 0.25
COLUMN_END_MARGIN = 0.6  # a column is cut this much longer at both ends (share of its width)
MIN_INK_CONTRAST = 24.0  # gray levels between paper and ink before a column is cut
NOISE_GAP = 0.03  # blank rows under this share of the character size do not part strokes
TOUCHING = 1.6  # an unbroken piece this many characters tall holds touching characters
CUT_REACH = 0.2  # touching characters are parted at the faintest row this near a square cut
TALL_CELL_COST = 8.0  # a cell taller than a character costs this much more than a short one
CELL_PAD = 0.08  # paper kept around each character cut from a column
STRIP_GAP = 0.25  # space between characters set side by side, a share of the character size
STRIP_MARGIN = 0.3  # and paper at the strip's ends and above and below
CLS_HEIGHT, CLS_WIDTH = 48, 192
FLIP_CONFIDENCE = 0.9  # the orientation model must be this sure before a line is turned
# Lines whose characters average below this are not text. The beam search reads faint
# characters greedy decoding dropped, with their own low confidences: at 0.5 whole lines
# of real faint pencil were thrown away, and 0.3 found no more text in 60 photos of doodles,
# grain, stains and squared paper than 0.5 did.
MIN_LINE_SCORE = 0.3

# Pen on paper (measured on real handwriting: tools/real_ink_lines.py, figures in the README).
# Faint pencil gets its contrast raised before detection, by at most this factor: a blank
# page's noise must not be raised into text.
INK_GAIN = 3.0
# Each line is cut this much longer at both ends (a share of its height): DB's boxes end
# at the last stroke, and the recognizer drops a character that touches the crop's edge.
LINE_END_MARGIN = 0.15
# CTC decoding: a beam search that adds this bonus (log probability) for each character
# continuing or starting an HSK 1 word, and takes this penalty off each symbol, Latin
# letter or digit: a handwritten 一 reads as a dash, 二 as =, 十 as +, 七 as 匕.
LEXICON_BONUS = 1.0
NON_HAN_PENALTY = 1.0
# Counting past ten is what learners write next to HSK 1 words (prices, years, phone
# numbers), and these units are the numbers' only characters outside HSK 1.
NUMBER_WORDS = ("百", "千", "万", "亿", "两")

# When nothing is read: below this contrast (0-255) the page is blank; a written page's
# sharpest edges jump by at least this share of its contrast between two pixels.
BLANK_CONTRAST = 40.0
SHARP_EDGE_SHARE = 0.16
TOO_SMALL_SIDE = 32


# --- geometry ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quad:
    """A rotated rectangle as its corners: top-left, top-right, bottom-right, bottom-left."""

    points: tuple[Point, Point, Point, Point]
    score: float = 1.0

    @property
    def center(self) -> Point:
        xs, ys = zip(*self.points, strict=True)
        return (sum(xs) / 4, sum(ys) / 4)

    @property
    def width(self) -> float:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.points
        return max(math.hypot(x1 - x0, y1 - y0), math.hypot(x2 - x3, y2 - y3))

    @property
    def height(self) -> float:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.points
        return max(math.hypot(x3 - x0, y3 - y0), math.hypot(x2 - x1, y2 - y1))

    @property
    def angle(self) -> float:
        """The direction of the top edge in degrees, clockwise from horizontal (y points down)."""
        (x0, y0), (x1, y1) = self.points[:2]
        return math.degrees(math.atan2(y1 - y0, x1 - x0))

    @property
    def top(self) -> float:
        return min(y for _, y in self.points)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.points)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.points)

    @property
    def right(self) -> float:
        return max(x for x, _ in self.points)

    def scaled(self, sx: float, sy: float) -> Quad:
        p0, p1, p2, p3 = ((x * sx, y * sy) for x, y in self.points)
        return Quad((p0, p1, p2, p3), self.score)


def _runs(mask: npt.NDArray[np.bool_]) -> tuple[list[int], list[int], list[int]]:
    """Horizontal runs of True as (row, start, end exclusive), row by row, left to right."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    return rows.tolist(), starts.tolist(), ends.tolist()


def connected_regions(mask: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.int64]]:
    """The 8-connected regions of a mask, each as an array of its runs (row, start, end).

    Works on runs rather than pixels: a text region is a few runs per row, so the union-find
    touches thousands of items instead of hundreds of thousands.
    """
    rows, starts, ends = _runs(mask)
    n = len(rows)
    if n == 0:
        return []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    first = np.searchsorted(np.asarray(rows), np.arange(mask.shape[0] + 1)).tolist()
    for r in range(mask.shape[0] - 1):
        i, i_end = first[r], first[r + 1]
        j, j_end = first[r + 1], first[r + 2]
        while i < i_end and j < j_end:
            # Ends are exclusive, so touching at a corner (diagonal neighbours) counts.
            if starts[i] <= ends[j] and starts[j] <= ends[i]:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if ends[i] < ends[j]:
                i += 1
            else:
                j += 1
    roots = np.array([find(i) for i in range(n)])
    table = np.stack([np.asarray(rows), np.asarray(starts), np.asarray(ends)], axis=1)
    order = np.argsort(roots, kind="stable")
    cuts = np.flatnonzero(np.diff(roots[order])) + 1
    return [table[group] for group in np.split(order, cuts)]


def region_outline(runs: npt.NDArray[np.int64]) -> Floats:
    """The corner points of a region's leftmost and rightmost pixel in every row: its convex
    hull is the hull of these, and they are few (four a row)."""
    order = np.argsort(runs[:, 0], kind="stable")
    rows, starts, ends = runs[order, 0], runs[order, 1], runs[order, 2]
    cuts = np.flatnonzero(np.diff(rows)) + 1
    heads = np.concatenate([[0], cuts])
    r = rows[heads].astype(np.float32)
    left = np.minimum.reduceat(starts, heads).astype(np.float32)
    right = np.maximum.reduceat(ends, heads).astype(np.float32)
    return np.concatenate(
        [
            np.stack([left, r], 1),
            np.stack([left, r + 1], 1),
            np.stack([right, r], 1),
            np.stack([right, r + 1], 1),
        ]
    )


def convex_hull(points: Floats) -> Floats:
    """Andrew's monotone chain: the hull's corners counter-clockwise, no repeats."""
    pts = np.unique(points, axis=0)  # sorted by x, then y
    if len(pts) < 3:
        return pts

    def cross(o: Floats, a: Floats, b: Floats) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    lower: list[Floats] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Floats] = []
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class RotatedRect:
    """``width`` runs along ``axis`` (a unit vector), ``height`` across it."""

    cx: float
    cy: float
    width: float
    height: float
    axis: tuple[float, float]

    def grown(self, by: float) -> RotatedRect:
        return RotatedRect(self.cx, self.cy, self.width + 2 * by, self.height + 2 * by, self.axis)

    def quad(self) -> Quad:
        """The corners, named as a reader sees them: the side nearer horizontal is the top."""
        ux, uy = self.axis
        vx, vy = -uy, ux
        w, h = self.width, self.height
        if abs(ux) < abs(vx):
            ux, uy, vx, vy, w, h = vx, vy, ux, uy, h, w
        if ux < 0:
            ux, uy = -ux, -uy
        if vy < 0:
            vx, vy = -vx, -vy
        ax, ay = ux * w / 2, uy * w / 2
        bx, by = vx * h / 2, vy * h / 2
        c = (self.cx, self.cy)
        return Quad(
            (
                (c[0] - ax - bx, c[1] - ay - by),
                (c[0] + ax - bx, c[1] + ay - by),
                (c[0] + ax + bx, c[1] + ay + by),
                (c[0] - ax + bx, c[1] - ay + by),
            )
        )


def min_area_rect(points: Floats) -> RotatedRect:
    """The smallest rectangle around the points: one of its sides lies on a hull edge, so
    only the hull's edge directions need trying (rotating calipers, vectorised)."""
    hull = convex_hull(points)
    if len(hull) == 1:
        return RotatedRect(float(hull[0, 0]), float(hull[0, 1]), 0.0, 0.0, (1.0, 0.0))
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    u = hull[:, 0] * cos + hull[:, 1] * sin  # (angles, points): coordinate along the axis
    v = -hull[:, 0] * sin + hull[:, 1] * cos  # and across it
    widths = u.max(axis=1) - u.min(axis=1)
    heights = v.max(axis=1) - v.min(axis=1)
    best = int(np.argmin(widths * heights))
    c, s = float(cos[best, 0]), float(sin[best, 0])
    um = float(u[best].max() + u[best].min()) / 2
    vm = float(v[best].max() + v[best].min()) / 2
    return RotatedRect(
        um * c - vm * s, um * s + vm * c, float(widths[best]), float(heights[best]), (c, s)
    )


def _box_score(prob: Floats, quad: Quad) -> float:
    """The mean text probability inside the quad: low for faint blobs that only just passed
    the pixel threshold."""
    h, w = prob.shape
    xs = [x for x, _ in quad.points]
    ys = [y for _, y in quad.points]
    x0, x1 = max(0, math.floor(min(xs))), min(w, math.ceil(max(xs)))
    y0, y1 = max(0, math.floor(min(ys))), min(h, math.ceil(max(ys)))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = Image.new("1", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in quad.points], fill=1)
    inside = np.asarray(mask, dtype=bool)
    if not inside.any():
        return 0.0
    return float(prob[y0:y1, x0:x1][inside].mean())


def detection_boxes(
    prob: Floats,
    *,
    threshold: float = THRESHOLD,
    box_threshold: float = BOX_THRESHOLD,
    unclip_ratio: float = UNCLIP_RATIO,
    min_side: float = MIN_BOX_SIDE,
    max_regions: int = MAX_REGIONS,
) -> tuple[list[Quad], bool]:
    """A DB probability map (H, W) to text boxes in its own pixels, and whether regions were
    dropped because there were more than ``max_regions``."""
    regions = connected_regions(prob > threshold)
    truncated = len(regions) > max_regions
    if truncated:
        # The biggest regions are the likeliest text; specks are what overflows.
        sizes = np.array([int((r[:, 2] - r[:, 1]).sum()) for r in regions])
        keep = np.argsort(-sizes, kind="stable")[:max_regions]
        regions = [regions[i] for i in sorted(keep)]
    boxes: list[Quad] = []
    for runs in regions:
        rect = min_area_rect(region_outline(runs))
        if min(rect.width, rect.height) < min_side:
            continue
        score = _box_score(prob, rect.quad())
        if score < box_threshold:
            continue
        # DB learnt shrunken text kernels; growing by area * ratio / perimeter restores the
        # text's full extent (the offset PaddleOCR's training shrank by).
        grow = rect.width * rect.height * unclip_ratio / (2 * (rect.width + rect.height))
        big = rect.grown(grow)
        if min(big.width, big.height) < min_side + 2:
            continue
        quad = big.quad()
        boxes.append(Quad(quad.points, score))
    return boxes, truncated


def reading_order(quads: Sequence[Quad]) -> list[int]:
    """Indices in reading order: rows top to bottom, left to right within a row. Boxes are
    in one row when each one's vertical centre lies within the other's vertical extent."""
    order = sorted(range(len(quads)), key=lambda i: (quads[i].center[1], quads[i].left))
    rows: list[list[int]] = []
    for i in order:
        cy = quads[i].center[1]
        for row in rows:
            last = quads[row[-1]]
            if last.top <= cy <= last.bottom and quads[i].top <= last.center[1] <= quads[i].bottom:
                row.append(i)
                break
        else:
            rows.append([i])
    rows.sort(key=lambda row: min(quads[i].center[1] for i in row))
    return [i for row in rows for i in sorted(row, key=lambda i: quads[i].left)]


# --- vertical writing -------------------------------------------------------------------


def is_column(quad: Quad) -> bool:
    """A box much taller than wide is a column of vertical writing. A single character's box
    is about square and a word's is wide: both are (short) horizontal lines."""
    return quad.height >= VERTICAL_RATIO * quad.width


def is_row(quad: Quad) -> bool:
    """A box much wider than tall: a horizontal line of two or more characters."""
    return quad.width >= VERTICAL_RATIO * quad.height


def is_vertical_page(quads: Sequence[Quad]) -> bool:
    """Written in columns: the columns cover more of the page than the horizontal lines do.
    Boxes about square (single characters) vote neither way, unless nearly all are: then
    the page is vertical when more characters have their nearest neighbour above or below
    than beside them (characters spaced apart down columns). Anything else is horizontal."""
    columns = sum(q.width * q.height for q in quads if is_column(q))
    rows = sum(q.width * q.height for q in quads if is_row(q))
    areas = np.array([q.width * q.height for q in quads])
    if columns + rows > SINGLES_SHARE * float(areas.sum()) or len(quads) < 3:
        return columns > rows
    # Pieces of a character (DB parts 饭 into 饣 and 反) neither vote nor are neighbours.
    whole = [q for q, a in zip(quads, areas, strict=True) if a >= 0.4 * float(np.median(areas))]
    if len(whole) < 3:
        return False
    centres = np.array([q.center for q in whole], dtype=np.float64)
    apart = centres[:, None, :] - centres[None, :, :]
    distance = np.hypot(apart[..., 0], apart[..., 1])
    np.fill_diagonal(distance, np.inf)
    nearest = apart[np.arange(len(whole)), distance.argmin(axis=1)]
    stacked = int((np.abs(nearest[:, 1]) > np.abs(nearest[:, 0])).sum())
    return stacked > len(whole) - stacked


def _same_column(a: Quad, b: Quad) -> bool:
    """Each box's horizontal centre lies within the other's horizontal extent."""
    return a.left <= b.center[0] <= a.right and b.left <= a.center[0] <= b.right


def column_order(quads: Sequence[Quad]) -> list[int]:
    """Indices in the reading order of a page written in columns: first the horizontal lines
    above every other box (a title), top to bottom; then the columns right to left, each top
    to bottom; last the horizontal lines below every other box. Any other box (a square
    character, a horizontal word between columns) is a piece of the column it lies in, or a
    column of its own."""
    body = [i for i, q in enumerate(quads) if not is_row(q)]
    if not body:
        return reading_order(quads)
    top = min(quads[i].top for i in body)
    bottom = max(quads[i].bottom for i in body)
    head = [i for i, q in enumerate(quads) if is_row(q) and q.center[1] < top]
    foot = [i for i, q in enumerate(quads) if is_row(q) and q.center[1] > bottom]
    edge = set(head) | set(foot)
    body = [i for i in range(len(quads)) if i not in edge]
    columns: list[list[int]] = []
    for i in sorted(body, key=lambda i: (-quads[i].center[0], quads[i].top)):
        for column in columns:
            if any(_same_column(quads[i], quads[j]) for j in column):
                column.append(i)
                break
        else:
            columns.append([i])
    columns.sort(key=lambda c: -sum(quads[i].center[0] for i in c) / len(c))
    ordered = [i for c in columns for i in sorted(c, key=lambda i: quads[i].top)]
    head_order = [head[i] for i in reading_order([quads[i] for i in head])]
    foot_order = [foot[i] for i in reading_order([quads[i] for i in foot])]
    return head_order + ordered + foot_order


def joined_columns(quads: Sequence[Quad], gap: float = COLUMN_JOIN_GAP) -> list[Quad]:
    """Boxes in ``column_order`` with each column's pieces made one box: DB often cuts a
    column where two characters stand apart. Two boxes one after the other join when they
    are in one column, about as wide as each other (a lone 一 or 二 is a wide box, a word
    across the column wider still), and the space between them is under ``gap`` times the
    wider one's width."""
    out: list[Quad] = []
    for q in quads:
        if out and _same_column(out[-1], q):
            last = out[-1]
            narrow, wide = sorted((last.width, q.width))
            if wide < VERTICAL_RATIO * narrow and q.top - last.bottom < gap * wide:
                corners = np.array([*last.points, *q.points], dtype=np.float32)
                score = min(last.score, q.score)
                out[-1] = Quad(min_area_rect(corners).quad().points, score)
                continue
        out.append(q)
    return out


def _ink(gray: Gray) -> npt.NDArray[np.bool_] | None:
    """Pixels darker than halfway from the paper (the median) to the darkest ink, or None
    when nothing stands out from the paper."""
    paper = float(np.median(gray))
    dark = float(np.percentile(gray, 0.5))
    if paper - dark < MIN_INK_CONTRAST:
        return None
    mask: npt.NDArray[np.bool_] = gray < (paper + dark) / 2
    return mask


def _extent(counts: npt.NDArray[np.int64], least: int = 1) -> tuple[int, int]:
    """The first and past-the-last index where ``counts`` reaches ``least``."""
    hits = np.flatnonzero(counts >= least)
    if len(hits) == 0:
        return 0, len(counts)
    return int(hits[0]), int(hits[-1]) + 1


def column_cells(column: Gray) -> list[tuple[int, int]]:
    """A column of vertical writing (upright, top to bottom) cut into its characters, as
    row ranges (top, bottom exclusive).

    The character size is the width of the column's ink. Rows without ink part the column
    into pieces; a piece much taller than a character (characters touching) is cut into
    about square cells at the rows with least ink. Pieces are then grouped into cells as
    close to the character size as possible (a dynamic programme): the strokes of 二 or 三
    stay together, while a short 一 is not glued to its neighbour because a cell taller
    than a character costs more than one shorter.
    """
    mask = _ink(column)
    h, w = column.shape
    if mask is None:
        return [(0, h)]
    rows = mask.sum(axis=1)
    x0, x1 = _extent(mask.sum(axis=0), least=2 if h > 20 else 1)
    size = float(min(max(x1 - x0, 0.5 * w), w))
    inked = rows >= (2 if w > 20 else 1)
    if not inked.any():
        return [(0, h)]
    # Runs of inked rows; a gap of a row or two inside a stroke is noise, not a space.
    edges = np.diff(np.concatenate([[0], inked.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    pieces: list[tuple[int, int]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if pieces and a - pieces[-1][1] < max(2.0, NOISE_GAP * size):
            pieces[-1] = (pieces[-1][0], b)
        else:
            pieces.append((a, b))
    split: list[tuple[int, int]] = []
    for a, b in pieces:
        if b - a < TOUCHING * size:
            split.append((a, b))
            continue
        n = max(2, round((b - a) / size - 0.25))
        cuts = [a]
        reach = max(1, round(CUT_REACH * size))
        for k in range(1, n):
            ideal = a + round(k * (b - a) / n)
            lo, hi = max(cuts[-1] + 1, ideal - reach), min(b - 1, ideal + reach + 1)
            if hi <= lo:
                continue
            window = rows[lo:hi]
            least = np.flatnonzero(window == window.min()) + lo
            cuts.append(int(least[np.argmin(np.abs(least - ideal))]))
        cuts.append(b)
        split.extend(pairwise(cuts))

    def cost(top: int, bottom: int) -> float:
        d = (bottom - top - size) / size
        return TALL_CELL_COST * d * d if d > 0 else d * d

    m = len(split)
    best = [0.0] + [math.inf] * m
    back = [0] * (m + 1)
    for j in range(1, m + 1):
        for i in range(j - 1, -1, -1):
            if split[j - 1][1] - split[i][0] > 3 * size and i < j - 1:
                break
            c = best[i] + cost(split[i][0], split[j - 1][1])
            if c < best[j]:
                best[j], back[j] = c, i
    cells: list[tuple[int, int]] = []
    j = m
    while j > 0:
        i = back[j]
        cells.append((split[i][0], split[j - 1][1]))
        j = i
    return cells[::-1]


def column_strip(column: Image.Image, fill: int = 255) -> Image.Image:
    """A column of vertical writing made a horizontal line the recognizer can read: its
    characters cut apart (``column_cells``) and set upright side by side, first on the left.
    A column without ink to cut is turned a quarter instead, as a sideways line would be.

    PP-OCRv4 reads a column turned a quarter better than this strip, so LineOCR turns
    columns by default. Character error rates measured on vertical pages, turned / stacked:
    printed (24 pages, 4 fonts) 0.3% / 0.3%; synth_columns(30) 0.6% / 2.1%; real ink
    (real_ink_lines.py build --vertical --per-writer 2, 50 pages) 12.4% / 30.4%: stacking
    parts characters such as 零 and 二 at their inner gaps."""
    gray: Gray = np.asarray(column.convert("L"))
    mask = _ink(gray)
    if mask is None:
        return column.rotate(90, expand=True)
    cells = column_cells(gray)
    x0, x1 = _extent(mask.sum(axis=0), least=2 if gray.shape[0] > 20 else 1)
    size = max(1.0, min(max(x1 - x0, 0.5 * gray.shape[1]), gray.shape[1]))
    pad = max(1, round(CELL_PAD * size))
    pieces: list[Gray] = []
    for top, bottom in cells:
        cell_mask = mask[top:bottom]
        a, b = _extent(cell_mask.sum(axis=0))
        pieces.append(
            gray[max(0, top - pad) : bottom + pad, max(0, a - pad) : min(gray.shape[1], b + pad)]
        )
    gap = round(STRIP_GAP * size)
    margin = round(STRIP_MARGIN * size)
    height = max(p.shape[0] for p in pieces) + 2 * margin
    width = sum(p.shape[1] for p in pieces) + gap * (len(pieces) - 1) + 2 * margin
    strip = np.full((height, width), fill, dtype=np.uint8)
    x = margin
    for p in pieces:
        y = (height - p.shape[0]) // 2
        strip[y : y + p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return Image.fromarray(strip)


def _perspective_coefficients(src: Sequence[Point], width: int, height: int) -> list[float]:
    """PIL's perspective transform maps output pixels to input ones: solve for the eight
    coefficients that send the output rectangle's corners to the quad's."""
    dst = [(0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height))]
    a = np.zeros((8, 8), dtype=np.float64)
    b = np.zeros(8, dtype=np.float64)
    for k, ((x, y), (u, v)) in enumerate(zip(dst, src, strict=True)):
        a[2 * k] = [x, y, 1, 0, 0, 0, -x * u, -y * u]
        a[2 * k + 1] = [0, 0, 0, x, y, 1, -x * v, -y * v]
        b[2 * k], b[2 * k + 1] = u, v
    coefficients: list[float] = np.linalg.solve(a, b).tolist()
    return coefficients


def crop_quad(image: Image.Image, quad: Quad, fill: int = 255, *, turn: bool = True) -> Image.Image:
    """The quad cut out and straightened (``fill`` where it leaves the image); unless ``turn``
    is off, a tall crop (a sideways line) is turned a quarter anticlockwise so that its
    first character comes first from the left."""
    width = max(1, round(quad.width))
    height = max(1, round(quad.height))
    try:
        coefficients = _perspective_coefficients(quad.points, width, height)
    except np.linalg.LinAlgError:  # a degenerate quad: fall back to its bounding box
        xs, ys = zip(*quad.points, strict=True)
        crop = image.crop((int(min(xs)), int(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))))
    else:
        crop = image.transform(
            (width, height),
            Image.Transform.PERSPECTIVE,
            coefficients,
            Image.Resampling.BILINEAR,
            fillcolor=fill,
        )
    if turn and crop.height >= VERTICAL_RATIO * crop.width:
        crop = crop.rotate(90, expand=True)
    return crop


def _toward(a: Point, b: Point, length: float) -> Point:
    """The vector of ``length`` pointing from ``a`` to ``b``."""
    norm = math.hypot(b[0] - a[0], b[1] - a[1]) or 1.0
    return (b[0] - a[0]) / norm * length, (b[1] - a[1]) / norm * length


def lengthened(quad: Quad, share: float) -> Quad:
    """The quad made longer at both ends of its line by ``share`` of its thickness: along
    its top and bottom edges, or down its sides for a tall (vertical) line."""
    if share <= 0.0:
        return quad
    p0, p1, p2, p3 = quad.points
    if quad.height >= VERTICAL_RATIO * quad.width:
        left, right = _toward(p0, p3, share * quad.width), _toward(p1, p2, share * quad.width)
        moves = ((-1, left), (-1, right), (1, right), (1, left))
    else:
        top, bottom = _toward(p0, p1, share * quad.height), _toward(p3, p2, share * quad.height)
        moves = ((-1, top), (1, top), (1, bottom), (-1, bottom))
    p0, p1, p2, p3 = (
        (x + sign * dx, y + sign * dy)
        for (x, y), (sign, (dx, dy)) in zip(quad.points, moves, strict=True)
    )
    return Quad((p0, p1, p2, p3), quad.score)


# --- photos -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Photo:
    """An upright gray photo ready for detection, and the size of the frame boxes are given in."""

    gray: Gray
    width: int  # the upright photo's own size (boxes are reported in these pixels)
    height: int


def decode_photo(data: bytes, max_side: int = DECODE_MAX_SIDE) -> Photo:
    """Bytes to an upright gray photo at most ``max_side`` a side, or ImageRejected."""
    with opening(data) as img:
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ImageRejected(ImageProblem.TOO_MANY_PIXELS, width=width, height=height)
        if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # turned a quarter
            width, height = height, width
        if img.format == "JPEG":
            # libjpeg decodes straight to gray at a reduced scale: much faster.
            img.draft("L", (max_side, max_side))
        img.load()
        gray = to_gray(ImageOps.exif_transpose(img), max_side=max_side)
    return Photo(gray, width, height)


def det_size(height: int, width: int) -> tuple[int, int]:
    """Detection input size: long side within DET_MIN_SIDE..DET_MAX_SIDE, both multiples of 32."""
    long_side = max(height, width)
    scale = (
        min(1.0, DET_MAX_SIDE / long_side) if long_side > DET_MIN_SIDE else DET_MIN_SIDE / long_side
    )

    def fit(n: int) -> int:
        return max(32, round(n * scale / 32) * 32)

    return fit(height), fit(width)


def ink_contrast(gray: Gray, gain: float = INK_GAIN) -> Gray:
    """Faint writing made darker, by at most ``gain``: the paper (the median) stays white and
    the darkest ink moves towards black. Dark photos and blank pages are left alone."""
    if gain <= 1.0:
        return gray
    sample = gray[:: max(1, gray.shape[0] // 256), :: max(1, gray.shape[1] // 256)]
    ink, paper = (float(v) for v in np.percentile(sample, [0.5, 50]))
    if paper < 128 or paper - ink < 8:
        return gray
    k = min(gain, 255.0 / (paper - ink))
    if k <= 1.0:
        return gray
    lut = np.clip(255.0 - (paper - np.arange(256, dtype=np.float32)) * k, 0, 255)
    out: Gray = lut.astype(np.uint8)[gray]
    return out


def det_tensor(gray: Gray, height: int, width: int) -> Floats:
    """(1, 3, H, W) input normalised as PaddleOCR trained the detector (ImageNet statistics)."""
    resized = np.asarray(
        Image.fromarray(gray).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32
    )
    x = resized[None, :, :] / 255.0
    out: Floats = ((x - DET_MEAN[:, None, None]) / DET_STD[:, None, None])[None]
    return out.astype(np.float32)


def cls_tensor(crop: Image.Image) -> Floats:
    """(3, 48, 192): the line resized to height 48, cut or zero-padded to width 192."""
    width = min(CLS_WIDTH, max(1, math.ceil(CLS_HEIGHT * crop.width / max(1, crop.height))))
    line = np.asarray(crop.resize((width, CLS_HEIGHT), Image.Resampling.BILINEAR), np.float32)
    out = np.zeros((3, CLS_HEIGHT, CLS_WIDTH), dtype=np.float32)
    out[:, :, :width] = line / 127.5 - 1.0
    return out


def page_problem(photo: Photo) -> PageProblem:
    """Why nothing was read: a tiny image, a blurred one, or simply no writing."""
    if min(photo.width, photo.height) < TOO_SMALL_SIDE:
        return PageProblem.TOO_SMALL
    gray = photo.gray
    if max(gray.shape) > 640:
        small = Image.fromarray(gray)
        small.thumbnail((640, 640), Image.Resampling.BOX)
        gray = np.asarray(small)
    g = gray.astype(np.float32)
    low, high = np.percentile(g, [1, 99])
    contrast = float(high - low)
    if contrast < BLANK_CONTRAST:
        return PageProblem.NO_TEXT
    # Ink on paper in focus changes from paper to ink within a pixel or two; a blurred
    # photo spreads that change out, so even its steepest steps are shallow.
    steps = np.concatenate([np.abs(np.diff(g, axis=0)).ravel(), np.abs(np.diff(g, axis=1)).ravel()])
    edge = float(np.percentile(steps, 99.9))
    if edge < SHARP_EDGE_SHARE * contrast:
        return PageProblem.BLURRY
    return PageProblem.NO_TEXT


# --- the pipeline -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineDecoding:
    """How PP-OCR's per-step output becomes text: a beam search favouring HSK 1 words (the
    default), or greedy with ``LineDecoding.greedy()``. A seed model decodes greedily."""

    bonus: float = LEXICON_BONUS
    non_han_penalty: float = NON_HAN_PENALTY
    extra_words: tuple[str, ...] = NUMBER_WORDS
    width: int = 8

    @classmethod
    def greedy(cls) -> LineDecoding:
        return cls(bonus=0.0, non_han_penalty=0.0, extra_words=())

    @property
    def is_greedy(self) -> bool:
        return self.bonus == 0.0 and self.non_han_penalty == 0.0


@cache
def _lexicon(extra_words: tuple[str, ...]) -> Lexicon:
    return Lexicon.hsk(extra=extra_words)


class LineRecognizer(Protocol):
    """Reads cropped text lines (uint8, gray or RGB): PPOCRRecognizer, or a seed model's."""

    def read_lines(self, images: Sequence[Gray]) -> list[CTCResult]: ...


@dataclass(frozen=True, slots=True)
class _Detected:
    photo: Photo
    quads: list[Quad]  # in the decoded photo's pixels, in reading order
    crops: list[tuple[Image.Image, ...]]  # each box's ways of being read: the surest wins
    truncated: bool


def _trimmed(reading: CTCResult) -> tuple[DecodedChar, ...]:
    """The reading's characters without spaces at its ends: the recognizer knows a space,
    but at a line's ends it only means margin."""
    chars = list(reading.chars)
    while chars and chars[0].char == " ":
        chars.pop(0)
    while chars and chars[-1].char == " ":
        chars.pop()
    return tuple(chars)


def _mean_confidence(chars: Sequence[DecodedChar]) -> float:
    return sum(c.confidence for c in chars) / len(chars) if chars else 0.0


ColumnReading = Literal["stack", "turn", "both"]


class LineOCR:
    """Photo to text lines; each model compiled once and safe to call from several threads."""

    def __init__(
        self,
        model_dir: Path = MODEL_DIR,
        *,
        recognizer: LineRecognizer | None = None,
        max_boxes: int = MAX_BOXES,
        threads: int | None = None,
        decoding: LineDecoding | None = None,
        ink_gain: float = INK_GAIN,
        end_margin: float = LINE_END_MARGIN,
        min_line_score: float = MIN_LINE_SCORE,
        columns: ColumnReading = "turn",
    ) -> None:
        self.model_dir = model_dir
        # A column of vertical writing is read with its characters set side by side
        # ("stack"), turned a quarter like a sideways line ("turn"), or both ways.
        self.columns = columns
        self.max_boxes = max_boxes
        self.decoding = LineDecoding() if decoding is None else decoding
        self.ink_gain = ink_gain
        self.end_margin = end_margin
        self.min_line_score = min_line_score
        self._lexicon = None if self.decoding.is_greedy else _lexicon(self.decoding.extra_words)
        # Latency over throughput: one photo's detection is one large inference.
        self.det = CompiledModel(model_dir / DET_FILE, hint="LATENCY", threads=threads)
        self.cls = CompiledModel(model_dir / CLS_FILE, hint="LATENCY", threads=threads)
        if self.cls.output_shapes[0][-1] != 2:
            raise ModelLoadError(f"{model_dir / CLS_FILE} is not a 0/180 degree classifier")
        try:
            self.recognizer: LineRecognizer = recognizer or PPOCRRecognizer(
                line_reader_dir(model_dir)
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"cannot load the line recognizer for {model_dir}: {exc}") from exc

    def detect(self, gray: Gray) -> tuple[list[Quad], bool]:
        """Text boxes in the gray image's pixels, in reading order, at most ``max_boxes``."""
        h, w = gray.shape
        dh, dw = det_size(h, w)
        out = self.det.infer(det_tensor(ink_contrast(gray, self.ink_gain), dh, dw))
        prob = next(iter(out.values()))[0, 0]
        boxes, truncated = detection_boxes(prob)
        quads = [q.scaled(w / dw, h / dh) for q in boxes]
        if is_vertical_page(quads):
            quads = joined_columns([quads[i] for i in column_order(quads)])
        else:
            quads = [quads[i] for i in reading_order(quads)]
        if len(quads) > self.max_boxes:
            quads, truncated = quads[: self.max_boxes], True
        return quads, truncated

    def _orient(self, crops: list[Image.Image]) -> tuple[list[Image.Image], list[bool]]:
        """Turn upside-down lines the right way up; also says which were turned."""
        out = list(crops)
        turned = [False] * len(crops)
        for first in range(0, len(crops), 32):
            chunk = crops[first : first + 32]
            batch = np.stack([cls_tensor(c) for c in chunk])
            probs = next(iter(self.cls.infer(batch).values()))
            for k, p in enumerate(probs):
                if p[1] > FLIP_CONFIDENCE:  # class 1 is "turned 180 degrees"
                    out[first + k] = chunk[k].rotate(180)
                    turned[first + k] = True
        return out, turned

    def _detect_photo(self, photo: Photo) -> _Detected:
        quads, truncated = self.detect(photo.gray)
        image = Image.fromarray(photo.gray)
        # Past the photo's edge a lengthened line continues on paper, not on white.
        paper = int(np.median(photo.gray[::4, ::4])) if self.end_margin > 0 else 255
        crops = [self._crops(image, q, paper) for q in quads]
        return _Detected(photo, quads, crops, truncated)

    def _crops(self, image: Image.Image, quad: Quad, paper: int) -> tuple[Image.Image, ...]:
        """A line's crop. A column is turned a quarter, like a sideways line (PP-OCR reads
        such a column better than its characters cut apart and set side by side: figures
        in ``column_strip``), or set side by side, or both, as ``columns`` says."""
        if not is_column(quad) or self.columns == "turn":
            return (crop_quad(image, lengthened(quad, self.end_margin), paper),)
        # DB finds a lone 一 at a column's end poorly (a thin stroke under its box score):
        # a column to be cut apart is cut longer (a turned one read worse so: 0.3 -> 1.6%
        # CER on printed columns, 14.1 -> 16.3% on real ink).
        longer = lengthened(quad, max(self.end_margin, COLUMN_END_MARGIN))
        strip = column_strip(crop_quad(image, longer, paper, turn=False), paper)
        if self.columns == "stack":
            return (strip,)
        return (strip, crop_quad(image, lengthened(quad, self.end_margin), paper))

    def _read_lines(self, crops: Sequence[Gray]) -> list[CTCResult]:
        recognizer = self.recognizer
        if self._lexicon is None or not isinstance(recognizer, PPOCRRecognizer):
            return recognizer.read_lines(crops)
        d = self.decoding
        # read_lines decodes greedily; the beam search decodes the same per-step output.
        steps = recognizer.line_probabilities(crops)
        return [
            beam_decode(
                p,
                recognizer.labels,
                blank=BLANK,
                lexicon=self._lexicon,
                bonus=d.bonus,
                non_han_penalty=d.non_han_penalty,
                width=d.width,
            )
            for p in steps
        ]

    def read(self, image: bytes | Gray) -> TextPage:
        """Every text line in one photo (encoded bytes, or an upright gray array)."""
        result = self.read_many([image])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def read_many(self, images: Sequence[bytes | Gray]) -> list[TextPage | Exception]:
        """Several photos, their lines recognised in shared batches. A photo that cannot be
        read gets its exception in its place, so it never spoils the others' results."""
        detected: list[_Detected | Exception] = []
        for image in images:
            try:
                if isinstance(image, bytes):
                    photo = decode_photo(image)
                else:
                    photo = Photo(image, image.shape[1], image.shape[0])
                detected.append(self._detect_photo(photo))
            except Exception as exc:  # handed back to that photo's caller alone
                detected.append(exc)
        crops = [c for d in detected if isinstance(d, _Detected) for ways in d.crops for c in ways]
        started = time.perf_counter()
        upright, turned_list = self._orient(crops)
        readings = iter(self._read_lines([np.asarray(c) for c in upright]))
        turned = iter(turned_list)
        log.debug(
            "event=ocr.lines lines=%d ms=%.0f", len(crops), 1000 * (time.perf_counter() - started)
        )
        pages: list[TextPage | Exception] = []
        for d in detected:
            if isinstance(d, Exception):
                pages.append(d)
                continue
            sx, sy = d.photo.width / d.photo.gray.shape[1], d.photo.height / d.photo.gray.shape[0]
            lines: list[TextLine] = []
            upside_down = 0
            for quad, ways in zip(d.quads, d.crops, strict=True):
                first_way_turned, *_ = (next(turned) for _ in ways)
                upside_down += first_way_turned
                # A column read two ways keeps the surer reading.
                chars = max((_trimmed(next(readings)) for _ in ways), key=_mean_confidence)
                if not chars:
                    continue
                confidences = tuple(c.confidence for c in chars)
                mean = _mean_confidence(chars)
                if mean < self.min_line_score:
                    continue
                lines.append(
                    TextLine(
                        text="".join(c.char for c in chars),
                        confidence=mean,
                        box=quad.scaled(sx, sy).points,
                        char_confidences=confidences,
                    )
                )
            if 2 * upside_down > len(d.quads):
                # Most lines had to be turned the right way up: the page itself is upside
                # down (or a page of lines photographed turned a quarter anticlockwise,
                # whose lines look like columns), so it reads from the other end.
                lines.reverse()
            problem = None if lines else page_problem(d.photo)
            pages.append(
                TextPage(tuple(lines), d.photo.width, d.photo.height, d.truncated, problem)
            )
        return pages


@cache
def shared_line_ocr(model_dir: Path = MODEL_DIR) -> LineOCR:
    """One LineOCR per model folder per process: compiling the three models takes seconds."""
    return LineOCR(model_dir)


class LineOCRReader:
    """The bot's LineReader: photos from concurrent chats are read together in small batches
    on one worker thread; a full queue raises ServiceBusy instead of growing."""

    def __init__(
        self,
        ocr: LineOCR,
        *,
        max_batch: int = 4,
        max_wait_ms: float = 2.0,
        max_pending: int = 32,
        workers: int = 1,
    ) -> None:
        self.ocr = ocr
        # One worker: each inference already uses every core, so two would only contend.
        self.service: BatchingService[bytes, TextPage | Exception] = BatchingService(
            lambda photos: self.ocr.read_many(photos),
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_pending=max_pending,
            workers=workers,
        )

    async def read(self, image: bytes) -> TextPage:
        result = await self.service.submit(image)
        if isinstance(result, Exception):
            raise result
        return result

    async def close(self) -> None:
        await self.service.close()
