"""Synthetic scenes around writing, for tests and measuring tools: a phone photo of a screen.

Not used to answer photos: it makes pictures whose content is known, to check how the
preprocessing reads them (``tools/polarity_rates.py``, ``tests/recognition/photos.py``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

Gray = npt.NDArray[np.uint8]

BEZEL = 12  # pixels of black around the screen, in a 480-pixel photo


def screen_size(rng: np.random.Generator, side: int = 480) -> tuple[int, int]:
    """A screen's width and height in a photo ``side`` pixels square: 55-80% of it wide,
    50-75% high."""
    return int(side * rng.uniform(0.55, 0.8)), int(side * rng.uniform(0.5, 0.75))


def on_a_screen(shown: Gray, rng: np.random.Generator, *, desk: int, side: int = 480) -> Gray:
    """``shown`` (the screen's content, gray, smaller than ``side``) as a phone photographs
    a screen: the pixels' colour stripes and a moire (two close spatial frequencies, the
    screen's and the camera's), a glare, a black bezel, the desk around it (gray level
    ``desk``), held up to 8 degrees askew, blurred, with sensor noise."""
    sh, sw = shown.shape
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    turn, freq = rng.uniform(-0.3, 0.3), rng.uniform(0.28, 0.36)
    moire = np.sin(2 * np.pi * freq * (xx * np.cos(turn) + yy * np.sin(turn)))
    moire *= np.sin(2 * np.pi * (freq + 0.01) * xx)
    arr = shown.astype(np.float32) * (1 - 0.15 * (0.5 + 0.5 * moire))
    arr += 8 * np.sin(2 * np.pi * xx / 3)  # the pixels' colour stripes, seen in gray
    gx, gy = rng.uniform(0, sw), rng.uniform(0, sh)
    arr += 40 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.2 * sw) ** 2))
    img = Image.new("L", (side, side), desk)
    left, top = (side - sw) // 2, (side - sh) // 2
    ImageDraw.Draw(img).rectangle(
        [left - BEZEL, top - BEZEL, left + sw + BEZEL, top + sh + BEZEL], fill=15
    )
    img.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), (left, top))
    img = img.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, fillcolor=desk)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    noisy = np.asarray(img, np.float32) + rng.normal(0, 3, (side, side))
    return np.clip(noisy, 0, 255).astype(np.uint8)


__all__ = ["on_a_screen", "screen_size"]
