"""Text-line OCR: box geometry on made-up probability maps, reading order, and the real models."""

from __future__ import annotations

import asyncio
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from recognition.api import PageProblem
from recognition.images import ImageRejected
from recognition.lines import (
    LineDecoding,
    LineOCR,
    LineOCRReader,
    Photo,
    Quad,
    connected_regions,
    crop_quad,
    decode_photo,
    detection_boxes,
    ink_contrast,
    lengthened,
    min_area_rect,
    page_problem,
    reading_order,
)
from recognition.ocr_eval import edit_distance, score
from recognition.ppocr import MODEL_DIR, PPOCRRecognizer, line_reader_dir
from recognition.service import ServiceBusy
from tests.recognition.conftest import png

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def prob_map(h: int = 200, w: int = 400) -> np.ndarray:
    return np.zeros((h, w), dtype=np.float32)


def rotated_rect_map(cx: float, cy: float, w: float, h: float, degrees: float) -> np.ndarray:
    prob = prob_map(300, 400)
    a = math.radians(degrees)
    ux, uy, vx, vy = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
    corners = [
        (cx + sx * ux * w / 2 + sy * vx * h / 2, cy + sx * uy * w / 2 + sy * vy * h / 2)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    img = Image.new("L", (400, 300), 0)
    ImageDraw.Draw(img).polygon(corners, fill=230)
    prob[:] = np.asarray(img, dtype=np.float32) / 255
    return prob


# --- geometry without models --------------------------------------------------------------


def test_two_rectangles_give_two_boxes_in_reading_order() -> None:
    prob = prob_map()
    prob[100:130, 20:180] = 0.9  # second line
    prob[30:60, 40:300] = 0.9  # first line
    boxes, truncated = detection_boxes(prob)
    assert not truncated
    ordered = [boxes[i] for i in reading_order(boxes)]
    assert len(ordered) == 2
    first, second = ordered
    assert first.center[1] < 50 < 100 < second.center[1]
    # Unclipped: the box is grown beyond the kernel on every side.
    assert first.left < 40 and first.width > 260 and first.height > 30
    assert abs(first.angle) < 1


def test_a_rotated_region_gives_a_rotated_box() -> None:
    boxes, _ = detection_boxes(rotated_rect_map(200, 150, 240, 30, 20))
    assert len(boxes) == 1
    box = boxes[0]
    assert box.angle == pytest.approx(20, abs=2)
    assert box.center[0] == pytest.approx(200, abs=2)
    assert box.center[1] == pytest.approx(150, abs=2)
    # The corners are named as a reader sees them: top-left is left of top-right.
    (x0, _), (x1, _), _, _ = box.points
    assert x0 < x1


def test_specks_and_faint_blobs_are_ignored() -> None:
    prob = prob_map()
    prob[10:12, 10:12] = 0.95  # a speck of two pixels
    prob[50:90, 50:200] = 0.35  # above the pixel threshold but a weak region overall
    prob[150:180, 100:300] = 0.9  # text
    boxes, _ = detection_boxes(prob)
    assert len(boxes) == 1
    assert boxes[0].center[1] == pytest.approx(165, abs=2)


def test_too_many_regions_are_capped_and_reported() -> None:
    prob = prob_map(200, 400)
    for y in range(0, 200, 10):
        for x in range(0, 400, 10):
            prob[y : y + 6, x : x + 6] = 0.9
    boxes, truncated = detection_boxes(prob, max_regions=50)
    assert truncated and len(boxes) <= 50


def test_regions_touching_at_a_corner_are_one() -> None:
    mask = np.zeros((6, 6), dtype=bool)
    mask[0:2, 0:2] = True
    mask[2:4, 2:4] = True  # touches the first diagonally
    mask[0:2, 5] = True  # separate
    assert len(connected_regions(mask)) == 2


def test_min_area_rect_of_a_rotated_square() -> None:
    a = math.radians(30)
    pts = np.array(
        [
            (10 * math.cos(a + k * math.pi / 2), 10 * math.sin(a + k * math.pi / 2))
            for k in range(4)
        ],
        dtype=np.float32,
    )
    rect = min_area_rect(pts)
    assert rect.width * rect.height == pytest.approx(200, rel=0.01)


def quad(x: float, y: float, w: float, h: float) -> Quad:
    return Quad(((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def test_reading_order_rows_top_to_bottom_then_left_to_right() -> None:
    boxes = [
        quad(300, 108, 100, 30),  # row 2, right, a little higher than its neighbour
        quad(10, 10, 100, 30),  # row 1, left
        quad(20, 112, 100, 30),  # row 2, left
        quad(200, 14, 100, 30),  # row 1, right, a little lower
        quad(10, 200, 300, 30),  # row 3
    ]
    assert reading_order(boxes) == [1, 3, 2, 0, 4]


def test_a_tall_crop_is_turned_to_read_left_to_right() -> None:
    img = Image.new("L", (100, 300), 255)
    ImageDraw.Draw(img).rectangle((40, 10, 60, 40), fill=0)  # ink at the top of the column
    crop = crop_quad(img, quad(30, 0, 40, 300))
    assert crop.width > crop.height
    ink = np.asarray(crop) < 128
    assert np.nonzero(ink)[1].mean() < crop.width / 4  # the top came to the left


def test_a_line_is_lengthened_along_its_writing_only() -> None:
    longer = lengthened(quad(100, 50, 200, 40), 0.25)
    assert longer.points[0] == pytest.approx((90, 50))
    assert longer.points[2] == pytest.approx((310, 90))
    # A vertical line grows down its column, by a share of its width.
    column = lengthened(quad(100, 50, 40, 200), 0.25)
    assert (column.width, column.height) == (pytest.approx(40), pytest.approx(220))
    assert lengthened(quad(0, 0, 10, 10), 0.0) == quad(0, 0, 10, 10)


def test_past_the_photos_edge_a_crop_is_paper() -> None:
    img = Image.new("L", (100, 40), 200)
    crop = np.asarray(crop_quad(img, quad(-20, 0, 140, 40), fill=200))
    assert crop.shape == (40, 140) and (crop == 200).all()


def test_faint_writing_is_darkened_and_paper_stays_paper() -> None:
    page = np.full((200, 300), 220, dtype=np.uint8)
    page[90:110, 50:250:10] = 170  # faint pencil strokes
    out = ink_contrast(page, gain=3.0)
    assert out[0, 0] == 255 and out[95, 50] == 255 - 3 * 50
    # A blank page's noise is not raised into writing, nor a dark photo's contrast changed.
    rng = np.random.default_rng(0)
    blank = (240 + rng.normal(0, 1, (200, 300))).astype(np.uint8)
    assert np.array_equal(ink_contrast(blank), blank)
    dark = np.full((200, 300), 60, dtype=np.uint8)
    dark[90:110, 50:250] = 200
    assert np.array_equal(ink_contrast(dark), dark)
    assert np.array_equal(ink_contrast(page, gain=1.0), page)


def test_decode_refuses_what_is_not_a_photo() -> None:
    with pytest.raises(ImageRejected):
        decode_photo(b"not an image at all")
    with pytest.raises(ImageRejected):
        decode_photo(png(Image.new("L", (200, 100), 255))[:60])


def test_decode_turns_the_photo_upright_and_keeps_its_size() -> None:
    img = Image.new("L", (400, 100), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    photo = decode_photo(out.getvalue())
    assert (photo.width, photo.height) == (100, 400)
    assert photo.gray.shape == (400, 100)


def test_blank_and_blurred_pages_are_told_apart() -> None:
    blank = np.full((300, 400), 240, dtype=np.uint8)
    assert page_problem(Photo(blank, 400, 300)) is PageProblem.NO_TEXT
    page = render(["我们去商店买东西"]).filter(ImageFilter.GaussianBlur(6))
    blurred = np.asarray(page)
    assert page_problem(Photo(blurred, page.width, page.height)) is PageProblem.BLURRY
    sharp = np.asarray(render(["我们去商店买东西"]))
    assert page_problem(Photo(sharp, page.width, page.height)) is PageProblem.NO_TEXT
    assert page_problem(Photo(blank[:20, :30], 30, 20)) is PageProblem.TOO_SMALL


def test_edit_distance_and_cer() -> None:
    assert edit_distance("", "") == 0
    assert edit_distance("我喜欢", "") == 3
    assert edit_distance("我喜欢茶", "我欢喝茶") == 2
    assert edit_distance("kitten", "sitting") == 3
    s = score([("我喜欢茶", "我喜欢茶"), ("你好 吗", "你好吗"), ("今天", "明天")])
    assert (s.lines, s.errors, s.reference_chars, s.exact) == (3, 1, 9, 2)
    assert s.cer == pytest.approx(1 / 9)


# --- the real models ----------------------------------------------------------------------


def render(lines: list[str], size: tuple[int, int] = (900, 300), px: int = 40) -> Image.Image:
    font = ImageFont.truetype(str(FONT), px)
    img = Image.new("L", size, 245)
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(lines):
        draw.text((40, 40 + i * 2 * px), text, font=font, fill=25)
    return img


needs_font = pytest.mark.skipif(not FONT.exists(), reason="needs fonts-wqy-microhei")


@pytest.mark.model
@needs_font
def test_a_printed_line_is_read_exactly(ocr: LineOCR) -> None:
    page = ocr.read(png(render(["我喜欢喝茶，你呢？"])))
    assert [line.text for line in page.lines] == ["我喜欢喝茶，你呢？"]
    line = page.lines[0]
    assert len(line.char_confidences) == len(line.text)
    assert line.confidence > 0.9 and len(line.box) == 4
    assert (page.width, page.height) == (900, 300) and page.problem is None


@pytest.mark.model
@needs_font
def test_greedy_and_lexicon_decoding_agree_on_clear_print(ocr: LineOCR) -> None:
    greedy = LineOCR(decoding=LineDecoding.greedy())
    photo = png(render(["我们去商店买东西，一共三十块。"]))
    assert greedy.read(photo).text == ocr.read(photo).text == "我们去商店买东西，一共三十块。"


@pytest.mark.model
@needs_font
def test_a_two_line_page_comes_back_in_order(ocr: LineOCR) -> None:
    page = ocr.read(png(render(["今天天气很好", "我们去商店买东西"])))
    assert page.text == "今天天气很好\n我们去商店买东西"
    assert page.lines[0].box[0][1] < page.lines[1].box[0][1]


@pytest.mark.model
@needs_font
def test_rotated_and_upside_down_photos_are_read(ocr: LineOCR) -> None:
    img = render(["我们去商店买东西"])
    assert ocr.read(png(img.rotate(12, expand=True, fillcolor=245))).text == "我们去商店买东西"
    assert ocr.read(png(img.rotate(180))).text == "我们去商店买东西"


@pytest.mark.model
@needs_font
@pytest.mark.parametrize("angle", [180, 90, -90])
def test_a_page_turned_without_exif_keeps_its_line_order(ocr: LineOCR, angle: int) -> None:
    # Turned a quarter, its lines look like columns of vertical writing; upside down or
    # turned anticlockwise, every line needs turning the right way up and the page reads
    # from its other end.
    lines = ["今天天气很好", "我们去商店买东西", "一共三十块"]
    img = render(lines, size=(700, 300))
    page = ocr.read(png(img.rotate(angle, expand=True, fillcolor=245)))
    assert [line.text for line in page.lines] == lines


@pytest.mark.model
def test_a_blank_page_has_no_lines(ocr: LineOCR) -> None:
    page = ocr.read(png(Image.new("L", (800, 600), 240)))
    assert page.lines == () and page.problem is PageProblem.NO_TEXT


@pytest.mark.model
@needs_font
def test_a_crowded_page_is_capped_and_says_so(
    ocr: LineOCR, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "max_boxes", 3)
    page = ocr.read(
        png(render(["我们去", "商店买", "东西吃", "你好吗", "谢谢你"], size=(600, 500)))
    )
    assert page.truncated
    assert [line.text for line in page.lines] == ["我们去", "商店买", "东西吃"]


# Measured with `hanzi-bot bench ocr`: about 1% CER on these lines; the bound leaves room
# for other machines' floating point and for changes to the generator.
SYNTH_CER_BOUND = 0.05


@pytest.mark.model
@pytest.mark.slow
def test_synthetic_handwritten_lines_within_the_cer_bound(ocr: LineOCR) -> None:
    from recognition.linesynth import synth_lines

    samples = synth_lines(40, seed=3)
    pairs = [(s.text, ocr.read(s.image).text) for s in samples]
    result = score(pairs)
    assert result.cer <= SYNTH_CER_BOUND, pairs


@pytest.mark.model
@needs_font
async def test_the_reader_batches_photos_and_a_bad_one_fails_alone(ocr: LineOCR) -> None:
    reader = LineOCRReader(ocr, max_batch=4, max_wait_ms=20)
    try:
        good = png(render(["我喜欢喝茶"]))
        results = await asyncio.gather(
            reader.read(good), reader.read(b"garbage"), reader.read(good), return_exceptions=True
        )
    finally:
        await reader.close()
    assert isinstance(results[1], ImageRejected)
    assert [r.text for r in (results[0], results[2]) if not isinstance(r, BaseException)] == [
        "我喜欢喝茶",
        "我喜欢喝茶",
    ]


@pytest.mark.model
async def test_a_full_reader_queue_says_busy(ocr: LineOCR) -> None:
    reader = LineOCRReader(ocr, max_pending=1)
    blank = png(Image.new("L", (300, 200), 240))
    try:
        results = await asyncio.gather(
            reader.read(blank), reader.read(blank), return_exceptions=True
        )
    finally:
        await reader.close()
    assert any(isinstance(r, ServiceBusy) for r in results)


def test_lines_are_read_by_pp_ocr_v6_small_unless_it_is_missing(
    ocr: LineOCR, tmp_path: Path
) -> None:
    assert isinstance(ocr.recognizer, PPOCRRecognizer)
    assert ocr.recognizer.model_dir == MODEL_DIR.parent / "ppocr6" / "small"
    assert line_reader_dir(MODEL_DIR) == MODEL_DIR.parent / "ppocr6" / "small"
    # A models folder without it (an older checkout) reads with PP-OCRv4's own recognizer.
    older = tmp_path / "ppocr"
    older.mkdir()
    assert line_reader_dir(older) == older
