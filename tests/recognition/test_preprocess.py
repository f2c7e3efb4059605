"""Photo preprocessing: whatever the photo, the model sees the same upright, centred ink."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import recognition.preprocess as pp
from recognition.preprocess import (
    WORK_SIDE,
    NoInk,
    Prepared,
    decode,
    prepare,
    shrink,
    split_characters,
    split_word,
)
from tests.recognition.photos import scan_with_a_pale_stroke

PAPER = 230
INK = 30
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

Box = tuple[int, int, int, int]
Fill = int | tuple[int, ...]
Drawer = Callable[[ImageDraw.ImageDraw, Box, Fill], None]
Array = npt.NDArray[Any]


def draw_f(draw: ImageDraw.ImageDraw, box: Box, fill: Fill) -> None:
    """An "F": asymmetric both ways, so a rotation or a mirror is obvious."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    width = max(3, w // 10)
    left, top = x0 + 0.2 * w, y0 + 0.1 * h
    draw.line([(left, top), (left, y0 + 0.9 * h)], fill=fill, width=width)
    draw.line([(left, top), (x0 + 0.85 * w, top)], fill=fill, width=width)
    draw.line([(left, y0 + 0.45 * h), (x0 + 0.65 * w, y0 + 0.45 * h)], fill=fill, width=width)


def draw_wang(draw: ImageDraw.ImageDraw, box: Box, fill: Fill) -> None:
    """王: symmetric, so its centre of mass is the middle of its box."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    width = max(3, w // 10)
    for fy in (0.1, 0.5, 0.9):
        draw.line(
            [(x0 + 0.1 * w, y0 + fy * h), (x0 + 0.9 * w, y0 + fy * h)], fill=fill, width=width
        )
    draw.line([(x0 + 0.5 * w, y0 + 0.1 * h), (x0 + 0.5 * w, y0 + 0.9 * h)], fill=fill, width=width)


def draw_ring(draw: ImageDraw.ImageDraw, box: Box, fill: Fill) -> None:
    x0, _, x1, _ = box
    draw.ellipse(box, outline=fill, width=max(3, (x1 - x0) // 10))


def glyph(char: str) -> Drawer:
    """A CJK character rendered with a real font, filling ``box``."""
    if not FONT.exists():
        pytest.skip(f"no CJK font at {FONT}")

    def draw_glyph(draw: ImageDraw.ImageDraw, box: Box, fill: Fill) -> None:
        x0, y0, x1, y1 = box
        font = ImageFont.truetype(str(FONT), size=y1 - y0)
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), char, fill=fill, font=font, anchor="mm")

    return draw_glyph


def page(
    size: tuple[int, int] = (300, 300),
    box: Box = (75, 75, 225, 225),
    drawer: Drawer = draw_f,
    paper: int = PAPER,
) -> Image.Image:
    """A gray photo of light paper with one dark character drawn in ``box``."""
    img = Image.new("L", size, paper)
    drawer(ImageDraw.Draw(img), box, INK)
    return img


def gray(img: Image.Image) -> npt.NDArray[np.uint8]:
    return np.array(img.convert("L"), dtype=np.uint8)


def encode(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def corr(a: Array, b: Array) -> float:
    return float(np.corrcoef(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))[0, 1])


def centre_of_mass(image: Array) -> tuple[float, float]:
    ys, xs = np.indices(image.shape)
    mass = float(np.sum(image))
    return float(np.sum(ys * image)) / mass, float(np.sum(xs * image)) / mass


def ink_bbox(image: Array, threshold: float = 0.3) -> Box:
    ys, xs = np.nonzero(np.asarray(image) > threshold)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.fixture(scope="module")
def upright() -> Prepared:
    """The reference: an "F" in the middle of a clean, evenly lit page."""
    return prepare(gray(page()))


def draw_grid(img: Image.Image, shade: int, *, dashed: bool, width: int = 2) -> None:
    """A 田字格: outer box and the two middle lines across the whole picture."""
    draw = ImageDraw.Draw(img)
    w, h = img.size
    draw.rectangle((2, 2, w - 3, h - 3), outline=shade, width=3)
    if dashed:
        for x in range(0, w, 16):
            draw.line([(x, h // 2), (x + 9, h // 2)], fill=shade, width=width)
        for y in range(0, h, 16):
            draw.line([(w // 2, y), (w // 2, y + 9)], fill=shade, width=width)
    else:
        draw.line([(0, h // 2), (w, h // 2)], fill=shade, width=width)
        draw.line([(w // 2, 0), (w // 2, h)], fill=shade, width=width)


# decode ------------------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "stored_turn"), [(6, 90), (8, -90), (3, 180)])
def test_decode_applies_exif_orientation(
    upright: Prepared, orientation: int, stored_turn: int
) -> None:
    original = page(size=(400, 300), box=(125, 75, 275, 225)).convert("RGB")
    # The camera stores the pixels turned and says so in the EXIF tag.
    stored = original.rotate(stored_turn, expand=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif)

    decoded = decode(data)

    assert decoded.shape == (300, 400)
    assert corr(prepare(decoded).image, upright.image) > 0.95
    # Without the tag the shape would be sideways: the comparison can tell.
    assert corr(prepare(gray(stored)).image, upright.image) < 0.5


def test_decode_exif_orientation_of_a_real_character() -> None:
    draw_yong = glyph("永")
    original = page(box=(50, 50, 250, 250), drawer=draw_yong).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(original.rotate(90, expand=True), "JPEG", quality=95, exif=exif)

    reference = prepare(gray(original)).image
    assert corr(prepare(decode(data)).image, reference) > 0.95


def test_decode_transparent_background_is_paper(upright: Prepared) -> None:
    # Drawing apps export black strokes on a fully transparent (0, 0, 0, 0) background.
    img = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), (20, 20, 20, 255))

    decoded = decode(encode(img))

    assert decoded.dtype == np.uint8
    assert np.median(decoded) > 200, "the transparent background came out dark"
    assert decoded.min() < 60
    prepared = prepare(decoded)
    assert not prepared.inverted
    assert corr(prepared.image, upright.image) > 0.95


def test_decode_gray_with_alpha(upright: Prepared) -> None:
    img = Image.new("LA", (300, 300), (0, 0))
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), (20, 255))
    decoded = decode(encode(img))
    assert np.median(decoded) > 200
    assert corr(prepare(decoded).image, upright.image) > 0.95


def test_decode_palette_image(upright: Prepared) -> None:
    img = page().convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    decoded = decode(encode(img))
    assert abs(float(np.median(decoded)) - PAPER) < 10
    assert corr(prepare(decoded).image, upright.image) > 0.95


def test_decode_palette_with_transparent_index(upright: Prepared) -> None:
    img = Image.new("P", (300, 300), 0)
    # Index 0 is black but transparent: the background must still read as paper.
    img.putpalette([0, 0, 0, 20, 20, 20] + [0] * (254 * 3))
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), 1)
    data = encode(img, transparency=0)

    decoded = decode(data)

    assert np.median(decoded) > 200
    assert corr(prepare(decoded).image, upright.image) > 0.95


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_decode_cmyk(upright: Prepared, fmt: str) -> None:
    img = Image.new("CMYK", (300, 300), (0, 0, 0, 25))
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), (0, 0, 0, 225))
    decoded = decode(encode(img, fmt))
    assert decoded.ndim == 2
    assert np.median(decoded) > 200, "CMYK paper came out dark"
    assert decoded.min() < 60
    assert corr(prepare(decoded).image, upright.image) > 0.95


def sixteen_bit(values: npt.NDArray[np.uint16]) -> Image.Image:
    h, w = values.shape
    return Image.frombytes("I;16", (w, h), values.astype("<u2").tobytes())


def test_decode_16_bit(upright: Prepared) -> None:
    img = sixteen_bit((gray(page()).astype(np.uint16) * 257).astype(np.uint16))
    data = encode(img)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "I;16"

    decoded = decode(data)

    assert decoded.dtype == np.uint8
    assert np.median(decoded) > 200
    assert decoded.min() < 60
    assert corr(prepare(decoded).image, upright.image) > 0.95


def test_decode_16_bit_blank_white_page_stays_white() -> None:
    decoded = decode(encode(sixteen_bit(np.full((200, 200), 60000, dtype=np.uint16))))
    assert decoded.min() > 200


def test_blank_16_bit_scan_has_no_ink() -> None:
    rng = np.random.default_rng(3)
    noise = np.clip(50000 + rng.normal(0, 20, (300, 300)), 0, 65535).astype(np.uint16)
    decoded = decode(encode(sixteen_bit(noise)))
    with pytest.raises(NoInk):
        prepare(decoded)


def test_decode_downscales_big_photos_keeping_the_shape(upright: Prepared) -> None:
    big = page(size=(3000, 2000), box=(1000, 500, 1500, 1000)).convert("RGB")

    jpeg = decode(encode(big, "JPEG", quality=90))
    assert max(jpeg.shape) <= 1024
    assert jpeg.shape[0] < jpeg.shape[1]
    assert abs(jpeg.shape[1] / jpeg.shape[0] - 1.5) < 0.02

    png = decode(encode(big), max_side=500)
    assert png.shape == (333, 500)
    assert corr(prepare(png).image, upright.image) > 0.85


def test_decode_keeps_small_photos_at_their_size() -> None:
    assert decode(encode(page(size=(320, 240)))).shape == (240, 320)


# prepare -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 48, 64])
def test_prepare_output_is_a_normalised_ink_image(size: int) -> None:
    prepared = prepare(gray(page()), size)
    image = prepared.image

    assert image.shape == (size, size)
    assert image.dtype == np.float32
    assert image.min() >= 0.0
    assert image.max() == pytest.approx(1.0)
    # Paper is ~0 at the margin all around, ink is high.
    edge = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    assert edge.max() < 0.05
    inked = float(np.mean(image > 0.5))
    assert 0.05 < inked < 0.6
    assert not prepared.inverted
    assert prepared.grid_lines == 0


def test_prepare_ink_is_where_the_strokes_are(upright: Prepared) -> None:
    image = upright.image
    x0, y0, x1, y1 = ink_bbox(image)
    # The F's vertical stroke is at the left of its box, its right half is mostly empty
    # below the top bar: ink must be high at the stroke, low in the empty part.
    left = image[y0:y1, x0 : x0 + (x1 - x0) // 4].mean()
    empty = image[y0 + (y1 - y0) * 2 // 3 : y1, (x0 + x1) // 2 : x1].mean()
    assert left > 0.3
    assert empty < 0.05


@pytest.mark.parametrize(
    ("size", "box"),
    [
        ((300, 300), (75, 75, 225, 225)),  # centred, filling half the photo
        ((1000, 800), (30, 30, 230, 230)),  # top left corner of a big photo
        ((1000, 800), (760, 560, 960, 760)),  # bottom right
        ((800, 1000), (300, 40, 500, 240)),  # top middle of a portrait photo
    ],
)
def test_prepare_centres_the_character(size: tuple[int, int], box: Box) -> None:
    centred = prepare(gray(page(drawer=draw_wang)))
    prepared = prepare(gray(page(size=size, box=box, drawer=draw_wang)))
    image = prepared.image

    middle = (image.shape[0] - 1) / 2
    cy, cx = centre_of_mass(image)
    assert abs(cy - middle) < 2.0
    assert abs(cx - middle) < 2.0
    x0, y0, x1, y1 = ink_bbox(image)
    assert abs((x0 + x1 - 1) / 2 - middle) < 2.0
    assert abs((y0 + y1 - 1) / 2 - middle) < 2.0
    # And scaled to fill the square the same way, whatever its size in the photo.
    assert corr(image, centred.image) > 0.85


def test_prepare_asymmetric_character_in_a_corner_matches_the_centred_one(
    upright: Prepared,
) -> None:
    corner = prepare(gray(page(size=(1000, 800), box=(30, 30, 230, 230))))
    assert corr(corner.image, upright.image) > 0.85


def test_prepare_board_photo_matches_paper_photo(upright: Prepared) -> None:
    board = prepare(255 - gray(page()))
    assert board.inverted
    assert not upright.inverted
    assert corr(board.image, upright.image) > 0.95


def test_prepare_chalk_on_a_green_board(upright: Prepared) -> None:
    img = Image.new("RGB", (300, 300), (40, 70, 50))
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), (225, 225, 215))
    prepared = prepare(gray(img))
    assert prepared.inverted
    assert corr(prepared.image, upright.image) > 0.95


def test_prepare_board_glyph() -> None:
    draw_hao = glyph("好")
    paper = prepare(gray(page(box=(50, 50, 250, 250), drawer=draw_hao)))
    board = prepare(255 - gray(page(box=(50, 50, 250, 250), drawer=draw_hao)))
    assert board.inverted
    assert corr(board.image, paper.image) > 0.95


@pytest.mark.parametrize("dashed", [True, False], ids=["dashed", "solid"])
@pytest.mark.parametrize("shade", [150, 120])
def test_prepare_removes_a_tianzige_grid(upright: Prepared, dashed: bool, shade: int) -> None:
    img = Image.new("L", (300, 300), PAPER)
    draw_grid(img, shade, dashed=dashed)
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), INK)

    prepared = prepare(gray(img))

    assert prepared.grid_lines >= 2
    assert corr(prepared.image, upright.image) > 0.95


def test_prepare_removes_a_faint_solid_tianzige_grid(upright: Prepared) -> None:
    img = Image.new("L", (300, 300), PAPER)
    # Middle lines at gray 173 on paper 230 (contrast 0.25; the ink's is 0.87), 3 px wide.
    draw_grid(img, 173, dashed=False, width=3)
    draw_f(ImageDraw.Draw(img), (75, 75, 225, 225), INK)

    prepared = prepare(gray(img))

    assert corr(prepared.image, upright.image) > 0.9


def test_prepare_keeps_a_character_crossing_the_grid() -> None:
    """A stroke lying on a grid line survives the grid removal where it crosses it."""
    img = Image.new("L", (300, 300), PAPER)
    draw_grid(img, 150, dashed=False)
    draw_wang(ImageDraw.Draw(img), (75, 75, 225, 225), INK)
    clean = prepare(gray(page(drawer=draw_wang)))

    prepared = prepare(gray(img))

    assert prepared.grid_lines >= 2
    assert corr(prepared.image, clean.image) > 0.9


def cross_with_a_pale_stroke() -> Image.Image:
    """十 on a 64 px scan (Chinese MNIST's kind): a dark bar, a pale upright through it."""
    img = Image.new("L", (64, 64), PAPER)
    draw = ImageDraw.Draw(img)
    draw.line([(14, 30), (50, 30)], fill=INK, width=3)
    draw.line([(32, 13), (32, 52)], fill=140, width=2)
    return img


def stroke_ink(prepared: Prepared, at: tuple[float, float, float]) -> float:
    """The most ink near a vertical stroke of the prepared image, ``at`` = (x, top, bottom)
    as shares of the writing's box, away from where other strokes cross it."""
    image = prepared.image
    x0, y0, x1, y1 = ink_bbox(image)
    col = x0 + round((x1 - x0) * at[0])
    rows = slice(y0 + round((y1 - y0) * at[1]), y0 + round((y1 - y0) * at[2]))
    return float(image[rows, col - 2 : col + 3].max())


@pytest.mark.parametrize(
    ("picture", "where"),
    [
        (lambda: scan_with_a_pale_stroke(margin=0), (50 / 64, 30 / 64, 48 / 64)),
        (cross_with_a_pale_stroke, (0.5, 0.6, 0.9)),
    ],
    ids=["cropped-to-the-character", "cross"],
)
def test_a_pale_long_stroke_of_a_character_is_not_a_ruled_line(
    picture: Callable[[], Image.Image], where: tuple[float, float, float]
) -> None:
    """Cropped to the character (a scan like CASIA-HWDB's), the stroke does not run past
    the rest of the writing; 十's upright does, but a rule would cross the whole picture."""
    prepared = prepare(gray(picture()))

    assert prepared.grid_lines == 0
    assert stroke_ink(prepared, where) > 0.3
    # The training data is prepared without the guard (it trained better): there the
    # stroke is taken for a ruled line, as it was before the guard existed.
    assert prepare(gray(picture()), guard_strokes=False).grid_lines >= 1


def test_a_pale_rule_across_the_picture_is_still_removed() -> None:
    """The same writing on lined paper: the pale rule crosses the picture, past the writing."""
    img = scan_with_a_pale_stroke(margin=30)
    ImageDraw.Draw(img).line([(0, 112), (img.width, 112)], fill=170, width=2)
    clean = prepare(gray(scan_with_a_pale_stroke(margin=30)))

    prepared = prepare(gray(img))

    assert prepared.grid_lines == 1
    assert corr(prepared.image, clean.image) > 0.9


@pytest.mark.parametrize("light", ["gradient", "shadow", "dim"])
def test_prepare_ignores_uneven_lighting(upright: Prepared, light: str) -> None:
    photo = gray(page()).astype(np.float32)
    ys, xs = np.indices(photo.shape)
    factor = {
        "gradient": 0.35 + 0.65 * xs / xs.max(),
        "shadow": 1.0 - 0.55 * np.exp(-((xs - 60.0) ** 2 + (ys - 240.0) ** 2) / (2 * 60.0**2)),
        "dim": np.full(photo.shape, 0.4),
    }[light]
    lit = np.clip(photo * factor, 0, 255).astype(np.uint8)

    prepared = prepare(lit)

    assert not prepared.inverted
    assert corr(prepared.image, upright.image) > 0.95


@pytest.mark.parametrize("paper", ["noise", "texture", "gradient"])
def test_prepare_blank_page_has_no_ink(paper: str) -> None:
    rng = np.random.default_rng(7)
    _, xs = np.indices((400, 300))
    base = np.full((400, 300), float(PAPER))
    if paper == "noise":
        base += rng.normal(0, 4, base.shape)
    elif paper == "texture":
        # Fibres and blotches: low-frequency variation plus fine grain.
        blotches = np.asarray(
            Image.fromarray(rng.normal(0, 40, (10, 8)).astype(np.float32), mode="F").resize(
                (300, 400), Image.Resampling.BICUBIC
            )
        )
        base += 0.1 * blotches + rng.normal(0, 3, base.shape)
    else:
        base *= 0.6 + 0.4 * xs / xs.max()
        base += rng.normal(0, 3, base.shape)
    blank = np.clip(base, 0, 255).astype(np.uint8)

    with pytest.raises(NoInk):
        prepare(blank)


def test_prepare_ignores_isolated_specks() -> None:
    clean = page(size=(400, 400), box=(125, 125, 275, 275))
    reference = prepare(gray(clean))
    specked = gray(clean)
    for y, x in [(30, 360), (360, 30), (350, 350), (40, 40)]:
        specked[y : y + 4, x : x + 4] = INK

    prepared = prepare(specked)

    assert abs(prepared.ink_side - reference.ink_side) <= 0.1 * reference.ink_side
    assert corr(prepared.image, reference.image) > 0.9


def test_prepare_ignores_a_pen_dot_far_from_the_character() -> None:
    clean = page(size=(400, 400), box=(125, 125, 275, 275))
    reference = prepare(gray(clean))
    dotted = gray(clean)
    dotted[30:36, 360:366] = INK  # a 6 px dot in a 400 px photo

    prepared = prepare(dotted)

    assert abs(prepared.ink_side - reference.ink_side) <= 0.1 * reference.ink_side
    assert corr(prepared.image, reference.image) > 0.9


def test_prepare_keeps_a_short_stroke_written_apart_and_drops_a_crumb() -> None:
    # 二 as many write it: a long bar, and well above it a short dash with a sixth of its
    # ink, which is a stroke, not a speck (dropped, the 二 was read as 一).
    img = Image.new("L", (200, 200), PAPER)
    d = ImageDraw.Draw(img)
    d.line([(40, 130), (160, 126)], fill=INK, width=6)
    d.line([(88, 70), (108, 69)], fill=INK, width=6)
    two = prepare(gray(img))
    rows = np.flatnonzero(two.image.max(1) > 0.5)
    assert rows[-1] - rows[0] > 0.4 * two.image.shape[0]  # both strokes, far apart
    assert two.aspect < 2.5
    # A crumb as far away, with a fiftieth of the bar's ink, is still dropped.
    d.line([(88, 70), (108, 69)], fill=PAPER, width=6)
    d.rectangle([97, 68, 99, 70], fill=INK)
    one = prepare(gray(img))
    assert one.aspect > 4 and np.ptp(np.flatnonzero(one.image.max(1) > 0.5)) < 0.3 * 48


def glare(shape: tuple[int, int], centre: tuple[float, float], radius: float, peak: float) -> Array:
    ys, xs = np.indices(shape)
    cy, cx = centre
    return np.asarray(peak * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2)))


def test_prepare_small_character_with_a_reflection() -> None:
    clean = gray(page(size=(300, 400), box=(40, 200, 140, 300)))  # ink ~1.5% of the photo
    reference = prepare(clean)
    rng = np.random.default_rng(0)
    shine = glare(clean.shape, (100.0, 220.0), 50.0, 30.0) + rng.normal(0, 3, clean.shape)
    photo = np.clip(clean + shine, 0, 255).astype(np.uint8)

    prepared = prepare(photo)

    assert not prepared.inverted
    assert corr(prepared.image, reference.image) > 0.9


def test_prepare_blank_page_with_a_reflection_has_no_ink() -> None:
    rng = np.random.default_rng(0)
    shine = glare((400, 300), (100.0, 220.0), 50.0, 30.0) + rng.normal(0, 3, (400, 300))
    blank = np.clip(215 + shine, 0, 255).astype(np.uint8)
    with pytest.raises(NoInk):
        prepare(blank)


def test_prepare_keeps_a_wide_single_stroke() -> None:
    """一 written across the whole page is the answer, not a ruled line."""
    img = Image.new("L", (300, 300), PAPER)
    ImageDraw.Draw(img).line([(20, 150), (280, 150)], fill=INK, width=12)

    prepared = prepare(gray(img))

    assert prepared.grid_lines == 0
    assert prepared.aspect > 5
    assert float(prepared.image.sum()) > 20
    rows = prepared.image.sum(1)
    assert rows.max() > 0.5 * prepared.image.shape[1], "the stroke should span the width"


def test_prepare_keeps_a_wide_single_stroke_in_a_tianzige() -> None:
    img = Image.new("L", (300, 300), PAPER)
    draw_grid(img, 150, dashed=True)
    ImageDraw.Draw(img).line([(60, 120), (240, 120)], fill=INK, width=12)

    prepared = prepare(gray(img))

    assert prepared.aspect > 5


# split_characters --------------------------------------------------------------------


def test_split_characters_into_two(upright: Prepared) -> None:
    ring = prepare(gray(page(box=(75, 90, 225, 210), drawer=draw_ring))).image
    word = Image.new("L", (600, 300), PAPER)
    draw = ImageDraw.Draw(word)
    draw_f(draw, (60, 75, 210, 225), INK)
    draw_ring(draw, (360, 90, 510, 210), INK)

    pieces = split_characters(gray(word), 2)

    assert len(pieces) == 2
    first, second = pieces
    assert first.shape == second.shape == (48, 48)
    assert corr(first, upright.image) > corr(first, ring) + 0.3
    assert corr(second, ring) > corr(second, upright.image) + 0.3
    assert corr(first, upright.image) > 0.9
    assert corr(second, ring) > 0.9


def test_split_characters_glyphs_in_order() -> None:
    draw_ren, draw_kou = glyph("人"), glyph("口")
    ren = prepare(gray(page(box=(50, 50, 250, 250), drawer=draw_ren))).image
    kou = prepare(gray(page(box=(50, 50, 250, 250), drawer=draw_kou))).image
    word = Image.new("L", (560, 300), PAPER)
    draw = ImageDraw.Draw(word)
    draw_ren(draw, (50, 50, 250, 250), INK)
    draw_kou(draw, (310, 50, 510, 250), INK)

    first, second = split_characters(gray(word), 2)

    assert corr(first, ren) > corr(first, kou)
    assert corr(second, kou) > corr(second, ren)


def test_split_characters_of_a_column_top_to_bottom() -> None:
    """A word written in a column (taller than wide) is cut across its rows, top first."""
    draw_ren, draw_kou = glyph("人"), glyph("口")
    ren = prepare(gray(page(box=(50, 50, 250, 250), drawer=draw_ren))).image
    kou = prepare(gray(page(box=(50, 50, 250, 250), drawer=draw_kou))).image
    word = Image.new("L", (300, 560), PAPER)
    draw = ImageDraw.Draw(word)
    draw_ren(draw, (50, 50, 250, 250), INK)
    draw_kou(draw, (50, 310, 250, 510), INK)

    first, second = split_characters(gray(word), 2)

    assert first.shape == second.shape == (48, 48)
    assert corr(first, ren) > 0.9 and corr(first, ren) > corr(first, kou) + 0.3
    assert corr(second, kou) > 0.9 and corr(second, kou) > corr(second, ren) + 0.3


def draw_bars(draw: ImageDraw.ImageDraw, box: Box, fill: Fill) -> None:
    """Two upright strokes far apart, like 儿 or 川 without its middle: a character in
    parts, the space inside it wider than the space after it in a word."""
    x0, y0, x1, y1 = box
    w = x1 - x0
    draw.line([(x0 + 0.1 * w, y0), (x0 + 0.1 * w, y1)], fill=fill, width=max(3, w // 8))
    draw.line([(x0 + 0.9 * w, y0), (x0 + 0.9 * w, y1)], fill=fill, width=max(3, w // 8))


def bars_and_ring(ring_at: int = 270, *, join: bool = False) -> Image.Image:
    """The bars (130 px empty inside them, up to x 240) and a ring from ``ring_at`` on,
    side by side; ``join``: a thin stroke joins them (no empty column between)."""
    word = Image.new("L", (520, 300), PAPER)
    draw = ImageDraw.Draw(word)
    draw_bars(draw, (40, 75, 240, 225), INK)
    draw_ring(draw, (ring_at, 90, ring_at + 150, 210), INK)
    if join:
        draw.line([(230, 150), (ring_at + 10, 150)], fill=INK, width=3)
    return word


def bars_and_ring_alone() -> tuple[Array, Array]:
    bars = prepare(gray(page(box=(75, 75, 275, 225), drawer=draw_bars))).image
    ring = prepare(gray(page(box=(75, 90, 225, 210), drawer=draw_ring))).image
    return bars, ring


def test_split_characters_keeps_a_character_in_parts_whole() -> None:
    bars, ring = bars_and_ring_alone()

    first, second = split_characters(gray(bars_and_ring()), 2)  # 30 px between

    # Cut at the first empty column near the middle, the bars came apart: a bar, and a
    # bar with the ring.
    assert corr(first, bars) > 0.9
    assert corr(second, ring) > 0.9


def test_split_characters_cuts_touching_characters_where_they_touch() -> None:
    bars, ring = bars_and_ring_alone()

    first, second = split_characters(gray(bars_and_ring(260, join=True)), 2)

    # Cut at the emptiest column near the middle, the bars came apart (and the ring kept
    # one of them: correlations -0.18 and 0.30); cut at the join, each is itself but for
    # a stub of the join.
    assert corr(first, bars) > 0.9
    assert corr(second, ring) > 0.7


def test_a_word_s_strips_of_the_photo_hold_one_character_each() -> None:
    word_img = bars_and_ring()
    word = split_word(gray(word_img), 2)
    paper = shrink(gray(word_img), WORK_SIDE)  # the photo at the size the ink was cut at

    left, right = word.strips(paper)

    assert left.shape[0] == right.shape[0] == paper.shape[0]
    assert left.shape[1] + right.shape[1] == paper.shape[1]
    # The cut lies in the space between the bars (their ink up to column 113 at this size)
    # and the ring (from 133), so each strip has all of one character's ink.
    assert 113 < left.shape[1] < 133
    assert (left < 128).sum() == (paper[:, :114] < 128).sum() > 0
    assert (right < 128).sum() == (paper[:, 133:] < 128).sum() > 0


def test_split_characters_one_piece_is_the_whole_word(upright: Prepared) -> None:
    (only,) = split_characters(gray(page()), 1)
    assert corr(only, upright.image) > 0.95


def test_split_characters_missing_character_is_no_ink() -> None:
    """Three characters asked for, the middle one left out: not three crops."""
    word = Image.new("L", (900, 300), PAPER)
    draw = ImageDraw.Draw(word)
    draw_f(draw, (60, 75, 210, 225), INK)
    draw_ring(draw, (660, 90, 810, 210), INK)
    with pytest.raises(NoInk):
        split_characters(gray(word), 3)


# The fast paths below replaced slower code whose every output the trained model has seen:
# each is checked against the plain computation it stands for.


@pytest.mark.parametrize("seed", range(4))
def test_max_filter_is_pils(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(2, 60, 2))
        arr = rng.integers(0, 256, (h, w), dtype=np.uint8)
        for size in (3, 5, 9):
            ref = np.asarray(Image.fromarray(arr).filter(ImageFilter.MaxFilter(size)))
            assert np.array_equal(pp._max_filter(arr, size), ref)


def flood_parts(grown: Array) -> Array:
    """Connected parts (8 neighbours) by flood fill, numbered in order of first cell."""
    labels = np.zeros(grown.shape, dtype=np.intp)
    h, w = grown.shape
    n = 0
    for y0, x0 in zip(*np.nonzero(grown), strict=True):
        if labels[y0, x0]:
            continue
        n += 1
        labels[y0, x0] = n
        todo = [(y0, x0)]
        while todo:
            y, x = todo.pop()
            for yy in range(max(0, y - 1), min(h, y + 2)):
                for xx in range(max(0, x - 1), min(w, x + 2)):
                    if grown[yy, xx] and not labels[yy, xx]:
                        labels[yy, xx] = n
                        todo.append((yy, xx))
    return labels


def same_partition(a: Array, b: Array) -> bool:
    """Whether two labellings group the cells alike (0 meaning no part in both)."""
    if not np.array_equal(a == 0, b == 0):
        return False
    pairs = {(int(x), int(y)) for x, y in zip(a.ravel(), b.ravel(), strict=True) if x}
    return len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs})


@pytest.mark.parametrize("density", [0.1, 0.3, 0.5, 0.7])
def test_parts_are_the_connected_parts(density: float) -> None:
    rng = np.random.default_rng(int(density * 10))
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        grown = rng.random((h, w)) < density
        assert same_partition(pp._parts(grown), flood_parts(grown))


def test_parts_join_diagonal_neighbours_and_u_shapes() -> None:
    grown = np.array(
        [
            [1, 0, 0, 0, 1, 0, 1],
            [0, 1, 0, 0, 1, 0, 1],
            [0, 0, 0, 0, 1, 1, 1],
            [1, 1, 0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    labels = pp._parts(grown)
    assert labels[0, 0] == labels[1, 1]
    assert labels[0, 4] == labels[0, 6]
    assert len(set(labels[grown].tolist())) == 3


def test_median_is_numpys() -> None:
    rng = np.random.default_rng(3)
    for n in [*range(1, 40), 255, 256, 1001]:
        values = rng.random(n, dtype=np.float32) * rng.choice([1.0, 0.01])
        assert pp._median(values) == float(np.median(values))
        band = rng.random((3, n), dtype=np.float32)
        assert pp._median(band) == float(np.median(band))


def reference_line_rows(mask: Array) -> list[tuple[int, int, float]]:
    """Ruled-line rows counted pixel by pixel."""
    h, w = mask.shape
    runs = np.zeros(mask.shape, dtype=np.int64)
    for y in range(h):
        x = 0
        while x < w:
            if mask[y, x]:
                start = x
                while x < w and mask[y, x]:
                    x += 1
                runs[y, start:x] = x - start
            else:
                x += 1
    covered = (mask & (runs >= 0.3 * w)).sum(1)
    pieces = np.abs(np.diff(mask.astype(np.int8), axis=1)).sum(1) // 2
    dashed = (mask.sum(1) >= 0.45 * w) & (pieces >= 6)
    rows = (covered >= 0.55 * w) | dashed
    span = np.where(dashed, 1.0, covered / w)
    bands = []
    y = 0
    while y < h:
        if rows[y]:
            start = y
            while y < h and rows[y]:
                y += 1
            if y - start <= max(2, h // 20):
                bands.append((start, y, float(span[start:y].max())))
        else:
            y += 1
    return bands


@pytest.mark.parametrize("seed", range(6))
def test_line_rows_are_counted_as_pixel_by_pixel(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(20, 120, 2))
    mask = rng.random((h, w)) < 0.05
    for y in rng.integers(0, h, 4):
        a, b = sorted(int(v) for v in rng.integers(0, w, 2))
        mask[y, a:b] = True  # a solid rule over part of the width
    y = int(rng.integers(0, h))
    mask[y, ::3] = True  # a dashed rule
    mask[y, 1::3] = True
    mask[rng.integers(0, h) : rng.integers(0, h) + 3, :] = True  # a full-width band
    for m in (mask, mask.T):
        assert pp._line_rows(m) == reference_line_rows(m)


@pytest.mark.parametrize("seed", range(4))
def test_ink_level_and_polarity_are_the_plain_computations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(8, 200, 2))
        ink = (rng.random((h, w), dtype=np.float32) * (rng.random((h, w)) < 0.1)).astype(np.float32)
        flat = ink.ravel()
        k = max(6, flat.size // 2000)
        top = np.sort(flat)[-k:]
        assert pp._ink_level(ink) == pytest.approx(float(top.mean()), rel=1e-6)
        gray = rng.integers(0, 256, (h, w), dtype=np.uint8)
        small = pp.shrink(gray, pp.POLARITY_SIDE)
        residual = small.astype(np.float32) - pp._tile_background(small)
        lo, hi = np.percentile(residual, (2, 98))
        assert pp.is_dark_background(gray) == plain_polarity(gray)
        assert pp._percentiles(residual, (2, 98)) == pytest.approx([lo, hi], abs=1e-4)
        # Strokes on a background, thin or bold, either way round: the pictures whose
        # tails can be close, where the two tones decide.
        strokes = Image.new("L", (w, h), int(rng.integers(150, 256)))
        draw = ImageDraw.Draw(strokes)
        for _ in range(int(rng.integers(1, 6))):
            a, b = rng.integers(0, max(w, h), (2, 2))
            draw.line(
                [tuple(a), tuple(b)], fill=int(rng.integers(0, 90)), width=int(rng.integers(1, 12))
            )
        noisy = np.asarray(strokes, dtype=np.float64) + rng.normal(0, 4, (h, w))
        picture = np.clip(noisy, 0, 255).astype(np.uint8)
        for g in (picture, 255 - picture):
            assert pp.is_dark_background(g) == plain_polarity(g)


def plain_polarity(gray: npt.NDArray[np.uint8]) -> bool:
    """``pp.is_dark_background`` written out: numpy's percentiles, Otsu's threshold by
    trying every level, the erosion by looking at every window, the slope in float64."""
    small = pp.shrink(gray, pp.POLARITY_SIDE)
    residual = small.astype(np.float32) - pp._tile_background(small)
    lo, hi = (float(v) for v in np.percentile(residual, (2, 98)))
    if hi - lo < 24:
        return bool(np.median(small) < 96)
    ratio = math.log(max(hi, 1e-3) / max(-lo, 1e-3))
    if abs(ratio) >= pp.POLARITY_CLEAR:
        return ratio > 0
    levels = small.astype(np.float64)
    best, dark = -1.0, levels <= 0
    for k in range(256):
        below = levels <= k
        n0, n1 = int(below.sum()), int((~below).sum())
        if n0 and n1:
            between = n0 * n1 * (levels[below].mean() - levels[~below].mean()) ** 2
            if between > best * (1 + 1e-9):
                best, dark = between, below
    ring = np.concatenate([dark[0], dark[-1], dark[1:-1, 0], dark[1:-1, -1]])
    if not pp.EDGE_PLAIN > ring.mean() > 1 - pp.EDGE_PLAIN:
        edge_dark = bool(ring.mean() >= pp.EDGE_PLAIN)
        other = ~dark if edge_dark else dark
        r = pp.SHEET_ERODE
        padded = np.pad(other, r, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * r + 1, 2 * r + 1))
        kept = int(windows.all(axis=(2, 3)).sum())
        if kept < pp.SHEET_THICK * max(int(other.sum()), 1):
            return edge_dark
    if max(small.shape) < pp.POLARITY_SIDE:
        return ratio > 0
    background = pp._tile_background(small).astype(np.float64)
    slope = np.hypot(*np.gradient(background))
    flat = slope <= pp.SHEET_EDGE_SLOPE
    if flat.sum() < pp.SHEET_FLAT * flat.size:
        return ratio > 0
    lo, hi = (float(v) for v in np.percentile(residual[flat], (2, 98)))
    return math.log(max(hi, 1e-3) / max(-lo, 1e-3)) > 0


def emnist_letter(draw: Callable[[ImageDraw.ImageDraw, int], object], width: int) -> Array:
    """A letter made the way EMNIST made its images (the reference model's "unknown"
    class): drawn white on black at 128 px, blurred, cropped to its ink, centred in a
    square and shrunk into 24 of 28 pixels; then dark on light, as the reference used it."""
    img = Image.new("L", (128, 128), 0)
    draw(ImageDraw.Draw(img), width)
    img = img.filter(ImageFilter.GaussianBlur(1))
    img = img.crop(img.getbbox())
    side = max(img.size)
    square = Image.new("L", (side, side), 0)
    square.paste(img, ((side - img.size[0]) // 2, (side - img.size[1]) // 2))
    out = Image.new("L", (28, 28), 0)
    out.paste(square.resize((24, 24), Image.Resampling.BICUBIC), (2, 2))
    return 255 - np.asarray(out)


LETTERS: dict[str, Callable[[ImageDraw.ImageDraw, int], object]] = {
    "O": lambda d, w: d.ellipse((24, 14, 104, 114), outline=255, width=w),
    "D": lambda d, w: (
        d.line([(30, 14), (30, 114)], fill=255, width=w),
        d.arc((-20, 14, 100, 114), -90, 90, fill=255, width=w),
    ),
    "B": lambda d, w: (
        d.line([(30, 14), (30, 114)], fill=255, width=w),
        d.arc((0, 14, 90, 64), -90, 90, fill=255, width=w),
        d.arc((0, 64, 100, 114), -90, 90, fill=255, width=w),
    ),
    "c": lambda d, w: d.arc((24, 30, 104, 110), 45, 315, fill=255, width=w),
    "L": lambda d, w: d.line([(30, 14), (30, 110), (100, 110)], fill=255, width=w, joint="curve"),
    "E": lambda d, w: (
        d.line([(95, 14), (30, 14), (30, 110), (95, 110)], fill=255, width=w, joint="curve"),
        d.line([(30, 62), (85, 62)], fill=255, width=w),
    ),
}


@pytest.mark.parametrize("width", [10, 14, 18, 22])
def test_a_bold_letter_in_a_28_pixel_box_is_dark_on_light(width: int) -> None:
    # Bold strokes fill the polarity tiles of so small a picture, and the brightness tails
    # came out nearly even: O, D, c and E were read as chalk on a board (then named 一).
    for name, draw in LETTERS.items():
        letter = emnist_letter(draw, width)
        assert not pp.is_dark_background(letter), name
        assert pp.is_dark_background(255 - letter), name
        prepared = prepare(letter)
        assert not prepared.inverted, name
        # The ink is the letter, not the paper around it: the picture's corner is paper.
        assert prepared.image[0, 0] < 0.1 and prepared.image.max() == 1.0, name


@pytest.mark.parametrize(
    "sheet",
    [
        pytest.param(
            (60, 40, 330, 300),
            marks=pytest.mark.xfail(
                strict=True, reason="known: the tiles' tails call this sheet a board"
            ),
        ),
        (0, 0, 250, 300),
        (100, 0, 400, 200),
        (150, 100, 400, 300),
    ],
)
def test_a_sheet_of_paper_on_a_dark_table_and_a_board_on_a_light_wall(sheet: Box) -> None:
    # The edge's tone must not decide when the other tone is a thick sheet: here the edge
    # is the table (or the wall), not the paper (or the board) written on.
    img = Image.new("L", (400, 300), 40)
    draw = ImageDraw.Draw(img)
    draw.rectangle(sheet, fill=PAPER)
    x0, y0, x1, y1 = sheet
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    draw_f(draw, (cx - 40, cy - 40, cx + 40, cy + 40), INK)
    assert not pp.is_dark_background(gray(img))
    assert pp.is_dark_background(255 - gray(img))


def test_p90_above_agrees_with_numpy() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        ink = rng.random((40, 50), dtype=np.float32) ** 3
        mask = ink > 0.05
        strong = float(np.percentile(ink[mask], 90))
        for value in (0.5 * strong, 0.999 * strong, strong, 1.001 * strong, 2 * strong):
            told = pp._p90_above(ink, int(mask.sum()), value)
            assert told is None or told == (strong > value)
        assert pp._p90_above(ink, int(mask.sum()), 0.5 * strong) is True
        assert pp._p90_above(ink, int(mask.sum()), 2 * strong) is False


@pytest.mark.parametrize("seed", range(3))
def test_drop_strays_cell_sums_either_way(seed: int) -> None:
    """The quick cell sums and numpy's sum of a padded copy agree to the last bits."""
    rng = np.random.default_rng(seed)
    ink = (rng.random((256, 200), dtype=np.float32) * (rng.random((256, 200)) < 0.2)).astype(
        np.float32
    )
    step = 11
    quick = np.add.reduceat(
        np.add.reduceat(ink, np.arange(0, 256, step), 0), np.arange(0, 200, step), 1
    )
    exact = pp._cell_sums(ink, step)
    assert quick.shape == exact.shape
    assert np.all(np.abs(quick - exact) <= 4 * step * step * 2.0**-24 * exact + 1e-12)


def paper_on_a_table(seed: int) -> Array:
    """A sheet of paper with an "F" on it, lying somewhere on a dark, grainy table."""
    return paper_and_f_on_a_table(seed)[0]


def paper_and_f_on_a_table(seed: int, slant: float = 0.0) -> tuple[Array, Box]:
    """``paper_on_a_table``, and the box the "F" is drawn in; ``slant``: the sheet seen
    at an angle, each corner moved by up to this share of its side."""
    rng = np.random.default_rng(seed)
    w, h = 480, 360
    table = np.clip(rng.uniform(25, 80) + rng.normal(0, 6, (h, w)), 0, 255)
    sw, sh = int(rng.integers(180, 330)), int(rng.integers(180, 300))
    x0, y0 = int(rng.integers(0, w - sw)), int(rng.integers(0, h - sh))
    img = Image.fromarray(table.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    corners = [(x0, y0), (x0 + sw, y0), (x0 + sw, y0 + sh), (x0, y0 + sh)]
    moved = [
        (x + sw * slant * rng.uniform(-1, 1), y + sh * slant * rng.uniform(-1, 1))
        for x, y in corners
    ]
    draw.polygon(moved, fill=PAPER)
    cx, cy, r = x0 + sw // 2, y0 + sh // 2, int(min(sw, sh) * 0.35)
    draw_f(draw, (cx - r, cy - r, cx + r, cy + r), INK)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(1))), (cx - r, cy - r, cx + r, cy + r)


SLANTED_BOARD_MISS = pytest.mark.xfail(
    strict=True, reason="known: the polarity takes this board's light wall for the paper"
)


@pytest.mark.parametrize(
    ("seed", "slant"),
    [(seed, 0.0) for seed in range(12)]
    + [
        pytest.param(seed, 0.1, marks=SLANTED_BOARD_MISS) if seed == 1 else (seed, 0.1)
        for seed in range(12)
    ],
)
def test_no_ink_is_read_on_the_table_around_a_sheet(seed: int, slant: float) -> None:
    # The paper's estimate ran over the sheet's edge, and the band of table beside it was
    # read as ink: a frame around the sheet, then cropped with the writing. The same for a
    # board on a light wall (the picture inverted), and for a sheet seen at an angle.
    photo, (x0, y0, x1, y1) = paper_and_f_on_a_table(seed, slant)
    for picture in (photo, 255 - photo):
        ink, _, _, _ = pp.normalised_ink(picture)
        s = ink.shape[1] / photo.shape[1]  # at the working size
        ys, xs = np.nonzero(ink > 0.05)
        pad = 4
        assert xs.min() >= x0 * s - pad and xs.max() <= x1 * s + pad
        assert ys.min() >= y0 * s - pad and ys.max() <= y1 * s + pad


def test_a_table_lies_outside_one_sheet() -> None:
    # At 48 px, as ``ink_map`` looks: a light sheet on a dark table, and a light ring (bold
    # chalk close up, or paper between strokes taken the wrong way round) around dark: the
    # dark inside the ring lies between light in its rows, so the light is not one sheet
    # and nothing is a table.
    sheet = np.full((48, 48), 40, dtype=np.uint8)
    sheet[6:40, 10:44] = 220
    table = pp._table(sheet)
    assert table is not None
    assert table[:, :8].all() and table[:4].all() and not table[8:38, 12:42].any()
    ring = sheet.copy()
    ring[18:28, 22:32] = 40  # dark paper inside the light
    assert pp._table(ring) is None


def test_a_shadow_darkening_the_paper_gradually_is_not_a_table() -> None:
    # Paper in the shadow at the picture's side, as dark as a table at the edge but
    # brightening over a third of the picture: the paper beside it is not the sheet's
    # level within a few pixels, so writing in the shadow is kept.
    paper = np.full((48, 48), 220, dtype=np.uint8)
    paper[:, :16] = np.linspace(50, 220, 16).round().astype(np.uint8)
    assert pp._table(paper) is None
    step = paper.copy()
    step[:, :16] = 50  # the same darkness ending sharply: a table
    assert pp._table(step) is not None


# Sheets whose edge, inside the polarity tiles, made the brightness tails say "board"
# (and, inverted, "paper"): the tails are now read away from the edge.
@pytest.mark.parametrize("seed", [2, 3, 7, 18, 27, 38, 47, 54])
def test_a_sheet_whose_edge_crosses_the_tiles_is_still_paper(seed: int) -> None:
    photo = paper_on_a_table(seed)
    assert not prepare(photo).inverted
    assert prepare(255 - photo).inverted
    # Decided at the working size: the picture as ``prepare`` sees it.
    seen = pp.shrink(photo, pp.WORK_SIDE)
    assert not pp.is_dark_background(seen) and pp.is_dark_background(255 - seen)


def _framed(outside: int, inside: int, *, tilt: float = 0.0) -> tuple[npt.NDArray[np.uint8], Ink]:
    """A 256-px picture: a dark rectangular ring (the frame) with ``inside`` within it and
    ``outside`` beyond, a cross written in the middle; and its ink as the bot reads it."""
    img = Image.new("L", (256, 256), outside)
    draw = ImageDraw.Draw(img)
    draw.rectangle([40, 50, 216, 206], fill=20)
    draw.rectangle([46, 56, 210, 200], fill=inside)
    draw.line([(128, 90), (128, 170)], fill=25, width=7)
    draw.line([(95, 130), (161, 130)], fill=25, width=7)
    if tilt:
        img = img.rotate(tilt, resample=Image.Resampling.BICUBIC, fillcolor=outside)
    gray = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)))
    ink, _, _, _ = pp.normalised_ink(gray)
    return gray, ink


Ink = npt.NDArray[np.float32]


@pytest.mark.parametrize("tilt", [0.0, 6.0])
def test_a_frame_between_two_surfaces_is_not_ink(tilt: float) -> None:
    """A screen's bezel on a desk: the background beyond the ring is not the one within."""
    _, ink = _framed(outside=130, inside=235, tilt=tilt)
    rows = np.flatnonzero(ink.max(1) > 0.3)
    cols = np.flatnonzero(ink.max(0) > 0.3)
    # Only the cross is left: its box, not the frame's.
    assert rows[0] > 80 and rows[-1] < 180 and cols[0] > 85 and cols[-1] < 172


def test_a_box_written_on_paper_stays() -> None:
    """The same ring with the same paper on both sides is writing (国's box, 回's)."""
    _, ink = _framed(outside=235, inside=235)
    assert ink[50:56, 60:200].max() > 0.5 and ink[60:190, 40:46].max() > 0.5


def test_writing_joined_to_a_frame_stays() -> None:
    """A stroke that runs into the ring makes it part of the writing, not a frame."""
    img = Image.new("L", (256, 256), 130)
    draw = ImageDraw.Draw(img)
    draw.rectangle([40, 50, 216, 206], fill=20)
    draw.rectangle([46, 56, 210, 200], fill=235)
    draw.line([(128, 56), (128, 170)], fill=25, width=7)  # touches the top of the ring
    draw.line([(95, 130), (161, 130)], fill=25, width=7)
    ink, _, _, _ = pp.normalised_ink(np.asarray(img.filter(ImageFilter.GaussianBlur(0.8))))
    assert ink[60:190, 40:46].max() > 0.5


@pytest.mark.parametrize("n", [1, 2, 15, 16, 255, 256])
def test_tile_medians_are_numpys(n: int) -> None:
    rng = np.random.default_rng(n)
    tiles = (rng.random((3, 4, n)) * 256).astype(np.uint8)
    expected = np.median(tiles, axis=-1).astype(np.float32)
    assert np.array_equal(pp._tile_medians(tiles), expected)
