"""Stroke-order pictures and the verdict image: what a learner sees on their phone."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import recognition.training.strokes as training_strokes
from quizzes.hsk import load_vocabulary
from quizzes.strokeorder import (
    DEFAULT_SIZE,
    UnreadableImage,
    answer_image,
    radical_image,
    stroke_colours,
    stroke_order_image,
    stroke_steps_image,
)
from quizzes.strokes import HSK1_STROKES, MissingStrokes, StrokeData, load_strokes, stroke_count

CHARSET = load_vocabulary().charset


def decode(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img.convert("RGB")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(decode(png), dtype=np.int16)


def ink(png: bytes) -> int:
    """Pixels a reader sees as drawn: coloured or dark (not paper, grid lines or faint grey)."""
    arr = pixels(png)
    coloured = arr.max(axis=2) - arr.min(axis=2) > 40
    dark = arr.max(axis=2) < 150
    return int((coloured | dark).sum())


def faint(png: bytes) -> int:
    """Pixels of the faint grey a hint draws the strokes still to come in."""
    arr = pixels(png)
    grey = arr.max(axis=2) - arr.min(axis=2) < 6
    return int((grey & (arr.min(axis=2) > 215) & (arr.max(axis=2) < 235)).sum())


def has_colour(png: bytes, colour: tuple[int, int, int], *, at_least: int = 40) -> bool:
    near = np.abs(pixels(png) - np.asarray(colour)).max(axis=2) <= 6
    return int(near.sum()) >= at_least


def encoded(img: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


# --- the stroke data the runtime reads ------------------------------------------------------


def test_the_runtime_reads_the_committed_data_for_every_hsk1_character() -> None:
    data = load_strokes()
    assert set(CHARSET) <= set(data.chars)
    assert stroke_count("一") == 1
    assert stroke_count("我") == 7
    assert stroke_count("影") == 15
    assert all(stroke_count(ch) >= 1 for ch in CHARSET)


def test_the_training_package_uses_the_same_parser() -> None:
    assert training_strokes.StrokeData is StrokeData
    assert training_strokes.HSK1_STROKES == HSK1_STROKES
    assert training_strokes.find_stroke_data(HSK1_STROKES)["我"].outlines


def test_the_data_can_be_loaded_from_another_model_directory(tmp_path: Path) -> None:
    (tmp_path / "strokes").mkdir()
    shutil.copyfile(HSK1_STROKES, tmp_path / "strokes" / HSK1_STROKES.name)
    assert len(load_strokes(tmp_path)["我"]) == 7
    assert len(load_strokes(tmp_path / "strokes" / HSK1_STROKES.name)["我"]) == 7
    with pytest.raises(FileNotFoundError, match="no stroke data"):
        load_strokes(tmp_path / "nowhere")


def test_a_character_outside_the_data_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError) as raised:
        stroke_order_image("我A口")
    assert isinstance(raised.value, MissingStrokes)
    assert raised.value.chars == "A口"
    with pytest.raises(MissingStrokes):
        stroke_count("A")
    with pytest.raises(ValueError, match="no characters"):
        stroke_order_image("")


# --- stroke-order pictures ------------------------------------------------------------------


def test_one_square_panel_per_character() -> None:
    assert decode(stroke_order_image("我")).size == (DEFAULT_SIZE, DEFAULT_SIZE)
    assert decode(stroke_order_image("朋友")).size == (2 * DEFAULT_SIZE, DEFAULT_SIZE)
    assert decode(stroke_order_image("朋友", size=128)).size == (256, 128)


def test_each_stroke_gets_its_own_numbered_tag() -> None:
    one, two = stroke_order_image("一"), stroke_order_image("二")
    _, tags = stroke_colours(15)
    assert has_colour(one, tags[0]) and not has_colour(one, tags[1])
    assert has_colour(two, tags[0]) and has_colour(two, tags[1])
    for ch in "我影回":
        png = stroke_order_image(ch)
        assert all(has_colour(png, tags[i]) for i in range(stroke_count(ch))), ch


def test_neighbouring_strokes_never_share_a_colour() -> None:
    fills, tags = stroke_colours(15)
    assert len(set(fills)) == len(set(tags)) == 15


def test_every_hsk1_character_renders() -> None:
    for ch in CHARSET:
        png = stroke_order_image(ch, size=128)
        assert decode(png).size == (128, 128)
        assert ink(png) > 300, ch


def test_the_first_stroke_hint_shows_less_than_the_whole_order() -> None:
    full, first = stroke_order_image("我"), stroke_order_image("我", upto=1)
    assert 0 < ink(first) < ink(full) / 2
    # The rest of the character is still there, faintly, to aim at.
    assert faint(first) > 4 * faint(full)  # the full picture has only grid lines and edges
    # For a word, each character shows its first stroke.
    word = stroke_order_image("朋友", upto=1)
    assert decode(word).size == (2 * DEFAULT_SIZE, DEFAULT_SIZE)
    left, right = pixels(word)[:, :DEFAULT_SIZE], pixels(word)[:, DEFAULT_SIZE:]
    assert (left.max(axis=2) < 100).sum() > 100 and (right.max(axis=2) < 100).sum() > 100


def test_upto_beyond_the_last_stroke_shows_the_last_and_zero_is_refused() -> None:
    assert stroke_order_image("一", upto=5) == stroke_order_image("一", upto=1)
    with pytest.raises(ValueError, match="from 1"):
        stroke_order_image("一", upto=0)


def test_step_panels_one_per_stroke_in_even_rows() -> None:
    size = 100
    img = decode(stroke_steps_image("我", size=size, columns=6))  # 7 strokes: rows of 4 and 3
    assert size * 4 <= img.width < size * 5
    assert size * 2 <= img.height < size * 3
    two = decode(stroke_steps_image("人大", size=size))
    assert two.height > 2 * size and two.width < 4 * size


def test_no_radical_picture_without_radical_strokes_in_the_data() -> None:
    assert radical_image("人大") is None  # characters that are their own radical
    assert radical_image("朋友") is not None


def test_the_radical_picture_shows_only_the_radical() -> None:
    raw = json.loads(HSK1_STROKES.read_text("utf-8"))
    data = StrokeData({"话": {**raw["话"], "radStrokes": [0, 1]}, "人": raw["人"]})
    png = radical_image("话人", strokes=data)
    assert png is not None
    assert decode(png).size == (2 * DEFAULT_SIZE, DEFAULT_SIZE)
    arr = pixels(png)
    drawn = arr.max(axis=2) < 150
    full = pixels(stroke_order_image("话", strokes=data))
    assert 0 < drawn[:, :DEFAULT_SIZE].sum() < (full.max(axis=2) < 245).sum() / 2
    # 人 has no radical strokes: nothing of it is shown, not even faintly.
    assert drawn[:, DEFAULT_SIZE:].sum() == 0


# --- the verdict image: the learner's photo beside the model --------------------------------


def photo_width(png: bytes, chars: int = 1) -> int:
    """Width of the photo panel: the verdict is photo, gap, model (fixed width), margins."""
    return decode(png).width - chars * DEFAULT_SIZE - 4 * (DEFAULT_SIZE // 16)


def test_the_photo_sits_left_of_the_model() -> None:
    photo = encoded(Image.new("RGB", (300, 600), (200, 30, 30)), "JPEG")
    png = answer_image(photo, "你好")
    img = decode(png)
    assert img.height < DEFAULT_SIZE * 1.3
    assert photo_width(png, chars=2) == DEFAULT_SIZE // 2
    arr = pixels(png)
    row = arr[img.height // 2]
    reds = np.flatnonzero((row[:, 0] > 150) & (row[:, 1] < 80))
    assert reds.max() < DEFAULT_SIZE  # the red photo is on the left
    assert arr[:, -2 * DEFAULT_SIZE :].max(axis=2).min() < 100  # the model's numbers on the right


def test_captions_come_from_the_caller() -> None:
    photo = encoded(Image.new("L", (200, 200), 240))
    plain = answer_image(photo, "我")
    assert answer_image(photo, "我", photo_caption="you", model_caption="model") == plain
    assert answer_image(photo, "我", photo_caption="Your try", model_caption="How") != plain
    # A caption longer than its panel is shortened, not drawn over the other one.
    long = answer_image(photo, "我", photo_caption="a very long caption " * 10)
    assert decode(long).size == decode(plain).size


@cache
def odd_photos() -> dict[str, bytes]:
    gray16 = Image.fromarray(np.full((120, 90), 30000, dtype=np.uint16))
    float32 = Image.fromarray(np.full((60, 60), 0.5, dtype=np.float32))
    palette = Image.new("P", (80, 80), 3)
    palette.putpalette([0, 0, 0, 255, 255, 255, 10, 200, 10, 90, 90, 90])
    palette.info["transparency"] = 3
    big = Image.new("1", (8000, 8000), 1)
    return {
        "rgba": encoded(Image.new("RGBA", (100, 100), (0, 0, 0, 0))),
        "la": encoded(Image.new("LA", (100, 70), (50, 128))),
        "palette-transparent": encoded(palette),
        "cmyk-jpeg": encoded(Image.new("CMYK", (100, 100), (0, 200, 0, 0)), "JPEG"),
        "1-bit": encoded(Image.new("1", (50, 50), 0)),
        "16-bit": encoded(gray16),
        "32-bit-int-tiff": encoded(Image.new("I", (64, 64), 70000), "TIFF"),
        "float-tiff": encoded(float32, "TIFF"),
        "gif": encoded(Image.new("P", (40, 40), 1), "GIF"),
        "webp": encoded(Image.new("RGB", (100, 100), (10, 10, 200)), "WEBP"),
        "huge": encoded(big),
        "tiny": encoded(Image.new("RGB", (3, 3), (0, 0, 0))),
    }


@pytest.mark.parametrize("name", list(odd_photos()))
def test_odd_photos_still_make_a_verdict_image(name: str) -> None:
    png = answer_image(odd_photos()[name], "我")
    img = decode(png)
    assert img.mode == "RGB"
    assert DEFAULT_SIZE < img.height < DEFAULT_SIZE * 1.3
    assert 0 < photo_width(png) <= 2 * DEFAULT_SIZE


def test_photos_keep_their_tones() -> None:
    """A 16-bit scan is scaled by its format's range and transparency is white paper."""
    mid = pixels(answer_image(odd_photos()["16-bit"], "我"))
    assert 100 < mid[DEFAULT_SIZE // 2, 60, 0] < 130
    clear = pixels(answer_image(odd_photos()["rgba"], "我"))
    assert clear[DEFAULT_SIZE // 2, 60].min() == 255


def test_tiny_photos_are_not_blown_up_and_keep_their_caption() -> None:
    png = answer_image(odd_photos()["tiny"], "我", photo_caption="you")
    column = pixels(png)[:, : photo_width(png)]
    assert int((column.max(axis=2) == 0).sum()) == 6 * 6  # the 3x3 black photo, doubled
    assert photo_width(png) == DEFAULT_SIZE // 2
    assert png != answer_image(odd_photos()["tiny"], "我", photo_caption="")


def test_a_sideways_phone_photo_is_turned_upright() -> None:
    landscape = Image.new("RGB", (400, 200), (120, 120, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to view
    turned = answer_image(encoded(landscape, "JPEG", exif=exif), "我")
    assert photo_width(turned) == DEFAULT_SIZE // 2


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims another size (a decompression bomb's trick)."""
    data = bytearray(encoded(Image.new("L", (8, 8), 0)))
    ihdr = data[12:29]  # chunk type + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a picture",
        b"%PDF-1.4 not an image either",
        encoded(Image.new("RGB", (300, 300), (1, 2, 3)))[:200],  # cut off mid-upload
        png_claiming(30000, 30000),
    ],
    ids=["empty", "text", "pdf", "truncated", "bomb"],
)
def test_bytes_that_are_not_a_photo_raise_a_value_error(data: bytes) -> None:
    with pytest.raises(UnreadableImage) as raised:
        answer_image(data, "我")
    assert isinstance(raised.value, ValueError)


def test_a_target_without_stroke_data_is_a_key_error_even_with_a_good_photo() -> None:
    with pytest.raises(MissingStrokes):
        answer_image(encoded(Image.new("L", (50, 50), 200)), "口")
