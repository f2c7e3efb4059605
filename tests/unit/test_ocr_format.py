"""The OCR answer a learner reads: text, pinyin, HSK words, doubtful characters, boxes drawn."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.i18n import t
from bot.ocr_reply import draw_boxes, format_page, marked, ocr_replies, pinyin
from quizzes.hsk import load_vocabulary
from recognition.api import PageProblem, TextLine, TextPage
from recognition.service import ServiceBusy
from tests.conftest import FakeChat

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
BOX = ((40.0, 40.0), (360.0, 40.0), (360.0, 90.0), (40.0, 90.0))


def line(text: str, confidences: list[float] | None = None) -> TextLine:
    confs = tuple(confidences or [0.99] * len(text))
    return TextLine(text, min(confs), BOX, confs)


def page_of(*lines: TextLine, **kw: object) -> TextPage:
    return TextPage(tuple(lines), 400, 300, **kw)  # type: ignore[arg-type]


class FakeReader:
    def __init__(self, result: TextPage | Exception) -> None:
        self.result = result
        self.seen = 0

    async def read(self, image: bytes) -> TextPage:
        self.seen += 1
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def photo_png(size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (240, 240, 235)).save(out, "PNG")
    return out.getvalue()


def test_pinyin_has_tone_marks_and_keeps_punctuation_with_its_syllable() -> None:
    assert pinyin("我喜欢喝茶，你呢？") == "wǒ xǐ huān hē chá， nǐ ne？"
    assert pinyin("12个") == "12 gè"


def test_doubtful_characters_are_bracketed() -> None:
    assert marked(line("我喜欢茶", [0.99, 0.3, 0.99, 0.7])) == "我[喜]欢[茶]"
    assert marked(line("你好")) == "你好"


def test_the_answer_has_text_pinyin_words_and_credit() -> None:
    text = format_page(
        page_of(line("我喜欢喝茶"), line("你好", [0.99, 0.4])), load_vocabulary(), "en"
    )
    rows = text.splitlines()
    assert rows[0] == t("ocr.header", "en", count=2, plural="s")
    assert rows[1] == "1. 我喜欢喝茶"
    assert rows[2].strip() == "wǒ xǐ huān hē chá"
    assert rows[3] == "2. 你[好]"
    assert rows[4].strip() == "nǐ hǎo"
    assert t("ocr.doubtful", "en") in rows
    assert any(r.startswith("喜欢 xǐhuan - to like") for r in rows)
    assert any(r.startswith("好 hǎo - ") for r in rows)
    assert rows[-1] == t("ocr.credit", "en") and "CC-CEDICT" in rows[-1]


def test_no_doubt_note_when_every_character_is_sure() -> None:
    text = format_page(page_of(line("我喜欢喝茶")), load_vocabulary(), "en")
    assert t("ocr.doubtful", "en") not in text


def test_a_capped_page_says_so() -> None:
    text = format_page(page_of(line("你好"), truncated=True), load_vocabulary(), "en")
    assert t("ocr.truncated", "en", count=1) in text


@pytest.mark.parametrize("problem", [None, *PageProblem])
def test_nothing_read_gets_one_clear_reply(problem: PageProblem | None) -> None:
    replies = ocr_replies(page_of(problem=problem), photo_png(), load_vocabulary(), "en")
    assert len(replies) == 1 and replies[0].image is None
    assert replies[0].text == t(f"ocr.{problem or 'no_text'}", "en")


def test_the_boxes_are_drawn_on_the_upright_photo() -> None:
    data = draw_boxes(photo_png((800, 600)), TextPage((line("你好"),), 400, 300))
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.size == (800, 600)
        rgb = img.convert("RGB")
        # The box was given in a 400 x 300 frame: drawn scaled to this photo's size.
        assert rgb.getpixel((400, 80)) != (240, 240, 235)
        assert rgb.getpixel((400, 300)) == (240, 240, 235)


async def test_ocr_through_the_core(make_core, chat: FakeChat) -> None:  # type: ignore[no-untyped-def]
    reader = FakeReader(page_of(line("我喜欢喝茶"), line("你好")))
    chat.core = make_core(reader=reader)
    replies = await chat.send("/ocr", photo=photo_png())
    assert replies[0].text == "我喜欢喝茶\n你好"
    assert "wǒ xǐ huān hē chá" in replies[1].text and "喜欢 xǐhuan" in replies[1].text
    assert replies[1].image is not None and replies[1].image.data.startswith(b"\x89PNG")
    assert reader.seen == 1


async def test_ocr_core_replies_for_bad_input_and_busy(make_core, chat: FakeChat) -> None:  # type: ignore[no-untyped-def]
    reader = FakeReader(ServiceBusy(retry_after=3))
    chat.core = make_core(reader=reader)
    assert await chat.text("ocr", photo=photo_png()) == t("ocr.busy", "en", seconds=3)
    assert await chat.text("/ocr", photo=b"not a photo") == t("photo.not_image", "en")
    assert reader.seen == 1
    chat.core = make_core(reader=FakeReader(page_of(problem=PageProblem.BLURRY)))
    assert await chat.text("/ocr", photo=photo_png()) == t("ocr.blurry", "en")


@pytest.mark.model
@pytest.mark.skipif(not FONT.exists(), reason="needs fonts-wqy-microhei")
async def test_a_rendered_photo_through_the_real_models(make_core, chat: FakeChat) -> None:  # type: ignore[no-untyped-def]
    from recognition.lines import LineOCRReader, shared_line_ocr

    img = Image.new("RGB", (900, 300), (245, 240, 230))
    font = ImageFont.truetype(str(FONT), 40)
    ImageDraw.Draw(img).text((40, 60), "我喜欢喝茶，你呢？", font=font, fill=(20, 20, 60))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    reader = LineOCRReader(shared_line_ocr())
    chat.core = make_core(reader=reader)
    try:
        replies = await chat.send("/ocr", photo=out.getvalue())
        assert replies[0].text == "我喜欢喝茶，你呢？"
        assert "wǒ xǐ huān hē chá" in replies[1].text
        assert "喝 hē - to drink" in replies[1].text
        assert replies[1].image is not None
        # A photo of blank paper (grain, no marks) has no text: a clear reply, no crash.
        rng = np.random.default_rng(0)
        paper = np.clip(225 + rng.normal(0, 4, (300, 400)), 0, 255).astype(np.uint8)
        blank = io.BytesIO()
        Image.fromarray(paper).save(blank, "JPEG")
        assert await chat.text("/ocr", photo=blank.getvalue()) == t("ocr.no_text", "en")
    finally:
        await reader.close()
