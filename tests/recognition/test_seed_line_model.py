"""The seed line model's plumbing: a tiny IR with the OMZ handwritten model's interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from config import SettingsError, load_settings
from recognition.runtime import ModelLoadError
from recognition.seedline import HEIGHT, WIDTH, SeedLineRecognizer, seed_line_tensor

CHARSET = "一二三"
STEPS = 125  # 2000 columns / 16


def build_model(path: Path, classes: int) -> Path:
    """(1, 1, 96, 2000) -> (125, 1, classes): each 16-column strip's mean gray m gives
    blank logit (m - 128) / 10 and class 1 logit (128 - m) / 10, every other class -10,
    so dark strips read as the charset's first character and light ones as blank."""
    import openvino as ov
    from openvino import opset13 as ops

    image = ops.parameter([1, 1, HEIGHT, WIDTH], np.float32, name="actual_input")
    pooled = ops.avg_pool(image, [1, 16], [0, 0], [0, 0], [HEIGHT, 16], exclude_pad=True)
    columns = ops.reshape(pooled, ops.constant(np.array([STEPS, 1], np.int64)), False)
    weights = np.zeros((1, classes), np.float32)
    weights[0, 0], weights[0, 1] = 0.1, -0.1
    bias = np.full((classes,), -10.0, np.float32)
    bias[0], bias[1] = -12.8, 12.8
    logits = ops.add(ops.matmul(columns, ops.constant(weights), False, False), ops.constant(bias))
    out = ops.reshape(logits, ops.constant(np.array([STEPS, 1, classes], np.int64)), False)
    model: Any = ov.Model([out], [image], "seed")
    xml = path / "seed.xml"
    ov.save_model(model, str(xml))
    return xml


def write_charset(path: Path, text: str) -> Path:
    charset = path / "charset.txt"
    charset.write_text("\n".join(text) + "\n", encoding="utf-8")
    return charset


def test_preprocessing_resizes_to_height_96_and_pads_with_the_edge_column() -> None:
    line = np.tile(np.arange(10, dtype=np.uint8) * 20 + 30, (48, 1))  # 48 x 10, left to right

    tensor = seed_line_tensor(line)

    assert tensor.shape == (1, 1, HEIGHT, WIDTH)
    assert tensor.dtype == np.float32
    # Raw gray values, not scaled to 0..1: the resized line is 20 columns wide.
    assert tensor.max() > 200.0
    assert np.array_equal(tensor[0, 0, :, 20:], np.repeat(tensor[0, 0, :, 19:20], WIDTH - 20, 1))
    assert not np.array_equal(tensor[0, 0, :, 0], tensor[0, 0, :, 19])


def test_preprocessing_caps_very_long_lines_at_2000_columns() -> None:
    rgb = np.full((10, 500, 3), 200, dtype=np.uint8)

    tensor = seed_line_tensor(rgb)

    assert tensor.shape == (1, 1, HEIGHT, WIDTH)
    assert np.allclose(tensor, 200.0)


def test_reads_a_synthetic_line_with_the_designed_weights(tmp_path: Path) -> None:
    recognizer = SeedLineRecognizer(
        build_model(tmp_path, len(CHARSET) + 1), write_charset(tmp_path, CHARSET)
    )
    line = np.full((48, 400), 255, dtype=np.uint8)  # resized to 96 x 800: 50 strips
    line[:, 40:80] = 0  # strips 5..9
    line[:, 200:240] = 0  # strips 25..29, apart from the first by blanks

    (result,) = recognizer.read_lines([line])

    assert result.text == "一一"
    assert result.steps == STEPS
    assert [(c.start, c.end) for c in result.chars] == [(5, 10), (25, 30)]
    assert all(c.confidence > 0.99 for c in result.chars)
    assert recognizer.read_lines([np.full((48, 400), 255, dtype=np.uint8)])[0].text == ""


def test_a_charset_of_the_wrong_size_is_refused_naming_both_numbers(tmp_path: Path) -> None:
    model = build_model(tmp_path, len(CHARSET) + 1)

    with pytest.raises(ModelLoadError) as info:
        SeedLineRecognizer(model, write_charset(tmp_path, "一二三四五"))

    assert "4 output classes" in str(info.value)
    assert "5 characters" in str(info.value)


def test_a_charset_line_with_several_characters_is_refused(tmp_path: Path) -> None:
    charset = tmp_path / "charset.txt"
    charset.write_text("一\n二三\n", encoding="utf-8")

    with pytest.raises(ModelLoadError, match="line 2"):
        SeedLineRecognizer(build_model(tmp_path, 3), charset)


def test_a_missing_line_model_file_is_one_readable_settings_error(tmp_path: Path) -> None:
    charset = write_charset(tmp_path, CHARSET)
    env = {"HANZI_LINE_MODEL": str(tmp_path / "absent.xml"), "HANZI_LINE_CHARSET": str(charset)}

    with pytest.raises(SettingsError) as info:
        load_settings(env)

    message = str(info.value)
    assert message.startswith("HANZI_LINE_MODEL:")
    assert "absent.xml" in message
    assert "does not exist" in message
    assert "\n" not in message
    assert "HANZI_LINE_CHARSET" not in message


def test_the_line_model_needs_its_charset(tmp_path: Path) -> None:
    model = build_model(tmp_path, len(CHARSET) + 1)

    with pytest.raises(SettingsError, match="HANZI_LINE_CHARSET"):
        load_settings({"HANZI_LINE_MODEL": str(model)})

    settings = load_settings(
        {"HANZI_LINE_MODEL": str(model), "HANZI_LINE_CHARSET": str(write_charset(tmp_path, "x"))}
    )
    assert settings.line_model == model


@pytest.mark.model
async def test_the_bot_and_the_cli_read_lines_with_the_seed_model_when_set(
    tmp_path: Path,
) -> None:
    from bot.app import load_reader
    from bot.cli import _line_ocr

    model = build_model(tmp_path, len(CHARSET) + 1)
    settings = load_settings(
        {
            "HANZI_LINE_MODEL": str(model),
            "HANZI_LINE_CHARSET": str(write_charset(tmp_path, CHARSET)),
        }
    )

    reader = load_reader(settings, None)
    assert reader is not None
    try:
        assert isinstance(reader.ocr.recognizer, SeedLineRecognizer)
    finally:
        await reader.close()
    assert isinstance(_line_ocr(settings).recognizer, SeedLineRecognizer)
