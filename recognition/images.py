"""Checks that received bytes are a whole, usable photo before anything stores or grades them."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

# Formats a phone, a scanner or a screenshot tool produces; anything else is refused.
ACCEPTED_FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",  # what some phones call a JPEG with a depth map
    "PNG": "png",
    "WEBP": "webp",
    "BMP": "bmp",
    "GIF": "gif",
    "TIFF": "tif",
}
MIN_SIDE = 16
MAX_PIXELS = 60_000_000  # well above a 50 MP phone photo, well below a decompression bomb


class ImageProblem(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_IMAGE = "not_image"
    TRUNCATED = "truncated"
    TOO_SMALL = "too_small"
    TOO_MANY_PIXELS = "too_many_pixels"


class ImageRejected(Exception):
    def __init__(
        self, problem: ImageProblem, detail: str = "", *, width: int = 0, height: int = 0
    ) -> None:
        super().__init__(f"{problem}: {detail}" if detail else str(problem))
        self.problem = problem
        self.width = width
        self.height = height


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str
    extension: str
    width: int
    height: int


@contextmanager
def opening(data: bytes) -> Iterator[Image.Image]:
    """``Image.open`` on bytes, with every way PIL can fail raised as ImageRejected
    (a decompression bomb as too many pixels, even when PIL only warns about it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                yield img
    except ImageRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageRejected(ImageProblem.TOO_MANY_PIXELS, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(ImageProblem.NOT_IMAGE) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(ImageProblem.TRUNCATED, str(exc)) from exc


def inspect_image(data: bytes, *, max_bytes: int) -> ImageInfo:
    """Return what the image is, or raise ImageRejected saying what is wrong with it."""
    if not data:
        raise ImageRejected(ImageProblem.EMPTY)
    if len(data) > max_bytes:
        raise ImageRejected(ImageProblem.TOO_LARGE, f"{len(data)} bytes")
    with opening(data) as img:
        fmt = img.format or ""
        width, height = img.size
        if fmt not in ACCEPTED_FORMATS:
            raise ImageRejected(ImageProblem.NOT_IMAGE, fmt or "unknown format")
        if width * height > MAX_PIXELS:
            raise ImageRejected(ImageProblem.TOO_MANY_PIXELS, width=width, height=height)
        if min(width, height) < MIN_SIDE:
            raise ImageRejected(ImageProblem.TOO_SMALL, width=width, height=height)
        # Decoding every pixel is the only reliable way to find a cut-off upload.
        img.load()
    return ImageInfo(format=fmt, extension=ACCEPTED_FORMATS[fmt], width=width, height=height)
