"""tools/real_ink_lines.py: number words, the held-out writers, and a deterministic line set
in the layout `hanzi-bot evaluate lines` reads."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from recognition.ocr_eval import read_labels
from tests.conftest import REPO, load_tool

SHARED = REPO.parent / "shared" / "data" / "real-handwriting"
needs_shared = pytest.mark.skipif(
    not (SHARED / "chinese-mnist").is_dir(), reason="../shared real handwriting not available"
)


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool("real_ink_lines")


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (110, "一百一十"),
        (305, "三百零五"),
        (1008, "一千零八"),
        (3500, "三千五百"),
        (10005, "一万零五"),
        (100500, "十万零五百"),
        (320000, "三十二万"),
        (1000000, "一百万"),
        (100010000, "一亿零一万"),
        (760000000, "七亿六千万"),
    ],
)
def test_numbers_are_written_as_a_chinese_writer_would(
    tool: ModuleType, n: int, words: str
) -> None:
    assert tool.chinese_number(n) == words


def test_line_texts_are_two_to_ten_characters_the_data_has(tool: ModuleType) -> None:
    rng = np.random.default_rng(0)
    texts = [tool.line_text(rng) for _ in range(500)]
    assert all(2 <= len(t) <= 10 and set(t) <= set(tool.CHARS) for t in texts)
    assert texts == [tool.line_text(r) for r in [np.random.default_rng(0)] for _ in range(500)]


def test_only_writers_no_model_was_fine_tuned_on(tool: ModuleType) -> None:
    split = load_tool("transfer_experiment")
    assert set(tool.TEST_WRITERS).isdisjoint(split.FINE_TUNE_WRITERS)
    # Every writer after the fine-tuning ones: Chinese MNIST's writers end at 100.
    held_out = tool.TEST_WRITERS
    assert held_out == range(split.FINE_TUNE_WRITERS.stop, 101)


@needs_shared
def test_the_set_is_deterministic_held_out_and_in_the_evaluate_layout(
    tool: ModuleType, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    lines = tool.build(first, shared=SHARED, per_writer=2)
    tool.build(second, shared=SHARED, per_writer=2)
    assert len(lines) == 2 * len(tool.TEST_WRITERS)
    labelled = read_labels(first)  # what `hanzi-bot evaluate lines` reads
    assert [(p.name, t) for p, t in labelled] == [(ln.name, ln.text) for ln in lines]
    for path, text in labelled:
        assert path.read_bytes() == (second / path.name).read_bytes()
        with Image.open(path) as image:
            assert image.mode == "L"
        assert 2 <= len(text) <= 10
    for line in lines:
        # One writer per line, from the held-out side of the split.
        writers = {int(Path(s).name.split("_")[0][1:]) for s in line.sources}
        assert writers == {line.writer} and line.writer in tool.TEST_WRITERS
        assert [Path(s).parent.name for s in line.sources] == list(line.text)
