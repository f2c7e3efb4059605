"""Photos of writing made in tests: printed CJK glyphs on uneven paper, as a phone takes them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from recognition.scenes import on_a_screen, screen_size

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def photo(
    text: str, *, size: int = 240, fmt: str = "JPEG", seed: int = 0, vertical: bool = False
) -> bytes:
    """``text`` written in a CJK font on slightly grey, unevenly lit paper, as a phone JPEG;
    ``vertical``: in a column, top to bottom."""
    if not FONT.exists():
        pytest.skip("needs fonts-wqy-microhei")
    rng = np.random.default_rng(seed)
    length = size * max(1, len(text))
    width, height = (size, length) if vertical else (length, size)
    img = Image.new("L", (width, height), 225)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), int(size * 0.6))
    for i, ch in enumerate(text):
        x, y = (0, i * size) if vertical else (i * size, 0)
        draw.text((x + size * 0.2, y + size * 0.12), ch, fill=30, font=font)
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32)
    arr *= np.linspace(0.85, 1.05, width)[None, :]
    arr += rng.normal(0, 3, arr.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(out, fmt)
    return out.getvalue()


def screen_photo(char: str, *, dark_mode: bool = False, desk: int = 60, seed: int = 0) -> bytes:
    """``char`` shown on a screen, photographed (``recognition.scenes.on_a_screen``: pixel
    stripes, moire, glare, a black bezel, the desk at gray level ``desk``, askew), as a JPEG.
    ``dark_mode``: light text on a dark screen."""
    if not FONT.exists():
        pytest.skip("needs fonts-wqy-microhei")
    rng = np.random.default_rng(seed)
    side = 480
    sw, sh = screen_size(rng, side)
    back, text = (30, 240) if dark_mode else (235, 25)
    shown = Image.new("L", (sw, sh), back)
    font = ImageFont.truetype(str(FONT), int(min(sw, sh) * 0.6))
    ImageDraw.Draw(shown).text((sw / 2, sh / 2), char, font=font, fill=text, anchor="mm")
    picture = on_a_screen(np.asarray(shown), rng, desk=desk, side=side)
    out = io.BytesIO()
    Image.fromarray(picture).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def blank_page(size: int = 300) -> bytes:
    rng = np.random.default_rng(1)
    arr = 220 + rng.normal(0, 2, (size, size))
    out = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def scan_with_a_pale_stroke(*, margin: int) -> Image.Image:
    """A character-like scan: dark strokes and one long pale vertical stroke (a lighter
    hand on 寸's hook), the writing ``margin`` pixels from the picture's edges."""
    side = 64 + 2 * margin
    img = Image.new("L", (side, side), 230)
    draw = ImageDraw.Draw(img)
    m = margin
    draw.line([(m + 1, m + 1), (m + 28, m + 62)], fill=30, width=3)  # 又-like: an X
    draw.line([(m + 28, m + 1), (m + 1, m + 62)], fill=30, width=3)
    draw.line([(m + 32, m + 20), (m + 62, m + 20)], fill=30, width=3)  # 寸's bar
    draw.line([(m + 36, m + 28), (m + 40, m + 34)], fill=30, width=3)  # and its dot
    draw.line([(m + 50, m + 4), (m + 50, m + 50)], fill=140, width=2)  # the pale hook
    return img
