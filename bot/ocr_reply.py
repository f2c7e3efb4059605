"""The answer to an OCR photo: the text, its pinyin, the HSK words in it and the boxes drawn."""

from __future__ import annotations

import io
import re
import unicodedata
import warnings

from PIL import Image, ImageDraw, ImageFont, ImageOps
from pypinyin import Style, lazy_pinyin

from bot.i18n import t
from bot.messages import Reply, ReplyImage
from quizzes.hsk import Vocabulary, Word
from recognition.api import PageProblem, TextLine, TextPage

# Characters the recognizer was less sure of than this are marked for the learner to check.
# On 150 synthetic handwritten lines (recognition/linesynth.py, seed 7) every one of the 16
# misread characters scored below 0.71, and about 3% of the 1,038 read right fell below 0.75.
LOW_CONFIDENCE = 0.75
MAX_WORDS = 30  # the HSK word list under a page of notes stays readable
DRAW_MAX_SIDE = 1280  # the annotated photo is sent back; phones show no more than this
BOX_COLOUR = (220, 40, 40)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def marked(line: TextLine, threshold: float = LOW_CONFIDENCE) -> str:
    """The line's text with each doubtful character in [brackets]."""
    if len(line.char_confidences) != len(line.text):
        return line.text
    return "".join(
        f"[{ch}]" if conf < threshold else ch
        for ch, conf in zip(line.text, line.char_confidences, strict=True)
    )


def has_doubts(line: TextLine, threshold: float = LOW_CONFIDENCE) -> bool:
    return any(c < threshold for c in line.char_confidences)


def pinyin(text: str) -> str:
    """Tone-marked pinyin, a syllable per character; other characters kept as written.

    Each run of Chinese characters is converted as a whole so that pypinyin can use its
    phrase readings (the 了 of 了解 is not the 了 after a verb).
    """
    parts: list[str] = []

    def other(chunk: str) -> None:
        chunk = chunk.strip()
        if not chunk:
            return
        # Punctuation stays on the syllable before it, as it sits on the character.
        if parts and unicodedata.category(chunk[0]).startswith("P"):
            parts[-1] += chunk
        else:
            parts.append(chunk)

    at = 0
    for run in _HAN.finditer(text):
        other(text[at : run.start()])
        parts.extend(lazy_pinyin(run.group(), style=Style.TONE))
        at = run.end()
    other(text[at:])
    return " ".join(parts)


def hsk_words(page: TextPage, vocabulary: Vocabulary) -> list[Word]:
    """HSK words in the text, each once, in order of first appearance."""
    seen: dict[str, Word] = {}
    for line in page.lines:
        for word in vocabulary.words_in(line.text):
            seen.setdefault(word.hanzi, word)
    return list(seen.values())


def _nothing_read(problem: PageProblem | None, lang: str) -> str:
    # Literal keys, so the catalog test can see that each one exists.
    if problem is PageProblem.BLURRY:
        return t("ocr.blurry", lang)
    if problem is PageProblem.TOO_SMALL:
        return t("ocr.too_small", lang)
    return t("ocr.no_text", lang)


def format_page(page: TextPage, vocabulary: Vocabulary, lang: str) -> str:
    """The numbered lines with pinyin under each, the HSK words, and notes on what to check."""
    if not page.lines:
        return _nothing_read(page.problem, lang)
    out = [t("ocr.header", lang, count=len(page.lines), plural="" if len(page.lines) == 1 else "s")]
    for number, line in enumerate(page.lines, start=1):
        out.append(t("ocr.line", lang, number=number, text=marked(line)))
        out.append(t("ocr.pinyin", lang, pinyin=pinyin(line.text)))
    if any(has_doubts(line) for line in page.lines):
        out.append(t("ocr.doubtful", lang))
    if page.truncated:
        out.append(t("ocr.truncated", lang, count=len(page.lines)))
    words = hsk_words(page, vocabulary)
    if words:
        out.append("")
        out.append(t("ocr.words_header", lang, count=len(words)))
        for word in words[:MAX_WORDS]:
            out.append(t("ocr.word", lang, hanzi=word.hanzi, pinyin=word.pinyin, gloss=word.gloss))
        if len(words) > MAX_WORDS:
            out.append(t("ocr.more_words", lang, count=len(words) - MAX_WORDS))
        out.append(t("ocr.credit", lang))
    return "\n".join(out)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # an old Pillow without a scalable default font
        return ImageFont.load_default()


def draw_boxes(photo: bytes, page: TextPage) -> bytes:
    """The photo, upright and at most DRAW_MAX_SIDE a side, with each line's box outlined and
    numbered as in the text reply; PNG."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(photo)) as img:
            img.draft("RGB", (DRAW_MAX_SIDE, DRAW_MAX_SIDE))
            upright = ImageOps.exif_transpose(img).convert("RGB")
    upright.thumbnail((DRAW_MAX_SIDE, DRAW_MAX_SIDE), Image.Resampling.BILINEAR)
    sx = upright.width / max(1, page.width or upright.width)
    sy = upright.height / max(1, page.height or upright.height)
    draw = ImageDraw.Draw(upright)
    stroke = max(2, round(max(upright.size) / 400))
    font = _font(max(12, round(max(upright.size) / 45)))
    for number, line in enumerate(page.lines, start=1):
        if len(line.box) != 4:
            continue
        points = [(x * sx, y * sy) for x, y in line.box]
        draw.polygon(points, outline=BOX_COLOUR, width=stroke)
        x, y = points[0]
        label = str(number)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        # The number sits just above the box's top-left corner, on a filled tag so it
        # stays legible on any paper.
        tag_x, tag_y = max(0.0, x), max(0.0, y - (bottom - top) - 2 * stroke)
        draw.rectangle(
            (tag_x, tag_y, tag_x + right - left + 2 * stroke, tag_y + bottom - top + 2 * stroke),
            fill=BOX_COLOUR,
        )
        draw.text((tag_x + stroke - left, tag_y + stroke - top), label, fill="white", font=font)
    out = io.BytesIO()
    upright.save(out, "PNG", optimize=False)
    return out.getvalue()


def ocr_replies(page: TextPage, photo: bytes, vocabulary: Vocabulary, lang: str) -> list[Reply]:
    """Nothing read: one reply saying why. Otherwise the plain text on its own, easy to copy,
    then the annotated photo with the pinyin, the HSK words and what to check."""
    if not page.lines:
        return [Reply(text=format_page(page, vocabulary, lang))]
    image = ReplyImage(draw_boxes(photo, page), filename="ocr-lines.png")
    return [
        Reply(text=page.text),
        Reply(text=format_page(page, vocabulary, lang), image=image),
    ]
