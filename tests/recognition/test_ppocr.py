"""The committed PP-OCRv4 recognizer reads printed lines and classifies single characters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from recognition.ppocr import (
    LINE_MIN_WIDTH,
    LINE_WIDTH_STEP,
    MODEL_DIR,
    SAME_STROKES,
    CharsetMismatch,
    PPOCRRecognizer,
    _stack,
    char_tensor,
    line_tensor,
)

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not FONT.exists(), reason="needs fonts-wqy-microhei"),
]


@pytest.fixture(scope="module")
def recognizer() -> PPOCRRecognizer:
    return PPOCRRecognizer()


def render(text: str, size: int = 40, rgb: bool = False) -> np.ndarray:
    font = ImageFont.truetype(str(FONT), size)
    left, top, right, bottom = font.getbbox(text)
    pad = size // 3
    image = Image.new("RGB" if rgb else "L", (right - left + 2 * pad, bottom - top + 2 * pad))
    image.paste("white", (0, 0, *image.size))
    ImageDraw.Draw(image).text((pad - left, pad - top), text, fill="black", font=font)
    return np.asarray(image, dtype=np.uint8)


def test_reads_a_printed_line_exactly(recognizer: PPOCRRecognizer) -> None:
    lines = ["我们学习汉语", "今天星期三", "你好"]
    images = [render(lines[0]), render(lines[1], 30, rgb=True), render(lines[2], 56)]
    results = recognizer.read_lines(images)
    assert [r.text for r in results] == lines
    assert all(r.confidence > 0.9 for r in results)
    assert [len(r.chars) for r in results] == [6, 5, 2]


def test_lines_are_padded_to_recurring_widths_and_read_the_same(
    recognizer: PPOCRRecognizer,
) -> None:
    widths = [130, 330, 700]
    tensors = [np.ones((3, 48, w), np.float32) for w in widths]
    for t, w in zip(tensors, widths, strict=True):
        assert _stack([t], LINE_MIN_WIDTH, LINE_WIDTH_STEP).shape[3] == max(
            LINE_MIN_WIDTH, -(-w // LINE_WIDTH_STEP) * LINE_WIDTH_STEP
        )
    assert _stack([tensors[1]], LINE_MIN_WIDTH).shape[3] == 330  # as before: no step
    assert _stack([np.ones((3, 48, 48), np.float32)], 48).shape[3] == 48  # characters
    # A line's own steps read the same symbols padded to the next multiple as to its width
    # (the probabilities move by a few hundredths: PP-OCRv4 looks along the whole line).
    line = line_tensor(render("今天星期三我们学习汉语"))
    padded = recognizer._engine.infer(_stack([line], LINE_MIN_WIDTH, LINE_WIDTH_STEP))
    exact = recognizer._engine.infer(_stack([line], LINE_MIN_WIDTH))
    steps = exact.shape[1]  # the steps of its own width (a step per 8 columns)
    assert padded.shape[1] > steps == line.shape[2] // 8
    assert np.array_equal(padded[0, :steps].argmax(-1), exact[0, :steps].argmax(-1))


def test_no_lines_no_work(recognizer: PPOCRRecognizer) -> None:
    assert recognizer.read_lines([]) == []


def test_char_probabilities_rank_the_written_character_first(
    recognizer: PPOCRRecognizer,
) -> None:
    charset = "我你他好人大天中学生"
    written = "好人学天"
    probs = recognizer.char_probabilities([render(c, 64) for c in written], charset)
    assert probs.shape == (len(written), len(charset))
    assert probs.dtype == np.float32
    assert "".join(charset[i] for i in probs.argmax(axis=1)) == written
    assert (probs.max(axis=1) > 0.5).all()


def test_a_character_outside_the_charset_scores_low(recognizer: PPOCRRecognizer) -> None:
    probs = recognizer.char_probabilities([render("龙", 64)], "我你他好人")
    assert probs.max() < 0.5


def test_a_small_faint_character_in_a_large_frame_still_reads(
    recognizer: PPOCRRecognizer,
) -> None:
    frame = np.full((200, 300), 250, dtype=np.uint8)
    glyph = render("学", 40)
    frame[20 : 20 + glyph.shape[0], 30 : 30 + glyph.shape[1]] = np.maximum(glyph, 170)
    assert char_tensor(frame).shape[1] == 48
    probs = recognizer.char_probabilities([frame], "我你学生")
    assert "我你学生"[int(probs.argmax())] == "学"


def test_characters_it_cannot_read_are_refused(recognizer: PPOCRRecognizer) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        recognizer.char_probabilities([render("我")], "我😀")


def test_a_keys_file_that_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    keys = (MODEL_DIR / "ppocr_keys_v1.txt").read_text("utf-8").splitlines()
    short = tmp_path / "keys.txt"
    short.write_text("\n".join(keys[:-1]) + "\n", "utf-8")
    with pytest.raises(CharsetMismatch, match="6625 output classes"):
        PPOCRRecognizer(keys_path=short)


def test_blank_paper_scores_low_for_every_character(recognizer: PPOCRRecognizer) -> None:
    probs = recognizer.char_probabilities([np.full((64, 64), 240, np.uint8)], "我你他好人")
    assert probs.max() < 0.5


def test_the_other_column_is_the_best_character_outside_the_charset() -> None:
    """千 printed: the readers know it, so "another character" is high; 十 printed: low."""
    tiny = PPOCRRecognizer(MODEL_DIR.parent / "ppocr6" / "tiny")
    charset = "十人大"
    images = [render("千", 64), render("十", 64)]
    plain = tiny.char_probabilities(images, charset)
    probs = tiny.char_probabilities(images, charset, other=True)
    assert probs.shape == (2, len(charset) + 1)
    np.testing.assert_array_equal(probs[:, :-1], plain)  # the charset's columns unchanged
    (qian_other, shi_other) = probs[:, -1]
    assert qian_other > 0.5 > shi_other
    # It is the best step's best non-charset Chinese character, and never one of the
    # charset's own symbols (the "+" counted for 十) or a Latin letter.
    steps = tiny.step_probabilities(images)
    mask = np.array([False] + [c >= "\u4e00" and c <= "\u9fff" for c in tiny.labels])
    mask[[tiny._index[c] for c in charset]] = False
    for row, step in zip(probs, steps, strict=True):
        assert np.isclose(row[-1], step[:, mask].max(), atol=1e-6)


def test_a_symbol_with_the_same_strokes_counts_for_its_character() -> None:
    # PP-OCRv6 tiny knows Latin text: a cross drawn like a handwritten 十 is often "+".
    tiny = PPOCRRecognizer(MODEL_DIR.parent / "ppocr6" / "tiny")
    image = Image.new("L", (96, 96), 255)
    draw = ImageDraw.Draw(image)
    draw.line((14, 50, 82, 46), fill=0, width=7)
    draw.line((47, 12, 49, 86), fill=0, width=7)
    cross = np.asarray(image, dtype=np.uint8)
    [steps] = tiny.step_probabilities([cross])
    plus = [tiny._index[s] for s in SAME_STROKES["十"] if s in tiny._index]
    assert plus, "the dictionary has none of 十's symbols"
    shi = tiny._index["十"]
    [[score, ren]] = tiny.char_probabilities([cross], "十人")
    assert np.isclose(score, (steps[:, shi] + steps[:, plus].sum(axis=1)).max(), atol=1e-6)
    # The symbol's share is what lifts 十 here; no other character gains from it.
    assert score > steps[:, shi].max() + 0.05
    assert np.isclose(ren, steps[:, tiny._index["人"]].max(), atol=1e-6)


def test_a_gray_character_is_prepared_as_its_rgb_copy_would_be() -> None:
    gray = render("好", 64)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    assert np.array_equal(char_tensor(gray), char_tensor(rgb))
