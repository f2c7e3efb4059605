"""Synthetic handwritten text lines (HSK 1 words drawn with the stroke generator) for OCR tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class SynthLine:
    image: Gray  # dark writing on light paper
    text: str


@cache
def _words() -> tuple[str, ...]:
    from quizzes.hsk import load_vocabulary

    return tuple(w.hanzi for w in load_vocabulary().words)


def _text(rng: np.random.Generator, low: int, high: int, chars: str) -> str:
    """HSK 1 words strung together: real words give the recognizer the context it has
    learnt, which random characters would not."""
    words = [w for w in _words() if all(c in chars for c in w)]
    target = int(rng.integers(low, high + 1))
    text = ""
    while len(text) < target:
        text += words[int(rng.integers(len(words)))]
    return text[:high]


def _ink_box(cell: Gray) -> Gray:
    ys, xs = np.nonzero(cell < 160)
    if len(ys) == 0:
        return cell
    return cell[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _glyphs(generator: object, text: str, rng: np.random.Generator, height: int) -> list[Gray]:
    from recognition.training.synth import Generator

    assert isinstance(generator, Generator)
    glyphs: list[Gray] = []
    for ch in text:
        cell = _ink_box(generator.render_char(ch, rng, style="pen").image)
        # The generator varies each glyph's size within its cell a lot; a writer keeps
        # the characters of one line about the same size.
        scale = height * float(rng.uniform(0.8, 1.0)) / max(cell.shape)
        w = max(2, round(cell.shape[1] * scale))
        h = max(2, round(cell.shape[0] * scale))
        glyphs.append(np.asarray(Image.fromarray(cell).resize((w, h), Image.Resampling.LANCZOS)))
    return glyphs


def _photographed(canvas: Gray, rng: np.random.Generator) -> Gray:
    """Ink on white turned a little, blurred, on slightly grey, slightly noisy paper."""
    img = Image.fromarray(canvas).rotate(
        float(rng.uniform(-3, 3)), Image.Resampling.BILINEAR, expand=True, fillcolor=255
    )
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.9))))
    paper = float(rng.uniform(215, 248))
    ink = float(rng.uniform(15, 70))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = ink + (paper - ink) * arr + rng.normal(0, 4, arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def render_line(
    generator: object, text: str, rng: np.random.Generator, *, height: int = 56
) -> Gray:
    """``text`` written character by character with the generator's pen, each glyph scaled,
    spaced and lifted a little differently, on slightly grey, slightly noisy paper."""
    glyphs = _glyphs(generator, text, rng, height)
    margin = int(rng.integers(16, 40))
    gaps = [int(rng.integers(height // 10, height // 3)) for _ in glyphs]
    width = sum(g.shape[1] for g in glyphs) + sum(gaps) + 2 * margin
    canvas = np.full((height * 2 + 2 * margin, width), 255, dtype=np.uint8)
    x = margin
    mid = canvas.shape[0] // 2
    for glyph, gap in zip(glyphs, gaps, strict=True):
        gh, gw = glyph.shape
        top = mid - gh // 2 + int(rng.integers(-height // 12, height // 12 + 1))
        region = canvas[top : top + gh, x : x + gw]
        np.minimum(region, glyph, out=region)  # ink over paper, like overlapping strokes
        x += gw + gap
    ys = np.nonzero(canvas.min(axis=1) < 200)[0]
    canvas = canvas[max(0, ys.min() - margin) : ys.max() + margin]
    return _photographed(canvas, rng)


def render_columns(
    generator: object, columns: Sequence[str], rng: np.random.Generator, *, size: int = 56
) -> Gray:
    """Vertical writing: each text written down a column, the first column on the right,
    each glyph scaled, spaced and shifted sideways a little differently."""
    glyph_columns = [_glyphs(generator, text, rng, size) for text in columns]
    margin = int(rng.integers(16, 40))
    pitch = round(size * float(rng.uniform(1.5, 2.2)))  # from one column's centre to the next
    gaps = [[int(rng.integers(size // 10, size // 3)) for _ in g] for g in glyph_columns]
    height = max(
        sum(g.shape[0] for g in c) + sum(k) for c, k in zip(glyph_columns, gaps, strict=True)
    )
    canvas = np.full((height + 2 * margin, pitch * len(columns) + 2 * margin), 255, np.uint8)
    for n, (glyphs, column_gaps) in enumerate(zip(glyph_columns, gaps, strict=True)):
        mid = canvas.shape[1] - margin - pitch * n - pitch // 2
        y = margin
        for glyph, gap in zip(glyphs, column_gaps, strict=True):
            gh, gw = glyph.shape
            left = mid - gw // 2 + int(rng.integers(-size // 12, size // 12 + 1))
            region = canvas[y : y + gh, left : left + gw]
            np.minimum(region, glyph, out=region)
            y += gh + gap
    return _photographed(canvas, rng)


def synth_lines(n: int, seed: int = 0, *, low: int = 4, high: int = 10) -> list[SynthLine]:
    """``n`` lines of ``low``..``high`` HSK 1 characters; the same seed gives the same lines."""
    from recognition.training.synth import Generator

    generator = Generator(seed=seed, size=64)
    chars = set(generator.strokes.chars)
    out: list[SynthLine] = []
    for i in range(n):
        rng = generator.rng_for(9_000_001, i)
        text = _text(rng, low, high, "".join(chars))
        out.append(SynthLine(render_line(generator, text, rng), text))
    return out


def synth_columns(
    n: int, seed: int = 0, *, low: int = 3, high: int = 8, most: int = 3
) -> list[SynthLine]:
    """``n`` pages of vertical writing: 1..``most`` columns of ``low``..``high`` HSK 1
    characters, read right to left; ``text`` holds the columns in reading order, one a line."""
    from recognition.training.synth import Generator

    generator = Generator(seed=seed, size=64)
    chars = "".join(set(generator.strokes.chars))
    out: list[SynthLine] = []
    for i in range(n):
        rng = generator.rng_for(9_000_002, i)
        columns = [_text(rng, low, high, chars) for _ in range(int(rng.integers(1, most + 1)))]
        out.append(SynthLine(render_columns(generator, columns, rng), "\n".join(columns)))
    return out


def scanned_ink(scan: Gray) -> Gray:
    """A scan of one handwritten character with its paper made white (its 90th
    percentile) and its darkest ink black, cut to the ink."""
    values = scan.astype(np.float32)
    paper, darkest = float(np.percentile(values, 90)), float(values.min())
    ink = np.clip(255 - (paper - values) * 255 / max(paper - darkest, 1.0), 0, 255)
    ys, xs = np.nonzero(ink < 200)
    if len(ys) > 0:
        ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    out: Gray = ink.astype(np.uint8)
    return out


def real_word(scans: Sequence[Gray], *, height: int = 56, space: float = 0.2) -> Gray:
    """Scans of real handwritten characters written side by side as one word: each one's
    ink (``scanned_ink``) scaled to ``height`` on its longer side, centred on one line,
    ``space`` times ``height`` apart (below zero they overlap), on white paper with a
    margin of 24 px."""
    glyphs = []
    for scan in scans:
        cut = Image.fromarray(scanned_ink(scan))
        scale = height / max(cut.size)
        size = (max(2, round(cut.width * scale)), max(2, round(cut.height * scale)))
        glyphs.append(np.asarray(cut.resize(size, Image.Resampling.LANCZOS)))
    gap, margin = round(space * height), 24
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1) + 2 * margin
    canvas = np.full((2 * height + 2 * margin, max(width, 2 * margin)), 255, dtype=np.uint8)
    x = margin
    for g in glyphs:
        top = (canvas.shape[0] - g.shape[0]) // 2
        x = max(0, x)  # overlapping by more than a glyph's width: from the left edge
        region = canvas[top : top + g.shape[0], x : x + g.shape[1]]
        np.minimum(region, g[:, : region.shape[1]], out=region)  # ink over ink where they overlap
        x += g.shape[1] + gap
    return canvas
