"""Stroke-order pictures drawn from the stroke data, and the photo-beside-model verdict image."""

from __future__ import annotations

import colorsys
import io
import math
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from quizzes.strokes import CharStrokes, Points, StrokeData, load_strokes

__all__ = [
    "DEFAULT_SIZE",
    "UnreadableImage",
    "answer_image",
    "radical_image",
    "stroke_colours",
    "stroke_order_image",
    "stroke_steps_image",
]

DEFAULT_SIZE = 256  # pixels per character: each stroke number stays readable on a phone
SUPERSAMPLE = 3  # drawn larger and shrunk, which is Pillow's only way to smooth polygon edges
MARGIN = 0.05  # of the panel, so number tags at the box's edge stay inside
PHOTO_MAX_UPSCALE = 2.0  # a tiny photo is enlarged this much at most: more only shows blur
PHOTO_MAX_ASPECT = 2.0  # a photo panel is at most this many times as wide as it is high

Colour = tuple[int, int, int]
PAPER: Colour = (255, 255, 255)
GUIDE: Colour = (214, 214, 214)
FAINT: Colour = (226, 226, 226)  # the strokes still to come, in a hint
DONE: Colour = (128, 128, 128)  # the strokes already written, in a step panel
CURRENT: Colour = (24, 24, 24)  # the stroke a hint or step panel is about
ARROW: Colour = (214, 40, 40)
CAPTION: Colour = (90, 90, 90)


class UnreadableImage(ValueError):
    """The bytes are not a picture Pillow can decode (or one too large to decode safely)."""


@dataclass(frozen=True)
class _Style:
    """How one panel draws each stroke: a fill per stroke and which strokes get a number."""

    fills: tuple[Colour | None, ...]  # None: the stroke is not drawn at all
    numbered: tuple[int, ...]
    arrows: tuple[int, ...] = ()
    tags: tuple[Colour, ...] = ()  # the number tag's colour per stroke; ARROW when empty


def stroke_colours(n: int) -> tuple[tuple[Colour, ...], tuple[Colour, ...]]:
    """A light fill and a dark tag colour per stroke. Hues step by the golden angle so that
    neighbouring strokes, which usually touch, never get similar colours."""
    fills: list[Colour] = []
    tags: list[Colour] = []
    for i in range(n):
        hue = (0.58 + i * 0.381966) % 1.0
        fills.append(_rgb(colorsys.hsv_to_rgb(hue, 0.42, 0.93)))
        tags.append(_rgb(colorsys.hsv_to_rgb(hue, 0.9, 0.62)))
    return tuple(fills), tuple(tags)


def _rgb(values: tuple[float, float, float]) -> Colour:
    return (round(values[0] * 255), round(values[1] * 255), round(values[2] * 255))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font (no system fonts needed); Pillow < 10.1 only has a fixed bitmap."""
    try:
        return ImageFont.load_default(size=max(1, size))
    except (OSError, TypeError):
        return ImageFont.load_default()


def _full_style(char: CharStrokes) -> _Style:
    fills, tags = stroke_colours(len(char))
    return _Style(fills=fills, numbered=tuple(range(len(char))), tags=tags)


def _upto_style(char: CharStrokes, upto: int) -> _Style:
    """Strokes before ``upto`` in grey, stroke ``upto`` dark with its number and direction,
    the rest faint: the shape is there to aim at, the order only as far as asked."""
    last = min(upto, len(char)) - 1
    fills = tuple(DONE if i < last else CURRENT if i == last else FAINT for i in range(len(char)))
    return _Style(fills=fills, numbered=(last,), arrows=(last,))


def _radical_style(char: CharStrokes) -> _Style:
    # The other strokes are left out entirely: even faint they would show the answer. So is a
    # radical that is the whole character.
    radical = set(char.radical_strokes) if len(char.radical_strokes) < len(char) else set()
    return _Style(
        fills=tuple(CURRENT if i in radical else None for i in range(len(char))), numbered=()
    )


def _panel(char: CharStrokes, size: int, style: _Style) -> Image.Image:
    """One character on a writing grid (田字格), ``size`` pixels square."""
    big = size * SUPERSAMPLE
    img = Image.new("RGB", (big, big), PAPER)
    draw = ImageDraw.Draw(img)
    line = max(1, round(big / 160))
    draw.rectangle((0, 0, big - 1, big - 1), outline=GUIDE, width=line)
    _dashed(draw, (big / 2, 0), (big / 2, big), line)
    _dashed(draw, (0, big / 2), (big, big / 2), line)

    inner = big * (1 - 2 * MARGIN)
    offset = big * MARGIN

    def px(points: Points) -> list[tuple[float, float]]:
        return [(offset + x * inner, offset + y * inner) for x, y in points]

    for outline, fill in zip(char.outlines, style.fills, strict=True):
        if fill is not None:
            for polygon in outline:
                draw.polygon(px(polygon), fill=fill)
    for i in style.arrows:
        _arrow(draw, px(char.medians[i]), width=max(2, round(big / 110)), colour=ARROW)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    if style.numbered:
        # Numbers go on after shrinking, so the text is drawn at its final size and stays crisp.
        scale = size * (1 - 2 * MARGIN)
        starts = [
            (size * MARGIN + float(m[0][0]) * scale, size * MARGIN + float(m[0][1]) * scale)
            for m in char.medians
        ]
        directions = [_direction(m) for m in char.medians]
        _number_tags(ImageDraw.Draw(img), size, style, starts, directions)
    return img


def _dashed(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], width: int
) -> None:
    length = math.dist(start, end)
    dash = max(4.0, length / 40)
    steps = int(length // (2 * dash))
    for k in range(steps + 1):
        a = min(1.0, 2 * k * dash / length)
        b = min(1.0, (2 * k + 1) * dash / length)
        draw.line(
            (
                start[0] + (end[0] - start[0]) * a,
                start[1] + (end[1] - start[1]) * a,
                start[0] + (end[0] - start[0]) * b,
                start[1] + (end[1] - start[1]) * b,
            ),
            fill=GUIDE,
            width=width,
        )


def _direction(median: Points) -> tuple[float, float]:
    """The unit vector a stroke sets off in (from its start to a point a little way along)."""
    x0, y0 = float(median[0][0]), float(median[0][1])
    for x, y in median[1:]:
        dx, dy = float(x) - x0, float(y) - y0
        length = math.hypot(dx, dy)
        if length > 0.02:
            return dx / length, dy / length
    return 0.0, 1.0


def _arrow(
    draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], *, width: int, colour: Colour
) -> None:
    """The stroke's centre line with an arrowhead at its end: which way the pen moves."""
    if len(points) < 2:
        return
    draw.line(points, fill=colour, width=width, joint="curve")
    (x0, y0), (x1, y1) = points[-2], points[-1]
    angle = math.atan2(y1 - y0, x1 - x0)
    head = width * 4.5
    left = (x1 - head * math.cos(angle - 0.45), y1 - head * math.sin(angle - 0.45))
    right = (x1 - head * math.cos(angle + 0.45), y1 - head * math.sin(angle + 0.45))
    draw.polygon([(x1, y1), left, right], fill=colour)


def _number_tags(
    draw: ImageDraw.ImageDraw,
    size: int,
    style: _Style,
    starts: Sequence[tuple[float, float]],
    directions: Sequence[tuple[float, float]],
) -> None:
    """A numbered disc at the start of each stroke, nudged clear of the discs before it
    (口's first two strokes start at the same corner, for one)."""
    radius = max(8.0, size * 0.045)
    placed: list[tuple[float, float]] = []
    for i in style.numbered:
        (sx, sy), (dx, dy) = starts[i], directions[i]
        # Just behind where the pen lands, so the disc hides as little of the stroke as it can;
        # failing that, further round the start.
        candidates = [
            _clamp((sx - radius * (dx * c - dy * s), sy - radius * (dx * s + dy * c)), radius, size)
            for c, s in (
                (math.cos(math.radians(a)), math.sin(math.radians(a)))
                for a in (0, 45, -45, 90, -90, 135, -135, 180)
            )
        ]
        best = next(
            (c for c in candidates if all(math.dist(c, p) >= 2 * radius + 1 for p in placed)),
            max(candidates, key=lambda c: min((math.dist(c, p) for p in placed), default=0.0)),
        )
        placed.append(best)
        colour = style.tags[i] if style.tags else ARROW
        x, y = best
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=PAPER)
        label = str(i + 1)
        font = _font(round(radius * (1.3 if len(label) == 1 else 1.05)))
        draw.text((x, y), label, fill=PAPER, font=font, anchor="mm")


def _clamp(point: tuple[float, float], radius: float, size: int) -> tuple[float, float]:
    return (min(max(point[0], radius), size - radius), min(max(point[1], radius), size - radius))


def _strip(panels: Sequence[Image.Image], *, gap: int = 0, columns: int = 0) -> Image.Image:
    """Panels left to right, wrapping after ``columns`` (0: one row)."""
    columns = columns or len(panels)
    rows = math.ceil(len(panels) / columns)
    w, h = panels[0].size
    out = Image.new("RGB", (columns * w + (columns - 1) * gap, rows * h + (rows - 1) * gap), PAPER)
    for k, panel in enumerate(panels):
        out.paste(panel, ((k % columns) * (w + gap), (k // columns) * (h + gap)))
    return out


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _data(strokes: StrokeData | None) -> StrokeData:
    return strokes if strokes is not None else load_strokes()


def _order_picture(text: str, upto: int | None, size: int, strokes: StrokeData) -> Image.Image:
    if upto is not None and upto < 1:
        raise ValueError(f"upto counts strokes from 1, not {upto}")
    chars = strokes.of(text)
    return _strip(
        [_panel(c, size, _full_style(c) if upto is None else _upto_style(c, upto)) for c in chars]
    )


def stroke_order_image(
    text: str,
    *,
    upto: int | None = None,
    size: int = DEFAULT_SIZE,
    strokes: StrokeData | None = None,
) -> bytes:
    """PNG of ``text``'s characters side by side, ``size`` pixels square each.

    Without ``upto`` every stroke is filled in its own light colour with its number at its
    start. With ``upto=k`` each character shows strokes 1..k-1 in grey and stroke k dark, with
    its number and an arrow along it, over the faint rest of the character (``upto=1``: the
    first stroke). Raises quizzes.strokes.MissingStrokes (a KeyError) for characters the
    stroke data lacks (it covers the HSK 1 charset), ValueError for empty text.
    """
    return _png(_order_picture(text, upto, size, _data(strokes)))


def stroke_steps_image(
    text: str, *, size: int = 112, columns: int = 6, strokes: StrokeData | None = None
) -> bytes:
    """PNG of each character being written one stroke at a time: panel k shows strokes 1..k,
    the newest dark and numbered; each character starts a new row. Same errors as
    stroke_order_image."""
    chars = _data(strokes).of(text)
    gap = max(2, size // 16)
    rows = [
        _strip(
            [_panel(c, size, _upto_style(c, k)) for k in range(1, len(c) + 1)],
            gap=gap,
            # Rows as even as they can be: 7 strokes as 4 + 3, not 6 + 1.
            columns=math.ceil(len(c) / math.ceil(len(c) / columns)),
        )
        for c in chars
    ]
    width = max(r.width for r in rows)
    out = Image.new("RGB", (width, sum(r.height for r in rows) + gap * 3 * (len(rows) - 1)), PAPER)
    y = 0
    for row in rows:
        out.paste(row, (0, y))
        y += row.height + gap * 3
    return _png(out)


def radical_image(
    text: str, *, size: int = DEFAULT_SIZE, strokes: StrokeData | None = None
) -> bytes | None:
    """PNG of only the radical's strokes of each character, in place (so its position shows),
    or None when the stroke data names no radical that is a proper part of any character
    (人 and 大 are their own radical). Same errors as stroke_order_image."""
    chars = _data(strokes).of(text)
    if not any(0 < len(c.radical_strokes) < len(c) for c in chars):
        return None
    return _png(_strip([_panel(c, size, _radical_style(c)) for c in chars]))


def answer_image(
    photo: bytes,
    target: str,
    *,
    photo_caption: str = "you",
    model_caption: str = "model",
    size: int = DEFAULT_SIZE,
    strokes: StrokeData | None = None,
) -> bytes:
    """PNG of the user's photo (upright, at most ``size`` high) on the left and ``target``
    written with numbered stroke order on the right, each under its caption.

    The captions are drawn with Pillow's bundled Latin font, so pass text it can show.
    Raises UnreadableImage (a ValueError) when ``photo`` is not a decodable picture and
    quizzes.strokes.MissingStrokes (a KeyError) when ``target`` has no stroke data.
    """
    model = _order_picture(target, None, size, _data(strokes))
    picture = _photo(photo, max_width=round(size * PHOTO_MAX_ASPECT), max_height=size)
    gap = max(8, size // 16)
    caption_font = _font(max(10, round(size * 0.075)))
    band = round(size * 0.075 * 1.9)
    # At least half a panel wide, so a tiny photo still has room for its caption.
    column = max(picture.width, size // 2)
    width = gap + column + 2 * gap + model.width + gap
    out = Image.new("RGB", (width, band + size + gap), PAPER)
    draw = ImageDraw.Draw(out)
    photo_left = gap + (column - picture.width) // 2
    model_left = gap + column + 2 * gap
    photo_top = band + (size - picture.height) // 2
    out.paste(picture, (photo_left, photo_top))
    # A frame, so a white page still shows where the photo ends.
    draw.rectangle(
        (photo_left - 1, photo_top - 1, photo_left + picture.width, photo_top + picture.height),
        outline=GUIDE,
    )
    out.paste(model, (model_left, band))
    draw.line(
        (model_left - gap, band, model_left - gap, band + size), fill=GUIDE, width=max(1, gap // 6)
    )
    for caption, left, w in (
        (photo_caption, gap, column),
        (model_caption, model_left, model.width),
    ):
        draw.text(
            (left + w / 2, band / 2),
            _fit(draw, caption, caption_font, w),
            fill=CAPTION,
            font=caption_font,
            anchor="mm",
        )
    return _png(out)


def _fit(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: float,
) -> str:
    """``text`` shortened with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…" if text else ""


def _photo(data: bytes, *, max_width: int, max_height: int) -> Image.Image:
    """The photo upright, flattened onto white paper as 8-bit RGB, scaled to fit the box
    (enlarged at most PHOTO_MAX_UPSCALE times)."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns about images just over its pixel limit; refuse those as well.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                # JPEG decodes at a fraction of its size when asked: cheap for big phone photos.
                opened.draft(None, (max_width, max_height))
                opened.load()
                img = ImageOps.exif_transpose(opened)
            img = _eight_bit(img)
            img.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
            img = _on_paper(img)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
    ) as exc:
        raise UnreadableImage(f"not a readable image: {exc}") from exc
    scale = min(max_width / img.width, max_height / img.height, PHOTO_MAX_UPSCALE)
    if scale > 1:
        img = img.resize(
            (round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC
        )
    return img


def _eight_bit(img: Image.Image) -> Image.Image:
    """Modes a resize cannot blend (palette, 1-bit) or that are not 8 bits a channel as 8-bit."""
    if img.mode in ("1", "P", "PA", "RGBa"):
        return img.convert("RGBA")
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        top = img.getextrema()[1]  # one band, so a number
        high = float(top) if isinstance(top, int | float) else 255.0
        # The format's range, not the picture's: stretching a dim scan would invent contrast.
        if img.mode.startswith("I;16") or high > 255:
            full = 65535.0
        elif img.mode == "F" and high <= 1.0:
            full = 1.0
        else:
            full = 255.0
        return img.convert("F").point(lambda v: v * (255.0 / full)).convert("L")
    return img


def _on_paper(img: Image.Image) -> Image.Image:
    """Transparent parts become white paper, as in a chat client's light theme."""
    if img.mode in ("RGBA", "LA"):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (*PAPER, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return img.convert("RGB")
