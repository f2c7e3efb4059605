"""Shared by the OCR tests: one LineOCR (its models compiled once per run) and PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from recognition.lines import LineOCR


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def ocr() -> Iterator[LineOCR]:
    yield LineOCR()
