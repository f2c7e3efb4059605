"""`hanzi-bot ocr` and `hanzi-bot evaluate lines`, run as a user would, checked for their output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[2]
HANZI_BOT = ROOT / ".venv" / "bin" / "hanzi-bot"
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

pytestmark = [
    pytest.mark.model,
    pytest.mark.slow,
    pytest.mark.skipif(not FONT.exists(), reason="needs fonts-wqy-microhei"),
]


def hanzi_bot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANZI_")} | {
        "HANZI_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "HANZI_DATA_DIR": str(tmp_path / "data"),
    }
    command = [str(HANZI_BOT)] if HANZI_BOT.exists() else ["hanzi-bot"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )


def write_line(path: Path, text: str) -> Path:
    img = Image.new("L", (700, 160), 245)
    ImageDraw.Draw(img).text((30, 50), text, font=ImageFont.truetype(str(FONT), 40), fill=25)
    img.save(path)
    return path


def test_ocr_prints_the_text_or_json_with_boxes(tmp_path: Path) -> None:
    image = write_line(tmp_path / "line.png", "我们去商店买东西")
    plain = hanzi_bot(tmp_path, "ocr", str(image))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "我们去商店买东西\n"

    result = hanzi_bot(tmp_path, "ocr", str(image), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["width"], out["height"], out["truncated"], out["problem"]) == (
        700,
        160,
        False,
        None,
    )
    (line,) = out["lines"]
    assert line["text"] == "我们去商店买东西"
    assert 0.9 < line["confidence"] <= 1.0
    assert len(line["box"]) == 4 and all(len(p) == 2 for p in line["box"])
    assert len(line["char_confidences"]) == len(line["text"])


def test_evaluate_lines_prints_one_json_object(tmp_path: Path) -> None:
    folder = tmp_path / "lines"
    folder.mkdir()
    write_line(folder / "a.png", "我喜欢喝茶")
    write_line(folder / "b.png", "今天天气很好")
    (folder / "labels.tsv").write_text("a.png\t我喜欢喝茶\nb.png\t今天天气不好\n", "utf-8")
    result = hanzi_bot(tmp_path, "evaluate", "lines", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # exactly one object: anything else fails to parse
    assert out["lines"] == 2
    assert out["cer"] == pytest.approx(1 / 11, abs=1e-4)  # 很 for 不: 1 error in 11 characters
    assert out["line_exact"] == 0.5
    assert out["ms_per_line"] > 0

    missing = hanzi_bot(tmp_path, "evaluate", "lines", str(tmp_path), "--json")
    assert missing.returncode == 2 and "labels.tsv" in missing.stderr
