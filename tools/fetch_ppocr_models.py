"""Fetch PaddleOCR's PP-OCRv4 Chinese ONNX models from the rapidocr wheel and convert them to
OpenVINO IR in models/ppocr/ (run from the repository root: python tools/fetch_ppocr_models.py)."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recognition.ppocr import PPOCRRecognizer  # noqa: E402

PACKAGE = "rapidocr-onnxruntime"
VERSION = "1.4.4"
OUT = ROOT / "models" / "ppocr"

# name in models/ppocr -> (path inside the wheel, sha256 of that file)
SOURCES = {
    "det": (
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    ),
    "rec": (
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    ),
    "cls": (
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
}
# The wheel has no keys file: rapidocr reads the dictionary from the rec model's ONNX
# metadata ("character"), which holds ppocr_keys_v1.txt's 6,623 lines.
KEYS_SHA256 = "a1c84d9bdb9ab29043c58896224d32941783eb821629618416dcb08f12886492"
KEYS_COUNT = 6623
# The canonical text of https://www.apache.org/licenses/LICENSE-2.0.txt.
APACHE_SHA256 = "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"

# Fixed input shapes where the models allow them: lines are 48 high, the orientation
# classifier reads 48 x 192; batch and width stay free.
SHAPES = {"det": None, "rec": [-1, 3, 48, -1], "cls": [-1, 3, 48, 192]}

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
CHECK_LINES = (
    "我们学习汉语",
    "今天星期三，天气很好。",
    "你叫什么名字？",
    "我想去北京看看我的朋友",
    "这个苹果多少钱",
    "HSK 1 考试 2026年",
    "他在医院工作了十五年",
    "请坐，喝杯茶吧",
)

README_MARK = "<!-- measurements -->"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(dest: Path, package: str = PACKAGE, version: str = VERSION) -> Path:
    """``package==version``'s wheel (no dependencies), downloaded into ``dest``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"{package}=={version}",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(dest),
        ],
        check=True,
    )
    # Wheel file names spell the project name with underscores.
    (wheel,) = dest.glob(f"{package.replace('-', '_')}-*.whl")
    return wheel


# --- the ONNX metadata, read with a few lines of protobuf decoding (no onnx package) ---


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """Top-level (field number, wire type, value) triples of a protobuf message."""
    out: list[tuple[int, int, bytes | int]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: bytes | int
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def onnx_metadata(path: Path) -> dict[str, str]:
    """ModelProto.metadata_props (field 14): StringStringEntryProto key (1) / value (2)."""
    meta: dict[str, str] = {}
    for number, wire, value in _fields(path.read_bytes()):
        if number == 14 and wire == 2 and isinstance(value, bytes):
            entry = {n: v for n, _, v in _fields(value) if isinstance(v, bytes)}
            meta[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
    return meta


# --- licence ---


def find_apache_licence(wheel: zipfile.ZipFile) -> tuple[str, str]:
    """The Apache-2.0 text and where it came from: the wheel if it ships one, else an
    installed package's copy of the canonical text (openvino's, a runtime dependency)."""
    for name in wheel.namelist():
        if ".dist-info/" in name and Path(name).name.upper().startswith(("LICENSE", "COPYING")):
            text = wheel.read(name).decode("utf-8")
            if "Apache License" in text:
                return text, f"{PACKAGE} {VERSION} wheel: {name}"
    site = Path(sysconfig.get_paths()["purelib"])
    candidates = sorted(site.glob("openvino-*.dist-info/licenses/LICENSE*")) + sorted(
        site.glob("*.dist-info/**/LICENSE*")
    )
    for path in candidates:
        if path.is_file() and sha256(path) == APACHE_SHA256:
            return path.read_text("utf-8"), f"installed package: {path.relative_to(site)}"
    raise SystemExit("no copy of the Apache-2.0 licence text found in site-packages")


# --- conversion and the FP16 check ---


@dataclass(frozen=True)
class Check:
    name: str
    fp16: bool
    note: str


def convert(ov: Any, onnx: Path, xml: Path, fp16: bool, shape: list[int] | None) -> None:
    model = ov.Core().read_model(str(onnx))
    if shape is not None:
        model.reshape({model.input(0): ov.PartialShape(shape)})
    xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(xml), compress_to_fp16=fp16)


def font_path() -> str:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise SystemExit("no CJK font found: apt-get install fonts-wqy-microhei")


def render_line(text: str, font: ImageFont.FreeTypeFont, size: int = 40) -> np.ndarray:
    left, top, right, bottom = font.getbbox(text)
    pad = size // 4
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=0, font=font)
    return np.asarray(image, dtype=np.uint8)


def check_rec(fp32_dir: Path, fp16_dir: Path) -> Check:
    """FP16 is kept only if it reads every check line exactly as FP32 does."""
    lines: list[tuple[str, np.ndarray]] = []
    for index in (0, 1):
        for size in (28, 40, 64):
            font = ImageFont.truetype(font_path(), size, index=index)
            lines += [(t, render_line(t, font, size)) for t in CHECK_LINES]
    reads = {}
    for label, folder in (("fp32", fp32_dir), ("fp16", fp16_dir)):
        recognizer = PPOCRRecognizer(folder)
        reads[label] = recognizer.read_lines([im for _, im in lines])
    exact32 = sum(r.text == t for (t, _), r in zip(lines, reads["fp32"], strict=True))
    exact16 = sum(r.text == t for (t, _), r in zip(lines, reads["fp16"], strict=True))
    same = sum(a.text == b.text for a, b in zip(reads["fp32"], reads["fp16"], strict=True))
    drift = max(
        abs(x - y)
        for a, b in zip(reads["fp32"], reads["fp16"], strict=True)
        if a.text == b.text
        for x, y in zip(a.confidences, b.confidences, strict=True)
    )
    ok = same == len(lines)
    note = (
        f"{len(lines)} rendered lines (2 fonts x 3 sizes): FP32 reads {exact32} exactly, "
        f"FP16 {exact16}; FP16 and FP32 agree on {same}; largest change in a character's "
        f"confidence {drift:.4f}"
    )
    return Check("rec", ok, note)


def check_image_model(ov: Any, name: str, fp32: Path, fp16: Path) -> Check:
    """det: the text mask at PaddleOCR's threshold 0.3; cls: the chosen orientation."""
    font = ImageFont.truetype(font_path(), 40)
    core = ov.Core()
    models = [core.compile_model(str(p), "CPU") for p in (fp32, fp16)]
    if name == "det":
        page = Image.new("RGB", (640, 320), "white")
        draw = ImageDraw.Draw(page)
        for row, text in enumerate(CHECK_LINES[:5]):
            draw.text((20, 20 + 58 * row), text, fill="black", font=font)
        x = (np.asarray(page, np.float32).transpose(2, 0, 1)[None] / 127.5) - 1.0
        maps = [np.asarray(m(x)[0]) for m in models]
        changed = float(np.mean((maps[0] > 0.3) != (maps[1] > 0.3)))
        ok = changed < 0.001
        note = (
            f"text mask (prob > 0.3) differs on {changed:.5%} of pixels of a rendered page; "
            f"largest probability change {float(np.abs(maps[0] - maps[1]).max()):.4f}"
        )
        return Check(name, ok, note)
    batch = []
    for text in CHECK_LINES:
        line = Image.fromarray(render_line(text, font)).convert("RGB").resize((192, 48))
        for image in (line, line.rotate(180)):
            batch.append(np.asarray(image, np.float32).transpose(2, 0, 1) / 127.5 - 1.0)
    x = np.stack(batch)
    outs = [np.asarray(m(x)[0]) for m in models]
    agree = int((outs[0].argmax(1) == outs[1].argmax(1)).sum())
    correct = int((outs[1].argmax(1) == np.tile([0, 1], len(CHECK_LINES))).sum())
    ok = agree == len(batch)
    note = (
        f"{len(batch)} rendered lines upright and upside down: FP16 and FP32 choose the "
        f"same orientation for {agree}, FP16 right for {correct}; largest probability "
        f"change {float(np.abs(outs[0] - outs[1]).max()):.4f}"
    )
    return Check(name, ok, note)


# --- README ---


def write_readme(hashes: dict[str, str], checks: list[Check], licence_from: str) -> None:
    path = OUT / "README.md"
    kept = ""
    if path.exists():
        old = path.read_text("utf-8")
        if README_MARK in old:
            kept = old[old.index(README_MARK) :]
    precision = "\n".join(
        f"- `{c.name}`: {'FP16' if c.fp16 else 'FP32 (FP16 changed results)'}. {c.note}."
        for c in checks
    )
    sources = "\n".join(
        f"| `{name}.xml/.bin` | `{SOURCES[name][0]}` | `{hashes[name]}` |" for name in SOURCES
    )
    text = f"""# PP-OCRv4 Chinese models (OpenVINO IR)

PaddleOCR's PP-OCRv4 Chinese text models, converted to OpenVINO IR for the recognition
service, which must not depend on rapidocr or onnxruntime at run time. Since 2026-12-01
the bot reads text lines with PP-OCRv6 small (`models/ppocr6/`) and uses `rec` here only
when that folder is missing; `det` and `cls` are used as before.

- `det.xml/.bin`: DB text detector (input 1x3xHxW, H and W multiples of 32; output a text
  probability map).
- `rec.xml/.bin`: CTC line recognizer (input Nx3x48xW; output W/8 steps x 6625 class
  probabilities, already softmaxed: blank at 0, the 6,623 characters of
  `ppocr_keys_v1.txt` at 1..6623, a space at 6624). `recognition/ppocr.py` loads it.
- `cls.xml/.bin`: 0/180 degree text-line orientation classifier (input Nx3x48x192).
- `ppocr_keys_v1.txt`: the recognizer's dictionary, one character a line (sha256
  `{KEYS_SHA256}`), read from the rec model's ONNX metadata (`character`) because the
  wheel ships no keys file.
- `LICENSE-Apache-2.0.txt`: the licence of the models (from {licence_from}).

Inputs are BGR, normalised as (x / 255 - 0.5) / 0.5.

## Where from

The ONNX files in the PyPI wheel `{PACKAGE}=={VERSION}` (RapidOCR,
https://github.com/RapidAI/RapidOCR, Apache-2.0), which repackages the inference models
of PaddleOCR (https://github.com/PaddlePaddle/PaddleOCR, Apache-2.0).

| file here | source in the wheel | sha256 of the source |
|---|---|---|
{sources}

## Precision

Converted with `openvino.save_model(..., compress_to_fp16=True)` unless FP16 changed a
result against FP32 on the checks below (run by the fetch script):

{precision}

The rec model's FP16 disagreements were spaces FP32 itself was unsure of (confidence
0.55-0.61); every Chinese character read the same. On the real handwriting sample below,
an FP16 rec scored 80.5% top-1 against FP32's 81.2% and was no faster on the CPU (which
computes in FP32 either way), so rec stays FP32: 10.8 MB instead of 5.4 MB.

## Reproduce

```
python tools/fetch_ppocr_models.py
```

downloads the wheel with pip (`--no-deps`), checks the sha256 of every source file,
converts, repeats the precision checks and rewrites this file (keeping the measurements
below). `python tools/measure_ppocr_chars.py --write-readme` refreshes the measurements.

"""
    path.write_text(text + (kept or f"{README_MARK}\n"), "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of downloading it")
    args = parser.parse_args()

    import openvino as ov

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheel_path = args.wheel or download_wheel(tmp / "wheel")
        with zipfile.ZipFile(wheel_path) as wheel:
            hashes: dict[str, str] = {}
            for name, (member, expected) in SOURCES.items():
                onnx = tmp / f"{name}.onnx"
                onnx.write_bytes(wheel.read(member))
                hashes[name] = sha256(onnx)
                if hashes[name] != expected:
                    raise SystemExit(f"{member}: sha256 {hashes[name]}, expected {expected}")
            licence, licence_from = find_apache_licence(wheel)

        keys = onnx_metadata(tmp / "rec.onnx")["character"].splitlines()
        keys_text = "\n".join(keys) + "\n"
        keys_hash = hashlib.sha256(keys_text.encode()).hexdigest()
        if len(keys) != KEYS_COUNT or keys_hash != KEYS_SHA256:
            raise SystemExit(f"keys: {len(keys)} lines, sha256 {keys_hash}")

        checks: list[Check] = []
        staged = {p: tmp / p for p in ("fp32", "fp16")}
        for name in SOURCES:
            for label, folder in staged.items():
                convert(
                    ov, tmp / f"{name}.onnx", folder / f"{name}.xml", label == "fp16", SHAPES[name]
                )
                (folder / "ppocr_keys_v1.txt").write_text(keys_text, "utf-8")
            if name == "rec":
                check = check_rec(staged["fp32"], staged["fp16"])
            else:
                check = check_image_model(
                    ov, name, staged["fp32"] / f"{name}.xml", staged["fp16"] / f"{name}.xml"
                )
            print(f"{name}: {'FP16' if check.fp16 else 'FP32'}: {check.note}")
            checks.append(check)

        OUT.mkdir(parents=True, exist_ok=True)
        for check in checks:
            folder = staged["fp16" if check.fp16 else "fp32"]
            for suffix in (".xml", ".bin"):
                shutil.copyfile(folder / f"{check.name}{suffix}", OUT / f"{check.name}{suffix}")
        (OUT / "ppocr_keys_v1.txt").write_text(keys_text, "utf-8")
        (OUT / "LICENSE-Apache-2.0.txt").write_text(licence, "utf-8")
        write_readme(hashes, checks, licence_from)
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
