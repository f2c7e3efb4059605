"""Turn a photo of handwriting into the normalised ink images the character model reads."""

from __future__ import annotations

import functools
import io
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, ImageFilter

Gray = npt.NDArray[np.uint8]
Ink = npt.NDArray[np.float32]

# Work on at most this many pixels a side: enough for a character, cheap to filter.
WORK_SIDE = 256
# The paper under the ink: a closing this wide at 48 px, then a Gaussian blur of this sigma.
PAPER_CLOSING = 5
PAPER_BLUR = 1.0
# A sheet lying on a darker table (or a board on a lighter wall, once inverted): the
# background after a closing this wide at 48 px (it fills even bold strokes in) ...
TABLE_CLOSING = 9
# ... darker than this share of the sheet's (its 95th percentile) ...
TABLE_DARK = 0.5
# ... covering at least this share of the picture, outside the sheet in its row and its
# column, is the table: no ink is read on it, nor this many 48-px pixels into it.
TABLE_AREA = 0.03
TABLE_GROW = 1
# Dark background between light in a row or a column, beyond this share of the picture:
# the light part is not one (convex) sheet but paper between bold strokes.
TABLE_ENCLOSED = 0.01
# Along the table's edge, the background within this many 48-px pixels reaches at least
# this share of the sheet's level (median over the edge): a sheet's edge, not a shadow's.
TABLE_SHARP_WITHIN = 3
TABLE_SHARP = 0.8
# Only in a photo at least this many pixels a side: a picture cropped to bold writing is
# smaller, and taken the wrong way round (its paper for a board) its paper looks like a
# wall around the strokes.
TABLE_MIN_SIDE = 128
# A frame around the writing (the bezel of a screen, the border of a card) is the edge of
# another surface when the background outside it is darker, or lighter, than inside it by
# this ratio; it is found on a grid of cells about this many to the picture's side.
FRAME_SURFACE = 0.85
FRAME_CELLS = 32
# A frame is at most this many cells thick (a screen's bezel is one or two).
FRAME_THICK = 2
# Below this ink contrast (0..1 darkness relative to the paper) nothing was written.
MIN_INK_CONTRAST = 0.12
# Ink this close to the photo's edge is usually the table, a finger or the page border.
BORDER = 0.02


class NoInk(Exception):
    """The photo shows no writing (blank paper, or a photo too faint to read)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One character ready for the model, with what preprocessing learnt about the photo.

    ``image`` is ink darkness in [0, 1] (0 = paper, 1 = the darkest ink), square, the
    character centred with a margin. ``ink_side`` is the character's larger side in
    working pixels; ``contrast`` the ink's darkness before stretching; ``inverted`` says
    the photo was light on dark; ``grid_lines`` how many ruled lines were removed.
    """

    image: Ink
    ink_side: int
    contrast: float
    inverted: bool
    grid_lines: int
    aspect: float  # width / height of the ink's box, for telling words from characters
    pieces: int = 1  # parts separated by empty columns: several characters written in a row
    rows: int = 1  # parts separated by empty rows: several characters written in a column
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # the ink's (x0, y0, x1, y1), working pixels
    # The character at each margin asked for, stacked (the model reads them all and
    # averages); its first is ``image``.
    views: Ink | None = None


def decode(data: bytes, *, max_side: int = 1024) -> Gray:
    """Bytes of any common image format to an upright gray array, at most ``max_side`` a side.

    Callers check size and format first (``recognition.images.inspect_image``); this still
    refuses a decompression bomb rather than trusting that it was done.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as img:
            if img.format == "JPEG":
                # Let libjpeg decode at a reduced scale: much faster for big phone photos.
                img.draft("RGB", (max_side, max_side))
            img.load()
            # Turned upright after the conversion to gray (the same pixels as turning the
            # colour photo, as ImageOps.exif_transpose did, but a third of the work).
            turn = EXIF_TURNS.get(img.getexif().get(ExifTags.Base.Orientation, 1))
            gray = _luminance(img)
    if turn is not None:
        gray = gray.transpose(turn)
    return _fit(gray, max_side)


# What ImageOps.exif_transpose does for each EXIF orientation.
EXIF_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def to_gray(img: Image.Image, *, max_side: int = 1024) -> Gray:
    """Any PIL mode (RGBA, palette, CMYK, 16-bit, float) as 8-bit luminance."""
    return _fit(_luminance(img), max_side)


def _luminance(img: Image.Image) -> Image.Image:
    """A new mode "L" image of ``img``'s luminance, whatever its mode."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        # Scale by the format's range, not the picture's: stretching min..max would turn
        # a blank page's sensor noise into full-contrast "ink".
        if img.mode.startswith("I;16") or (img.mode == "I" and float(arr.max()) > 255):
            full = 65535.0
        elif img.mode == "F" and float(arr.max()) <= 1.0:
            full = 1.0
        else:
            full = 255.0
        arr = np.clip(arr * (255.0 / full), 0, 255)
        img = Image.fromarray(np.round(arr).astype(np.uint8))
    elif img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels are paper: composite onto white before dropping alpha.
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("L")


def _fit(gray: Image.Image, max_side: int) -> Gray:
    """A mode "L" image, shrunk in place to at most ``max_side`` a side, as an array."""
    if max(gray.size) > max_side:
        gray.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.uint8).copy()


# Polarity is judged on a small copy, against a coarse estimate of the background: the
# median of each of 4 x 4 tiles, where writing is nearly always the minority.
POLARITY_SIDE = 64
POLARITY_TILES = 4
# |log(bright tail / dark tail)| below which the tails do not decide polarity (1.65x).
POLARITY_CLEAR = 0.5
# In that case the picture's edge decides when at least this share of it is one tone and
# the other tone is strokes: it keeps under SHEET_THICK of itself after an erosion by
# SHEET_ERODE pixels (of POLARITY_SIDE).
EDGE_PLAIN = 0.8
SHEET_ERODE = 3
SHEET_THICK = 0.05
# Otherwise the tails are read again where the tiled background rises less than this many
# levels a pixel (of POLARITY_SIDE), when at least SHEET_FLAT of the picture does.
SHEET_EDGE_SLOPE = 2.0
SHEET_FLAT = 0.3


def _tile_background(small: Gray) -> npt.NDArray[np.float32]:
    h, w = small.shape
    th, tw = max(1, h // POLARITY_TILES), max(1, w // POLARITY_TILES)
    rows, cols = max(1, h // th), max(1, w // tw)
    tiles = small[: rows * th, : cols * tw].reshape(rows, th, cols, tw).transpose(0, 2, 1, 3)
    medians = _tile_medians(tiles.reshape(rows, cols, th * tw))
    smooth = Image.fromarray(medians, mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(smooth, dtype=np.float32)


def _tile_medians(tiles: Gray) -> npt.NDArray[np.float32]:
    """``np.median`` over the last axis, the same values in half the time (one partition
    of the tiles laid out flat, rather than numpy's copy for a tuple of axes)."""
    n = tiles.shape[-1]
    if n % 2:
        return np.partition(tiles, n // 2, axis=-1)[..., n // 2].astype(np.float32)
    part = np.partition(tiles, (n // 2 - 1, n // 2), axis=-1)
    pair = part[..., n // 2 - 1].astype(np.float64) + part[..., n // 2]
    return (pair / 2).astype(np.float32)


def is_dark_background(gray: Gray) -> bool:
    """Whether the writing is light on dark (a board) rather than dark on light.

    The background is most of the picture, so the writing is the far tail of the brightness
    around it: a long bright tail means chalk. The tails are measured after the picture's
    wide changes of brightness are taken out (a tiled median background), because a
    reflection on paper is a long bright tail too, and read on the raw picture it looked
    like a board.

    When neither tail is clearly the longer (within ``POLARITY_CLEAR``), the tiles have
    not told writing from background: strokes as thick as a tile (a bold character cropped
    tight, a letter in a 28-pixel box) or the edge of a sheet lying on a table. The
    picture's two tones decide then, when they can (``_writing_on_the_edge_tone``), else
    the tails away from any sheet's edge (``_tails_inside_sheets``)."""
    small = shrink(gray, POLARITY_SIDE)
    background = _tile_background(small)
    residual = small.astype(np.float32) - background
    lo, hi = _percentiles(residual, (2, 98))
    # The two answers only differ from np.percentile's in the last bits: ask numpy when
    # that could tip a comparison, so the decision is always the same as numpy's.
    if (
        abs(hi - lo - 24) < 1e-3
        or (hi - lo > 23 and abs(hi + lo) < 1e-3)
        or abs(abs(_tail_ratio(lo, hi)) - POLARITY_CLEAR) < 1e-3
    ):
        lo, hi = (float(v) for v in np.percentile(residual, (2, 98)))
    if hi - lo < 24:
        return bool(np.median(small) < 96)
    ratio = _tail_ratio(lo, hi)
    if abs(ratio) < POLARITY_CLEAR:
        plain = _writing_on_the_edge_tone(small)
        if plain is not None:
            return plain
        inside = _tails_inside_sheets(background, residual)
        if inside is not None:
            return inside > 0
    return ratio > 0


def _tails_inside_sheets(background: npt.NDArray[np.float32], residual: Ink) -> float | None:
    """The tails' ratio away from where the tiled background is steep: a sheet's edge
    inside a tile (paper on a table, a board on a wall) is a long tail of its own, on
    both sides. None for a picture too small for its tiles' slope to mean an edge, or
    when too little of it is flat."""
    if max(background.shape) < POLARITY_SIDE:
        return None
    gy, gx = np.gradient(background)
    flat = np.hypot(gx, gy) <= SHEET_EDGE_SLOPE
    if flat.sum() < SHEET_FLAT * flat.size:
        return None
    lo, hi = (float(v) for v in np.percentile(residual[flat], (2, 98)))
    return _tail_ratio(lo, hi)


def _tail_ratio(lo: float, hi: float) -> float:
    """log(bright tail / dark tail): above 0, the bright tail is the longer."""
    return math.log(max(hi, 1e-3) / max(-lo, 1e-3))


def _writing_on_the_edge_tone(small: Gray) -> bool | None:
    """Polarity from the picture's two tones (split at Otsu's threshold) when they tell it
    plainly: nearly all of the picture's edge is one tone and the other is strokes (an
    erosion by ``SHEET_ERODE`` pixels leaves under ``SHEET_THICK`` of it). The edge's tone
    is then the background, and the strokes the writing. None when they do not: the other
    tone is thick (a sheet on a table, a board on a wall, or strokes too bold to tell from
    one) or the edge is mixed."""
    dark = small <= _otsu(small)
    ring = np.concatenate([dark[0], dark[-1], dark[1:-1, 0], dark[1:-1, -1]])
    edge_dark_share = float(ring.mean())
    if EDGE_PLAIN > edge_dark_share > 1 - EDGE_PLAIN:
        return None
    edge_dark = edge_dark_share >= EDGE_PLAIN
    other = ~dark if edge_dark else dark
    # Erode ``other``: the largest of "not other" around each pixel is 0 only inside it.
    outside = np.where(other, 0, 255).astype(np.uint8)
    kept = int((_max_filter(outside, 2 * SHEET_ERODE + 1) == 0).sum())
    if kept >= SHEET_THICK * max(int(other.sum()), 1):
        return None
    return edge_dark


def _otsu(gray: Gray) -> int:
    """Otsu's threshold: the level that best splits the histogram into two tones."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    w0 = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    between = (mu[-1] * w0 - mu) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return int(np.argmax(between))


def _percentiles(values: npt.NDArray[np.float32], qs: tuple[float, ...]) -> list[float]:
    """np.percentile (linear interpolation) to within rounding, from one partition."""
    flat = values.ravel()
    last = flat.size - 1
    pos = [q / 100 * last for q in qs]
    below = [int(p) for p in pos]
    above = [min(b + 1, last) for b in below]
    part = np.partition(flat, sorted({*below, *above})).astype(np.float64)
    return [
        float(part[b] + (part[a] - part[b]) * (p - b))
        for p, b, a in zip(pos, below, above, strict=True)
    ]


def raise_ink(ink: Ink, gamma: float) -> Ink:
    """``ink`` (values in [0, 1]) raised to the power ``gamma``, as a character model reads
    it (``model.json`` ``input_gamma``: under 1 lifts faint strokes); 1: ``ink`` itself."""
    if gamma == 1.0:
        return ink
    out: Ink = np.clip(ink, 0.0, 1.0) ** np.float32(gamma)
    return out


def shrink(gray: Gray, side: int) -> Gray:
    """``gray`` with its larger side at most ``side`` (box-averaged), else as it is."""
    h, w = gray.shape
    if max(h, w) <= side:
        return gray
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX), dtype=np.uint8)


def ink_map(gray: Gray, *, table: bool = True) -> tuple[Ink, bool]:
    """Darkness of the ink relative to the local paper, in [0, 1], and whether inverted.

    Dividing by an estimate of the paper (a closing wide enough to fill strokes in, then
    smoothed a little) removes uneven light and shadows, whatever the paper's colour.
    ``table``: look for a table (or wall) around the sheet, and read no ink on it.
    """
    inverted = is_dark_background(gray)
    if inverted:
        gray = (255 - gray).astype(np.uint8)
    h, w = gray.shape
    small_side = 48
    scale = small_side / max(h, w)
    small = np.asarray(
        Image.fromarray(gray).resize(
            (max(2, round(w * scale)), max(2, round(h * scale))), Image.Resampling.BOX
        )
    )
    # Strokes are a few percent of the picture wide: a 5-pixel closing at 48 px (a max
    # filter, then a min filter as wide) fills them in, and leaves the edge of a sheet lying
    # on a darker table where it is. A max filter alone spread the paper over the table
    # beside it, and that band of table was read as ink (see the model card, "Polarity").
    closed = _max_filter(small, PAPER_CLOSING)
    closed = 255 - _max_filter(255 - closed, PAPER_CLOSING)
    paper = Image.fromarray(closed).filter(ImageFilter.GaussianBlur(PAPER_BLUR))
    paper_full = np.asarray(paper.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    around = _table(small) if table else None
    # 1 - gray / paper, clipped to [0, 1], computed in place: this is a full-size pass.
    np.maximum(paper_full, 1.0, out=paper_full)
    ink = gray.astype(np.float32)
    ink /= paper_full
    np.subtract(1.0, ink, out=ink)
    np.clip(ink, 0.0, 1.0, out=ink)
    if around is not None:
        # The paper's estimate runs over the table's edge (the blur, the scaling up): that
        # band of table would be read as a dark frame around the sheet.
        grown = _max_filter(around.astype(np.uint8), 1 + 2 * TABLE_GROW)
        ink[np.asarray(Image.fromarray(grown).resize((w, h), Image.Resampling.NEAREST)) > 0] = 0.0
    return ink, inverted


def _table(small: Gray) -> npt.NDArray[np.bool_] | None:
    """Where a table (or a wall) shows around the sheet, at 48 px; None when none does.

    The closing is taken on the picture extended by its own edge, so that a strip of table
    along the picture's side is background, not a stroke. A table lies outside the sheet:
    no sheet on both sides of it in its row or column (the sheet is convex); dark
    background between light is bold writing cropped tight, and then nothing is a table.
    Nor is background that darkens gradually towards the side (a shadow, uneven light):
    beside a table, the sheet's level is reached within a few pixels."""
    size, r = TABLE_CLOSING, TABLE_CLOSING // 2
    h, w = small.shape
    # The max filter of the extended picture, over the picture and r pixels around it ...
    rows, cols = _edge_index(h, 2 * r), _edge_index(w, 2 * r)
    grown = _running_max(_running_max(small[:, cols], size, w + 2 * r, 1)[rows], size, h + 2 * r, 0)
    # ... then the min filter over the picture.
    closed = 255 - _running_max(_running_max(255 - grown, size, w, 1), size, h, 0)
    flat = closed.ravel()
    k = int(0.95 * (flat.size - 1))
    sheet = float(np.partition(flat, k)[k])
    dark = closed < TABLE_DARK * sheet
    if int(np.count_nonzero(dark)) < TABLE_AREA * dark.size:  # most photos: no table
        return None
    light = ~dark
    within = _between(light) | _between(light.T).T
    if float(np.count_nonzero(dark & within)) > TABLE_ENCLOSED * dark.size:
        return None
    dark &= ~within
    if float(dark.mean()) < TABLE_AREA:
        return None
    # A sheet's edge is sharp: beside the table, the sheet's own level within a few pixels.
    # A shadow or uneven light darkens the paper gradually.
    edge = dark & (_max_filter((~dark).astype(np.uint8), 3) > 0)
    near = _max_filter(closed, 2 * TABLE_SHARP_WITHIN + 1)[edge]
    if near.size and float(np.median(near)) < TABLE_SHARP * sheet:
        return None
    return dark


def _between(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per row, True from its first True of ``mask`` to its last (rows without any: False)."""
    w = mask.shape[1]
    first = np.argmax(mask, 1)[:, None]
    last = w - 1 - np.argmax(mask[:, ::-1], 1)[:, None]
    x = np.arange(w)
    rows: npt.NDArray[np.bool_] = np.asarray(mask.any(1))[:, None]
    spans: npt.NDArray[np.bool_] = rows & (x >= first) & (x <= last)
    return spans


def _max_filter(arr: Gray, size: int) -> Gray:
    """The largest value in each ``size`` x ``size`` window (``size`` odd), the edges
    repeated outwards: what PIL's ``ImageFilter.MaxFilter`` gives, as running maxima over
    doubling spans along each axis instead of a rank filter that sorts every window."""
    h, w = arr.shape
    r = size // 2
    across = _running_max(arr[:, _edge_index(w, r)], size, w, 1)
    return _running_max(across[_edge_index(h, r)], size, h, 0)


@functools.lru_cache(maxsize=256)
def _edge_index(n: int, r: int) -> Index:
    """Indices of ``n`` values extended by ``r`` on each side, the edges repeated."""
    index = np.clip(np.arange(-r, n + r), 0, n - 1)
    index.flags.writeable = False
    return index


def _running_max(arr: Gray, size: int, n: int, axis: int) -> Gray:
    """The maxima of ``size`` consecutive values along ``axis``, ``n`` of them (the
    array holds n + size - 1): maxima of 2, 4, 8... values, then of two overlapping spans."""

    def part(a: Gray, start: int, length: int) -> Gray:
        return a[start : start + length] if axis == 0 else a[:, start : start + length]

    span, out = 1, arr
    while 2 * span <= size:
        length = out.shape[axis] - span
        out = np.maximum(part(out, 0, length), part(out, span, length))
        span *= 2
    if span < size:
        out = np.maximum(part(out, 0, n), part(out, size - span, n))
    return part(out, 0, n)


def _ink_level(ink: Ink) -> float:
    """How dark the writing is: the mean of the darkest few pixels. A percentile would
    miss a short, thin stroke (一 written small covers under 1% of the picture)."""
    flat = ink.ravel()
    k = max(6, flat.size // 2000)
    # Only the darkest pixels matter: look at those above a cheap high quantile first.
    # That quantile is the level (of 255) holding the k-th darkest pixel, so a histogram
    # of the pixels at least half as dark as the darkest finds it, when there are k.
    levels = flat * 255
    half = int(levels.max()) // 2 if levels.size else 0
    darkest = levels[levels >= half] if half else levels
    if darkest.size < k:
        darkest = levels
    coarse = np.bincount(np.minimum(darkest.astype(np.int32), 255), minlength=256)
    above = np.cumsum(coarse[::-1])
    cut = (255 - int(np.searchsorted(above, k))) / 255.0
    top = flat[flat >= cut]
    if top.size > k:
        top = np.partition(top, top.size - k)[-k:]
    return float(top.mean()) if top.size else 0.0


Index = npt.NDArray[np.intp]


def _row_runs(mask: npt.NDArray[np.bool_]) -> tuple[Index, Index, Index]:
    """Every horizontal run of True in reading order: its row, first column and length."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    # The padding keeps runs inside their rows: each starts at a rise and ends at a fall.
    edges = np.diff(padded.ravel())
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts // (w + 2), starts % (w + 2), ends - starts


def _line_rows(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int, float]]:
    """Bands of rows crossed by a ruled line, with the share of the width they cover."""
    h, w = mask.shape
    # Only a row with ink over 45% of the width can be part of a line (either kind below):
    # the runs are found in those alone.
    inked_all = np.count_nonzero(mask, axis=1)
    at = np.flatnonzero(inked_all >= 0.45 * w)
    rows = np.zeros(h, dtype=bool)
    span = np.zeros(h)
    if at.size:
        some = mask[at]
        # Per row, counted from its runs rather than pixel by pixel.
        row, _, length = _row_runs(some)
        long_run = length >= 0.3 * w
        covered = np.bincount(row[long_run], weights=length[long_run], minlength=at.size)
        # Dashed lines (田字格 middle lines) leave gaps: count a row whose ink covers most of
        # the width in many separate pieces, too. A row's ink changes twice per run, less
        # the runs touching its ends.
        changes = 2 * np.bincount(row, minlength=at.size) - some[:, 0] - some[:, -1]
        dashed = changes // 2 >= 6
        rows[at] = (covered >= 0.55 * w) | dashed
        span[at] = np.where(dashed, 1.0, covered / w)
    flips = np.flatnonzero(np.diff(rows, prepend=False, append=False))
    bands: list[tuple[int, int, float]] = []
    for start, stop in zip(flips[::2].tolist(), flips[1::2].tolist(), strict=True):
        # A band thicker than a twentieth of the picture is writing, not a printed rule.
        if stop - start <= max(2, h // 20):
            bands.append((start, stop, float(span[start:stop].max())))
    return bands


def remove_grid(ink: Ink) -> tuple[Ink, int]:
    """Blank out ruled lines (田字格, lined and squared paper) that cross the whole picture.

    A dark line over most of the width could be the character 一 written wide, so a line
    is removed only when it looks printed: it runs past the rest of the writing at both
    ends (a long stroke of a scan cropped to its character does not), and it is part of a
    grid and runs (nearly) edge to edge, or it is fainter than the writing and reaches
    across most of the picture.
    """
    level = _ink_level(ink)
    if level < MIN_INK_CONTRAST:
        return ink, 0
    return _remove_lines(ink, level)


def _remove_lines(ink: Ink, level: float, *, guard_strokes: bool = True) -> tuple[Ink, int]:
    """``remove_grid`` for ink whose level is known: ``ink`` itself when no line is found.

    ``guard_strokes=False`` skips the tests that a line runs past the writing and, when
    faint, across most of the picture (the removal of data cache version 4; see
    ``prepare``)."""
    # Low enough to catch a pale printed grid that the cleaning step would still keep.
    mask = ink > 0.15 * level
    horizontal = _line_rows(mask)
    vertical = _line_rows(mask.T)
    if not horizontal and not vertical:
        return ink, 0
    inked = int(np.count_nonzero(mask))
    strong: float | None = None  # how dark the writing is: only computed when needed
    past = (
        _past_writing(mask, ink > WRITING * level, horizontal, vertical)
        if guard_strokes
        else ([1.0] * len(horizontal), [1.0] * len(vertical))
    )
    out = ink.copy()
    removed = 0
    grid = len(horizontal) + len(vertical) >= 2
    for bands, view, reaches in ((horizontal, out, past[0]), (vertical, out.T, past[1])):
        for (a, b, span), reach in zip(bands, reaches, strict=True):
            if not reach:
                continue
            band = view[a:b]
            printed = grid and span >= EDGE_TO_EDGE
            marked = band[band > 0.15 * level]
            # A lone faint line must also run (nearly) edge to edge: a pale stroke of a
            # character drawn with a light hand does not.
            if not printed and marked.size and reach >= EDGE_TO_EDGE:
                # Fainter than the writing: its median below 0.75 x the 90th percentile
                # of the ink. Counting usually tells which side it is on.
                tone = _median(marked)
                faint = _p90_above(ink, inked, tone / 0.75)
                if faint is None:
                    if strong is None:
                        strong = float(np.percentile(ink[mask], 90))
                    faint = tone < 0.75 * strong
                printed = faint
            if printed or not marked.size:
                # Keep what is much darker than the rule: a stroke crossing it.
                rule = _median(band)
                view[a:b] = np.where(band > rule + 0.35 * level, band, 0.0)
                removed += 1
    return out, removed


WRITING = 0.4  # of the ink level: surely writing, not paper texture or a pale rule
PAST = 0.03  # a rule runs past the writing by this share of its length at both ends
# "(Nearly) edge to edge": a grid line covering this share of the picture's side is
# printed; a lone faint line must reach across as much.
EDGE_TO_EDGE = 0.8


def _past_writing(
    mask: npt.NDArray[np.bool_],
    strong: npt.NDArray[np.bool_],
    horizontal: list[tuple[int, int, float]],
    vertical: list[tuple[int, int, float]],
) -> tuple[list[float], list[float]]:
    """Per ruled-line candidate (found in ``mask``): the share of the picture it reaches
    across when it runs past the writing (the ``strong`` ink elsewhere) at both ends, as a
    rule printed across the page does; 0.0 when it does not. A long stroke in a picture
    cropped to the character (a scan of one character) does not: the rest of the
    character reaches as far.

    When almost nothing is left besides the candidates (a blank practice sheet, or 十
    filling the picture), every candidate passes: the other tests decide."""

    def reach(lines: npt.NDArray[np.bool_], lo: float, hi: float) -> float:
        on = np.flatnonzero(lines.any(0))
        if not on.size:
            return 0.0
        first, last = int(on[0]), int(on[-1])
        margin = max(2.0, PAST * lines.shape[1])
        if first > lo - margin or last < hi - 1 + margin:
            return 0.0
        return float(last + 1 - first) / int(lines.shape[1])

    rest = strong.copy()
    for a, b, _ in horizontal:
        rest[max(a - 1, 0) : b + 1] = False
    for a, b, _ in vertical:
        rest[:, max(a - 1, 0) : b + 1] = False
    # The writing's box; with no writing left, every candidate runs past it.
    box: tuple[float, float, float, float] = (math.inf, math.inf, -math.inf, -math.inf)
    if int(np.count_nonzero(rest)) >= 0.05 * max(int(np.count_nonzero(strong)), 1):
        box = _mass_box(rest.astype(np.float32))
    x0, y0, x1, y1 = box
    return (
        [reach(mask[a:b], x0, x1) for a, b, _ in horizontal],
        [reach(mask.T[a:b], y0, y1) for a, b, _ in vertical],
    )


def _p90_above(ink: Ink, inked: int, value: float) -> bool | None:
    """Whether np.percentile(ink[mask], 90) is above ``value`` (``inked`` pixels are in the
    mask, the ``ink.size - inked`` palest are not; ``value`` is above all those), told by
    counting the pixels on either side of it; None when it is too close to tell that way.

    The percentile lies between the k-th and (k+1)-th smallest masked pixels; the margins
    (one rank, a millionth of the value) cover numpy's own rounding."""
    k = int(0.9 * (inked - 1))
    outside = ink.size - inked
    if int(np.count_nonzero(ink <= value * (1 + 1e-6))) - outside <= k - 1:
        return True
    if int(np.count_nonzero(ink < value * (1 - 1e-6))) - outside >= k + 3:
        return False
    return None


def _median(values: Ink) -> float:
    """np.median of float32 values (the same number: the middle one, or the float32 mean
    of the middle two), without its generic machinery; called a few times per ruled line."""
    flat = values.ravel()
    mid = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, mid)[mid])
    part = np.partition(flat, (mid - 1, mid))
    return float((part[mid - 1] + part[mid]) / np.float32(2))


def _clean(ink: Ink, level: float) -> Ink:
    """Stretch the ink (whose darkest level is ``level``) to [0, 1], paper texture to 0."""
    floor = max(0.06, 0.2 * level)
    stretched = np.clip((ink - floor) / max(level - floor, 1e-6), 0.0, 1.0)
    # No median filter here: the model was trained without one, and stray specks are
    # removed as whole blobs by _drop_strays.
    return np.asarray(stretched, dtype=np.float32)


STRAY_SHARE = 0.25  # a part with less ink than this share of the largest one is minor ...
CRUMB_SHARE = 0.06  # ... and dropped if it has less than this, or lies away from the writing
NEAR = 0.5  # "near the writing": within this share of its larger side of its box


def _drop_strays(ink: Ink, cells: int = 24) -> Ink:
    """Remove small blobs of ink far from the writing: a pen dot, a crumb, a corner shadow.

    Connected parts are found on a coarse grid (cells of about 1/24 of the picture, grown by
    one cell so the separate strokes of one character stay together). The parts with at
    least a quarter of the largest part's ink are the writing. A smaller part is kept only
    if it is more than a crumb and lies near the writing: the short first stroke of 二 or
    the dot of 六, written apart from the rest, are strokes (in the real sample, every 二
    whose short stroke was dropped was read as 一); specks have a few percent of the ink.
    """
    h, w = ink.shape
    step = max(1, -(-max(h, w) // cells))
    gh, gw = -(-h // step), -(-w // step)
    limit = 0.02 * step * step
    # Each cell's ink by reduceat: several times faster than summing a padded copy over
    # two axes, but added in another order, so a sum can differ from that one in its last
    # bits (at most ``slack`` of it). Where such a difference could tip a comparison, the
    # sums are taken the old way: the outcome is always the same as theirs.
    slack = 4 * step * step * 2.0**-24
    mass = np.add.reduceat(np.add.reduceat(ink, np.arange(0, h, step), 0), np.arange(0, w, step), 1)
    exact = bool(np.any(np.abs(mass - limit) <= slack * np.maximum(mass, limit)))
    if exact:
        mass = _cell_sums(ink, step)
    occupied = mass > limit
    labels = _parts(_grow_cells(occupied))
    flat = labels.ravel()
    ids = np.flatnonzero(np.bincount(flat, minlength=gh * gw + 1)[1:]) + 1
    if len(ids) <= 1:
        return ink
    totals = np.bincount(flat, weights=mass.ravel(), minlength=gh * gw + 1)[ids]
    shares = np.array([STRAY_SHARE, CRUMB_SHARE])
    bars = shares * totals.max()
    borderline = np.abs(totals[:, None] - bars) <= slack * (totals[:, None] + bars)
    if not exact and np.any(borderline):
        totals = np.bincount(flat, weights=_cell_sums(ink, step).ravel(), minlength=gh * gw + 1)
        totals = totals[ids]
        bars = shares * totals.max()
    writing = np.isin(labels, ids[totals >= bars[0]])
    minor = ids[(totals < bars[0]) & (totals >= bars[1])]
    keep = writing
    if len(minor):
        rows, cols = np.flatnonzero(writing.any(1)), np.flatnonzero(writing.any(0))
        reach = NEAR * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
        area = np.zeros_like(writing)
        r0, c0 = max(0, int(rows[0] - reach)), max(0, int(cols[0] - reach))
        area[r0 : int(rows[-1] + reach) + 1, c0 : int(cols[-1] + reach) + 1] = True
        close = np.unique(labels[area & np.isin(labels, minor)])
        keep = writing | np.isin(labels, close)
    return np.where(_cells_to_pixels(keep, step, (h, w)), ink, 0.0).astype(np.float32)


def _drop_frame(ink: Ink, gray: Gray) -> Ink:
    """``ink`` without a frame around the writing that is the edge of another surface: the
    bezel of a screen photographed on a desk, a card's border. A frame is a thin ring of
    ink (on a grid of ``FRAME_CELLS`` cells a side: within ``FRAME_THICK`` cells of the
    outside) that holds all the other ink inside it (ink of the ring on all four sides of
    each of their cells); it is the edge of a surface when the background beyond it differs
    from the background within by ``FRAME_SURFACE``. A box written round the rest of a
    character (国, 回) has the same paper on both sides, and stays."""
    h, w = ink.shape
    step = max(1, -(-max(h, w) // FRAME_CELLS))
    # Each cell's mean ink, by PIL on 8 bits (numpy's sums over cells took 8 times as long).
    occupied = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).reduce(step)) > 5
    # Most pictures stop here: a frame's ring is near the outside, and the writing it holds
    # lies deeper, apart from it. Ordinary writing has no deep ink, or it joins the rest.
    near = _near_outside(occupied, _enclosed(occupied))
    deep = occupied & ~near
    if not np.any(deep) or np.any(_grow_cells(deep) & occupied & near):
        return ink
    labels = _parts(occupied)
    ids = np.unique(labels[occupied])
    if len(ids) < 2:
        return ink
    # The part whose box is largest is the only one that could hold all the others.
    boxes = [np.nonzero(labels == k) for k in ids]
    areas = [(r.max() - r.min() + 1) * (c.max() - c.min() + 1) for r, c in boxes]
    frame = labels == ids[int(np.argmax(areas))]
    inside = _enclosed(frame) & ~frame
    if not np.all(inside[occupied & ~frame]) or np.any(frame & ~_near_outside(frame, inside)):
        return ink
    paper = ink < 0.05
    beyond = gray[~_cells_to_pixels(frame | inside, step, (h, w)) & paper]
    held = gray[_cells_to_pixels(inside, step, (h, w)) & paper]
    if beyond.size < 0.02 * ink.size or held.size < 0.02 * ink.size:
        return ink
    a, b = float(np.median(beyond)), float(np.median(held))
    if min(a, b) >= FRAME_SURFACE * max(a, b):
        return ink
    # The ring grown by a cell: the cells its faint edge crosses (the writing is further).
    ring = _cells_to_pixels(_grow_cells(frame), step, (h, w))
    return np.where(ring, 0.0, ink).astype(np.float32)


def _enclosed(cells: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The cells with a True cell (or themselves True) in each of the four directions."""
    return (
        np.maximum.accumulate(cells, 0)
        & np.maximum.accumulate(cells[::-1], 0)[::-1]
        & np.maximum.accumulate(cells, 1)
        & np.maximum.accumulate(cells[:, ::-1], 1)[:, ::-1]
    )


def _near_outside(
    cells: npt.NDArray[np.bool_], enclosed: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """The cells within ``FRAME_THICK`` cells of the outside of ``cells`` (neither True nor
    ``enclosed``)."""
    near = ~(cells | enclosed)
    for _ in range(FRAME_THICK):
        near = _grow_cells(near)
    return near


def _cells_to_pixels(
    cells: npt.NDArray[np.bool_], step: int, shape: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """A grid of ``step`` x ``step`` cells back at the picture's ``shape`` (the last row and
    column of cells may reach past it)."""
    h, w = shape
    return np.repeat(np.repeat(cells, step, 0), step, 1)[:h, :w]


def _grow_cells(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """``mask`` grown by one cell to its 8 neighbours."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    grown = out.copy()
    out[:, 1:] |= grown[:, :-1]
    out[:, :-1] |= grown[:, 1:]
    return out


def _cell_sums(ink: Ink, step: int) -> Ink:
    """The ink in each ``step`` x ``step`` cell, summed as numpy sums a padded copy."""
    h, w = ink.shape
    gh, gw = -(-h // step), -(-w // step)
    padded = np.zeros((gh * step, gw * step), dtype=np.float32)
    padded[:h, :w] = ink
    return np.asarray(padded.reshape(gh, step, gw, step).sum((1, 3)), dtype=np.float32)


def _parts(grown: npt.NDArray[np.bool_]) -> Index:
    """Connected parts (8 neighbours) of a small grid: each True cell labelled with its
    part's number (from 1), 0 elsewhere.

    The grid's horizontal runs are joined with the runs they touch in the row above
    (union-find): a few dozen runs, where labelling cell by cell took a dozen array passes.
    """
    gh, gw = grown.shape
    rows, firsts, lengths = (a.tolist() for a in _row_runs(grown))
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    above: list[int] = []  # the runs of the previous row, left to right
    here: list[int] = []
    row, k = -1, 0
    for i, (y, x0, n) in enumerate(zip(rows, firsts, lengths, strict=True)):
        if y != row:
            above, here, row = (here if y == row + 1 else []), [], y
            k = 0
        x1 = x0 + n  # one past the run; a diagonal neighbour touches too
        while k < len(above) and firsts[above[k]] + lengths[above[k]] < x0:
            k += 1
        j = k
        while j < len(above) and firsts[above[j]] <= x1:
            a, b = root(i), root(above[j])
            parent[max(a, b)] = min(a, b)
            j += 1
        here.append(i)
    labels = np.zeros(gh * gw, dtype=np.intp)
    part = np.array([root(i) + 1 for i in range(len(rows))], dtype=np.intp)
    labels[np.flatnonzero(grown)] = np.repeat(part, lengths)
    return labels.reshape(gh, gw)


def _mass_box(ink: Ink, share: float = 0.005) -> tuple[int, int, int, int]:
    """The box holding all but ``share`` of the ink mass at each side: robust to specks."""
    cols = ink.sum(0)
    rows = ink.sum(1)

    def bounds(profile: npt.NDArray[np.float32]) -> tuple[int, int]:
        c = np.cumsum(profile)
        total = float(c[-1])
        lo = int(np.searchsorted(c, total * share))
        hi = int(np.searchsorted(c, total * (1 - share)))
        return lo, hi + 1

    x0, x1 = bounds(cols)
    y0, y1 = bounds(rows)
    return x0, y0, x1, y1


def normalised_ink(gray: Gray, *, guard_strokes: bool = True) -> tuple[Ink, bool, int, float]:
    """The cleaned ink map of a photo at working size: (ink, inverted, grid lines, contrast)."""
    small = shrink(gray, WORK_SIDE)
    ink, inverted = ink_map(small, table=min(gray.shape) >= TABLE_MIN_SIDE)
    h, w = ink.shape
    by, bx = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    ink[:by], ink[-by:], ink[:, :bx], ink[:, -bx:] = 0.0, 0.0, 0.0, 0.0
    # remove_grid, with its measure of the ink kept: unchanged unless a line was removed.
    contrast = _ink_level(ink)
    if contrast < MIN_INK_CONTRAST:
        raise NoInk(f"ink contrast {contrast:.2f}")
    ink, lines = _remove_lines(ink, contrast, guard_strokes=guard_strokes)
    if lines:
        contrast = _ink_level(ink)
        if contrast < MIN_INK_CONTRAST:
            raise NoInk(f"ink contrast {contrast:.2f}")
    cleaned = _drop_strays(_clean(ink, contrast))
    if min(gray.shape) >= TABLE_MIN_SIDE:
        cleaned = _drop_frame(cleaned, 255 - small if inverted else small)
    if float(cleaned.sum()) < 4.0:
        raise NoInk("no ink left after cleaning")
    return cleaned, inverted, lines, contrast


def crop_square(ink: Ink, box: tuple[int, int, int, int], size: int, margin: float) -> Ink:
    """The square around ``box`` (its centre, its larger side plus ``margin``) at ``size``."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, 1) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = cx - side / 2, cy - side / 2
    img = Image.fromarray(ink, mode="F")
    # Cropping past the edge fills with 0, which is paper: no special case at the borders.
    crop = img.crop((round(left), round(top), round(left + side), round(top + side)))
    shrinking = side > size
    out = crop.resize(
        (size, size), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    )
    arr = np.asarray(out, dtype=np.float32)
    peak = float(arr.max())
    return (arr / peak).astype(np.float32) if peak > 0 else arr


def crop_views(
    ink: Ink, box: tuple[int, int, int, int], size: int, margins: Sequence[float]
) -> Ink:
    """``crop_square`` at each margin, stacked: (len(margins), size, size)."""
    return np.stack([crop_square(ink, box, size, m) for m in margins])


def prepare(
    gray: Gray,
    size: int = 48,
    *,
    margin: float = 0.08,
    guard_strokes: bool = True,
    margins: Sequence[float] = (),
) -> Prepared:
    """One character photo as the model's input; raises NoInk for a blank photo.

    ``margins``: also crop the character at these margins (``Prepared.views``, the first
    being ``margin``'s): a model that reads several framings and averages is less thrown
    by where the ink's box happens to end.

    ``guard_strokes``: keep a long stroke that does not run past the rest of the writing
    even where it looks like a ruled line (a scan cropped to its character). The training
    data is prepared without it: models trained on data prepared with it read real ink
    worse (two seeds, model card), while the same model reads real scans better with it."""
    ink, inverted, lines, contrast = normalised_ink(gray, guard_strokes=guard_strokes)
    box = _mass_box(ink)
    x0, y0, x1, y1 = box
    image = crop_square(ink, box, size, margin)
    views = None
    if margins:
        views = np.concatenate([image[None], crop_views(ink, box, size, margins)])
    return Prepared(
        image=image,
        views=views,
        ink_side=max(x1 - x0, y1 - y0),
        contrast=contrast,
        inverted=inverted,
        grid_lines=lines,
        aspect=(x1 - x0) / max(y1 - y0, 1),
        pieces=_column_pieces(ink[y0:y1, x0:x1]),
        rows=_column_pieces(ink[y0:y1, x0:x1].T),
        box=box,
    )


def _column_pieces(ink: Ink) -> int:
    """How many parts empty columns split the ink into (gaps narrower than 3% of the
    width are pen lifts inside a character, not the space between two); of ``ink.T``, how
    many parts empty rows split it into."""
    if ink.size == 0:
        return 0
    cols = ink.sum(0)
    min_gap = max(2, round(0.03 * len(cols)))
    return 1 + sum(b - a >= min_gap for a, b in _empty_runs(_empty_columns(cols)))


# A column with less ink than this share of the fullest column's is empty.
EMPTY_COLUMN = 0.02


def _empty_columns(cols: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = cols < EMPTY_COLUMN * float(cols.max())
    return out


def _empty_runs(empty: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The runs of empty columns that ink follows, as (first, end): a run at the end,
    with no ink after it, is not one."""
    runs: list[tuple[int, int]] = []
    start = None
    for x, is_empty in enumerate(empty):
        if is_empty and start is None:
            start = x
        elif not is_empty and start is not None:
            runs.append((start, x))
            start = None
    return runs


# Cutting a word into its characters (``split_word``): the places to cut compared (the
# widest empty runs, then the columns of least ink); the weight of the pieces' uneven
# widths against the empty run's width, and of the ink cut through (a share of the
# fullest column's); a cut through ink leaves at least this share of an even split's
# width either side.
GAP_CANDIDATES = 12
GAP_BALANCE = 1.0
GAP_INK_COST = 2.0
GAP_INK_PIECE = 0.5


def _even_cuts(cols: npt.NDArray[np.float32], count: int) -> list[int]:
    """``count - 1`` cuts of a profile, each at its emptiest column near where an even
    split would put it: touching characters still come apart."""
    width = len(cols)
    cuts = []
    for k in range(1, count):
        guess = width * k / count
        lo = int(max(guess - width / (2 * count), 1))
        hi = int(min(guess + width / (2 * count), width - 1))
        window = cols[lo:hi]
        cuts.append(lo + int(np.argmin(window)) if window.size else int(guess))
    return cuts


def _gap_cuts(cols: npt.NDArray[np.float32], count: int) -> list[int] | None:
    """``count - 1`` cuts of a profile (the ink per column of a word), each through an
    empty run (the space between two characters) or, where characters touch, a column
    of little ink; chosen so that the pieces between them are about as wide as one
    another, the runs wide and the ink cut through little. None: too few places to cut."""
    width = len(cols)
    peak = float(cols.max())
    if width < 3 or peak <= 0.0:
        return None
    empty = _empty_columns(cols)
    # (from, to, the share of ink cut through): the empty runs inside the word...
    places = [(a, b, 0.0) for a, b in _empty_runs(empty) if a > 0]
    # ...and the columns of least ink: the middle of each dip of the smoothed profile.
    smooth = np.convolve(cols, np.ones(3) / 3, mode="same")
    x = 1
    while x < width - 1:
        if smooth[x] < smooth[x - 1]:
            end = x
            while end + 1 < width and smooth[end + 1] == smooth[x]:
                end += 1
            if end + 1 < width and smooth[end + 1] > smooth[x] and not empty[x : end + 1].any():
                middle = (x + end) // 2
                places.append((middle, middle, float(smooth[x]) / peak))
            x = end + 1
        else:
            x += 1
    if len(places) < count - 1:
        return None
    places = sorted(sorted(places, key=lambda r: (r[0] - r[1], r[2]))[:GAP_CANDIDATES])
    best, best_score = None, -np.inf
    for chosen in itertools.combinations(places, count - 1):
        edges = [0, *(x for a, b, _ in chosen for x in (a, b)), width]
        widths = np.array([b - a for a, b in zip(edges[::2], edges[1::2], strict=True)], float)
        # A cut through ink must leave a character's width either side: else it is
        # a character cut in two (and a word with one missing, not a word at all).
        inked = [k for k, (_, _, ink) in enumerate(chosen) if ink > 0.0]
        least = min((min(widths[k], widths[k + 1]) for k in inked), default=np.inf)
        if widths.min() <= 0 or least < GAP_INK_PIECE * width / count:
            continue
        mean = float(widths.mean())
        gaps = sum(b - a for a, b, _ in chosen)
        score = (gaps - GAP_BALANCE * float(np.abs(widths - mean).sum())) / mean - (
            GAP_INK_COST * sum(ink for _, _, ink in chosen)
        )
        if score > best_score:
            best, best_score = chosen, score
    if best is None:
        return None
    return [(a + b) // 2 for a, b, _ in best]


@dataclass(frozen=True, slots=True)
class Word:
    """A word cut into its characters (``split_word``)."""

    pieces: list[Ink]  # each character cropped and centred like a single one
    # Where each character lies at working size: its columns (its rows in a column),
    # from one cut to the next, the first from the picture's edge, the last to the other.
    spans: list[tuple[int, int]]
    vertical: bool  # written top to bottom
    inverted: bool  # light writing on a dark ground (``normalised_ink``)

    def strips(self, paper: Gray) -> list[Gray]:
        """Each character's strip of ``paper`` (the photo at working size)."""
        return [paper[a:b] if self.vertical else paper[:, a:b] for a, b in self.spans]


def split_word(
    gray: Gray, count: int, size: int = 48, *, margins: Sequence[float] = (0.08,)
) -> Word:
    """A word written left to right, or top to bottom (its ink taller than wide), cut into
    ``count`` characters in reading order.

    The cuts go through the empty runs between the ink (the space between characters),
    or where characters touch through a column of little ink, chosen so the pieces are
    about as wide as one another (``_gap_cuts``): a character in parts (八, 川) has gaps
    of its own, often wider than the space after it. Each piece is then cropped and
    centred like a single character, at each of ``margins`` (one margin: size x size per
    piece, else stacked views). A piece with no ink (a character left out) is ``NoInk``.
    """

    def crop(part: Ink) -> Ink:
        box = _mass_box(part)
        if len(margins) == 1:
            return crop_square(part, box, size, margins[0])
        return crop_views(part, box, size, margins)

    ink, inverted, _, _ = normalised_ink(gray)
    x0, y0, x1, y1 = _mass_box(ink)
    # Chinese is also written in columns: a word taller than wide is cut across its rows,
    # as the same cut of the transposed ink.
    vertical = count > 1 and y1 - y0 > x1 - x0
    plane = ink.T if vertical else ink
    if count <= 1:
        return Word([crop(ink)], [(0, plane.shape[1])], vertical, inverted)
    lo_edge, hi_edge = (y0, y1) if vertical else (x0, x1)
    cols = plane[:, lo_edge:hi_edge].sum(0)
    inner = [lo_edge + c for c in _gap_cuts(cols, count) or _even_cuts(cols, count)]
    cuts = [lo_edge, *inner, hi_edge]
    pieces: list[Ink] = []
    for a, b in itertools.pairwise(cuts):
        part = np.zeros_like(plane)
        part[:, a:b] = plane[:, a:b]
        if float(part.sum()) < 2.0:
            raise NoInk("a character of the word is missing")
        pieces.append(crop(np.ascontiguousarray(part.T) if vertical else part))
    spans = list(itertools.pairwise([0, *inner, plane.shape[1]]))
    return Word(pieces, spans, vertical, inverted)


def split_characters(
    gray: Gray, count: int, size: int = 48, *, margins: Sequence[float] = (0.08,)
) -> list[Ink]:
    """``split_word``'s pieces alone."""
    return split_word(gray, count, size, margins=margins).pieces


def prepare_bytes(data: bytes, size: int = 48) -> Prepared:
    return prepare(decode(data), size)
