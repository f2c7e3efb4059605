"""Handwritten lines of real ink, composed from held-out writers' isolated characters.

Usage:
    python tools/real_ink_lines.py build [--out .cache/real-ink-lines] [--per-writer 12]
        [--seed 2026] [--vertical]   (--vertical: to .cache/real-ink-columns by default)
    python tools/real_ink_lines.py measure [--dir .cache/real-ink-lines] [--synth 300]
        [--variants greedy,+hsk1-lexicon,...] [--rapidocr]

We have no photos of real handwritten lines, but ``../shared/data/real-handwriting`` holds
Chinese MNIST: 15 number characters (零一二三四五六七八九十百千万亿), 10 samples each from
every writer. ``build`` writes lines of 2-10 characters, each line from ONE writer's
samples (as a person writes a line), as number words (五百六十七, 一千零八, 三万二千),
years (二零二六) and digit strings (a phone number's digits), with a writer's spacing,
size wobble and baseline drift, on paper with light noise and sometimes a ruled line, to
a folder with ``labels.tsv`` in the format ``hanzi-bot evaluate lines`` reads. With
``--vertical`` the same texts are written as vertical writing instead: pages of 1-3
columns read top to bottom, right to left, labelled with the columns' texts in that order.

Held out: only writers 76-100 are used, the test side of the split in
``tools/transfer_experiment.py`` (writers 51-75 and CASIA files 1-299 may be fine-tuned
on). CASIA's 对 and 客 are not used: its files carry no writer id and each is one sample
of one writer, so no single-writer line of two or more characters can be made from them.

Nothing from ``../shared`` enters the repository: the images are regenerated under the
git-ignored ``.cache/`` (deterministic for a seed). ``hanzi-bot evaluate lines DIR`` reads
them with the default pipeline; ``measure`` reads them (and synthetic lines) with each step
of the improvements in turn, and with ``--rapidocr`` with RapidOCR's own pipeline. The
defaults were chosen on a second draw (``build --seed 7 --per-writer 40 --out
.cache/real-ink-dev``), the README's figures are from the first (seed 2026, 12 a writer).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "real-handwriting"
DEFAULT_OUT = ROOT / ".cache" / "real-ink-lines"
DEFAULT_COLUMNS = ROOT / ".cache" / "real-ink-columns"

# The test side of tools/transfer_experiment.py's writer split (FINE_TUNE_WRITERS = 51-75):
# no model may have been fine-tuned on these writers.
TEST_WRITERS = range(76, 101)
SEED = 2026
MNIST_NAME = re.compile(r"w(\d+)_s(\d+)\.png")
DIGITS = "零一二三四五六七八九"
CHARS = "零一二三四五六七八九十百千万亿"
LABELS = "labels.tsv"

Gray = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]


# --- texts ------------------------------------------------------------------------------


def _section(n: int) -> str:
    """0 < n < 10000 in words, with 零 for zeros between digits (一千零八, 三百零五)."""
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + unit
    return out


def chinese_number(n: int) -> str:
    """0 <= n < 10**12 as written in Chinese characters: 10005 is 一万零五, 15 is 十五."""
    if not 0 <= n < 10**12:
        raise ValueError(f"{n} is out of range")
    if n == 0:
        return "零"
    out = ""
    gap = False  # a whole zero section, or a section below 1000, after a written one
    for sec, unit in (((n // 10**8), "亿"), ((n // 10**4) % 10**4, "万"), (n % 10**4, "")):
        if sec == 0:
            gap = gap or bool(out)
            continue
        if out and (gap or sec < 1000):
            out += "零"
        out += _section(sec) + unit
        gap = False
    # 10-19 are said and written 十, 十一 ... not 一十, 一十一 at the start of a number.
    return out[1:] if out.startswith("一十") else out


def _number(rng: np.random.Generator) -> str:
    digits = int(rng.choice([2, 3, 4, 5, 6, 7, 9], p=[0.25, 0.25, 0.2, 0.12, 0.08, 0.06, 0.04]))
    n = int(rng.integers(10 ** (digits - 1), 10**digits))
    # Prices and counts are often round (三千五百, 两万): zero some trailing digits.
    keep = int(rng.integers(1, digits + 1))
    n -= n % 10 ** (digits - keep)
    return chinese_number(n)


def line_text(rng: np.random.Generator) -> str:
    """A number word, a year or a string of digits, 2-10 characters."""
    while True:
        kind = rng.random()
        if kind < 0.65:
            text = _number(rng)
        elif kind < 0.8:
            year = int(rng.integers(1950, 2031))
            text = "".join(DIGITS[int(d)] for d in str(year))
        else:
            length = int(rng.integers(3, 11))
            text = "".join(DIGITS[int(d)] for d in rng.integers(0, 10, length))
        if 2 <= len(text) <= 10:
            return text


# --- ink --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    path: Path
    char: str
    writer: int


def held_out_samples(shared: Path = SHARED) -> dict[int, dict[str, list[Sample]]]:
    """Chinese MNIST samples of the test writers: writer -> character -> samples."""
    out: dict[int, dict[str, list[Sample]]] = {}
    for char in CHARS:
        folder = shared / "chinese-mnist" / char
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is missing")
        for f in sorted(folder.glob("*.png")):
            m = MNIST_NAME.fullmatch(f.name)
            if m is None:
                raise ValueError(f"unexpected Chinese MNIST file name: {f}")
            writer = int(m.group(1))
            if writer in TEST_WRITERS:
                out.setdefault(writer, {}).setdefault(char, []).append(Sample(f, char, writer))
    return out


def _ink(path: Path) -> Floats:
    """The sample's darkness (0 paper .. 1 black) cropped to its ink with a little paper:
    the scan's own pencil or pen texture is kept as it is."""
    with Image.open(path) as image:
        dark = 1.0 - np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    ys, xs = np.nonzero(dark > 0.2 * max(dark.max(), 1e-6))
    if len(ys) == 0:
        return dark
    pad = 2
    y0, y1 = max(0, ys.min() - pad), min(dark.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(dark.shape[1], xs.max() + 1 + pad)
    out: Floats = dark[y0:y1, x0:x1]
    return out


def _resized(dark: Floats, scale: float) -> Floats:
    h, w = dark.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(np.round(dark * 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    return np.asarray(img, dtype=np.float64) / 255.0


def compose_line(inks: Sequence[Floats], rng: np.random.Generator) -> Gray:
    """One writer's glyphs set side by side as a line on paper, as a phone would see it."""
    em = float(np.median([max(d.shape) for d in inks]))
    scale = float(rng.uniform(28, 80)) / em  # the photo's resolution: 28-80 px characters
    size = em * scale
    spacing = float(rng.uniform(0.12, 0.5))  # the writer's habit, kept for the whole line
    wobble = float(rng.uniform(0.0, 0.06)) * size
    period = float(rng.uniform(3, 8))
    phase = float(rng.uniform(0, 2 * math.pi))
    glyphs = [_resized(d, scale * float(rng.uniform(0.9, 1.1))) for d in inks]
    gaps = [size * max(0.04, spacing + float(rng.normal(0, 0.06))) for _ in glyphs[1:]]
    margin = round(size * float(rng.uniform(0.4, 1.0)))
    width = round(sum(g.shape[1] for g in glyphs) + sum(gaps)) + 2 * margin + 2
    height = round(size * 1.6) + 2 * margin
    dark = np.zeros((height, width), dtype=np.float64)
    x = float(margin)
    mid = height / 2
    for k, g in enumerate(glyphs):
        gh, gw = g.shape
        # A baseline that drifts slowly along the line, plus each glyph's own jitter; the
        # glyph's ink centre sits on it (the forms' boxes centred each character).
        cy = mid + wobble * math.sin(phase + 2 * math.pi * k / period) + rng.normal(0, 0.03) * size
        top = min(max(0, round(cy - gh / 2)), height - gh)
        left = round(x)
        region = dark[top : top + gh, left : left + gw]
        # Overlapping strokes darken like ink on ink: transmittances multiply.
        region[:] = 1.0 - (1.0 - region) * (1.0 - g)
        x += gw + (gaps[k] if k < len(gaps) else 0.0)
    paper = _paper(dark, rng)
    if rng.random() < 0.35:
        # An exercise book's ruled line just under the writing.
        y = round(mid + size * float(rng.uniform(0.55, 0.75)))
        if y < height - 1:
            thick = int(rng.integers(1, 3))
            paper[y : y + thick] *= float(rng.uniform(0.72, 0.9))
    return _photo(paper, dark, rng)


def _paper(dark: Floats, rng: np.random.Generator) -> Floats:
    """Paper's brightness, with the uneven light across a phone photo of a page."""
    height, width = dark.shape
    paper = float(rng.uniform(0.84, 0.98)) * np.ones_like(dark)
    gx = np.linspace(-1, 1, width)[None, :] * float(rng.uniform(-0.05, 0.05))
    gy = np.linspace(-1, 1, height)[:, None] * float(rng.uniform(-0.03, 0.03))
    out: Floats = np.clip(paper + gx + gy, 0.6, 1.0)
    return out


def _photo(paper: Floats, dark: Floats, rng: np.random.Generator) -> Gray:
    """Ink on paper as a phone sees it: turned a little, a little blurred, with noise."""
    img = paper * (1.0 - dark)
    pil = Image.fromarray(np.round(255 * np.clip(img, 0, 1)).astype(np.uint8))
    pil = pil.rotate(
        float(rng.uniform(-2.5, 2.5)),
        Image.Resampling.BILINEAR,
        expand=True,
        fillcolor=round(255 * float(paper.mean())),
    )
    pil = pil.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 0.7))))
    arr = np.asarray(pil, dtype=np.float64) + rng.normal(
        0, float(rng.uniform(1.5, 4)), pil.size[::-1]
    )
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def compose_column(columns: Sequence[Sequence[Floats]], rng: np.random.Generator) -> Gray:
    """One writer's glyphs written down columns (vertical writing), the first column on the
    right, with the same habits as ``compose_line``: spacing, size, a column that drifts
    sideways, each glyph's own jitter."""
    em = float(np.median([max(d.shape) for inks in columns for d in inks]))
    scale = float(rng.uniform(28, 80)) / em
    size = em * scale
    spacing = float(rng.uniform(0.12, 0.5))
    wobble = float(rng.uniform(0.0, 0.06)) * size
    pitch = size * float(rng.uniform(1.4, 2.2))  # from one column's centre to the next
    margin = round(size * float(rng.uniform(0.4, 1.0)))
    placed: list[tuple[list[Floats], list[float]]] = []
    for inks in columns:
        glyphs = [_resized(d, scale * float(rng.uniform(0.9, 1.1))) for d in inks]
        gaps = [size * max(0.04, spacing + float(rng.normal(0, 0.06))) for _ in glyphs[1:]]
        placed.append((glyphs, gaps))
    height = round(max(sum(g.shape[0] for g in gl) + sum(gp) for gl, gp in placed)) + 2 * margin
    width = round(pitch * len(columns)) + 2 * margin + 2
    dark = np.zeros((height, width), dtype=np.float64)
    for n, (glyphs, gaps) in enumerate(placed):
        mid = width - margin - pitch * (n + 0.5)
        period = float(rng.uniform(3, 8))
        phase = float(rng.uniform(0, 2 * math.pi))
        y = float(margin)
        for k, g in enumerate(glyphs):
            gh, gw = g.shape
            cx = mid + wobble * math.sin(phase + 2 * math.pi * k / period)
            cx += rng.normal(0, 0.03) * size
            left = min(max(0, round(cx - gw / 2)), width - gw)
            top = min(round(y), height - gh)
            region = dark[top : top + gh, left : left + gw]
            region[:] = 1.0 - (1.0 - region) * (1.0 - g)
            y += gh + (gaps[k] if k < len(gaps) else 0.0)
    return _photo(_paper(dark, rng), dark, rng)


# --- the set ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    name: str
    text: str
    writer: int
    sources: tuple[str, ...]  # the samples used, relative to real-handwriting/


def _pick(
    text: str, mine: dict[str, list[Sample]], used: dict[Path, int], rng: np.random.Generator
) -> list[Sample]:
    """One of the writer's samples for each character, the least used first (so a writer's
    lines show all their samples), never one sample twice in a line while others are left."""
    chosen: list[Sample] = []
    for ch in text:
        pool = [s for s in mine[ch] if s not in chosen]
        if not pool:
            pool = list(mine[ch])
        low = min(used.get(s.path, 0) for s in pool)
        pool = [s for s in pool if used.get(s.path, 0) == low]
        choice = pool[int(rng.integers(len(pool)))]
        used[choice.path] = used.get(choice.path, 0) + 1
        chosen.append(choice)
    return chosen


def build(
    out: Path,
    *,
    shared: Path = SHARED,
    seed: int = SEED,
    per_writer: int = 12,
    vertical: bool = False,
) -> list[Line]:
    """Write ``per_writer`` lines for every held-out writer to ``out`` with ``labels.tsv``;
    the same seed and data give the same files. ``vertical`` writes pages of vertical
    writing instead: 1-3 columns read right to left, labelled with their texts in order."""
    samples = held_out_samples(shared)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    lines: list[Line] = []
    for writer in sorted(samples):
        mine = samples[writer]
        rng = np.random.default_rng([seed, writer, 1] if vertical else [seed, writer])
        used: dict[Path, int] = {}

        for k in range(per_writer):
            if vertical:
                texts = [line_text(rng) for _ in range(int(rng.integers(1, 4)))]
                columns = [_pick(t, mine, used, rng) for t in texts]
                image = compose_column([[_ink(s.path) for s in c] for c in columns], rng)
                text, chosen = "".join(texts), [s for c in columns for s in c]
            else:
                text = line_text(rng)
                chosen = _pick(text, mine, used, rng)
                image = compose_line([_ink(s.path) for s in chosen], rng)
            name = f"w{writer:03d}_{k:02d}.png"
            Image.fromarray(image).save(out / name, optimize=False)
            sources = tuple(s.path.relative_to(shared).as_posix() for s in chosen)
            lines.append(Line(name, text, writer, sources))
    (out / LABELS).write_text("".join(f"{ln.name}\t{ln.text}\n" for ln in lines), "utf-8")
    meta = {
        "seed": seed,
        "layout": "vertical columns, right to left" if vertical else "horizontal lines",
        "writers": f"Chinese MNIST w{TEST_WRITERS.start}-w{TEST_WRITERS.stop - 1} (held out)",
        "lines": len(lines),
        "characters": sum(len(ln.text) for ln in lines),
        "sources": {ln.name: ln.sources for ln in lines},
    }
    (out / "manifest.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
    return lines


# --- measuring --------------------------------------------------------------------------

# Each improvement on top of the one before; the last is LineOCR's default.
VARIANTS: dict[str, dict[str, Any]] = {
    "greedy": {"decoding": "greedy", "ink_gain": 1.0, "end_margin": 0.0, "min_line_score": 0.5},
    "+hsk1-lexicon": {
        "decoding": "hsk1",
        "ink_gain": 1.0,
        "end_margin": 0.0,
        "min_line_score": 0.5,
    },
    "+number-words": {"ink_gain": 1.0, "end_margin": 0.0, "min_line_score": 0.5},
    "+ink-contrast": {"end_margin": 0.0, "min_line_score": 0.5},
    "+line-ends": {"min_line_score": 0.5},
    "+min-score-0.3": {},
}


def _line_ocr(options: dict[str, Any]) -> Any:
    from recognition.lines import LineDecoding, LineOCR

    kwargs = dict(options)
    decoding = kwargs.pop("decoding", None)
    if decoding == "greedy":
        kwargs["decoding"] = LineDecoding.greedy()
    elif decoding == "hsk1":
        kwargs["decoding"] = LineDecoding(extra_words=())
    return LineOCR(**kwargs)


def _reader(ocr: Any) -> Callable[[Any], str]:
    def read(image: Any) -> str:
        return str(ocr.read(image).text)

    return read


def _score(read: Callable[[Any], str], items: Sequence[tuple[Any, str]]) -> dict[str, Any]:
    from recognition.ocr_eval import score

    read(items[0][0])  # the first call pays for lazy allocations: not part of the figure
    started = time.perf_counter()
    pairs = [(text, read(image)) for image, text in items]
    elapsed = time.perf_counter() - started
    return score(pairs).figures(elapsed)


def _rapidocr() -> Callable[[Any], str]:
    # Only in the dev extra, and untyped.
    engine = importlib.import_module("rapidocr_onnxruntime").RapidOCR()

    def read(image: Any) -> str:
        if isinstance(image, np.ndarray):
            image = np.repeat(image[:, :, None], 3, axis=2)
        result, _ = engine(image)
        return "".join(str(item[1]) for item in result or [])

    return read


def measure(
    folder: Path | None, *, synth: int, variants: Sequence[str], rapidocr: bool
) -> list[dict[str, Any]]:
    """CER, exact lines and ms/line of each variant of our pipeline (and of RapidOCR's own)
    on the real-ink lines in ``folder`` and on ``synth`` synthetic handwritten lines."""
    sys.path.insert(0, str(ROOT))
    from recognition.ocr_eval import read_labels

    sets: dict[str, list[tuple[Any, str]]] = {}
    if folder is not None:
        sets[f"real-ink {folder.name}"] = [(p.read_bytes(), t) for p, t in read_labels(folder)]
    if synth:
        from recognition.linesynth import synth_lines

        sets[f"synthetic seed 0 x{synth}"] = [(s.image, s.text) for s in synth_lines(synth, 0)]
    rows: list[dict[str, Any]] = []
    readers: list[tuple[str, Callable[[Any], str]]] = []
    for name in variants:
        readers.append((name, _reader(_line_ocr(VARIANTS[name]))))
    if rapidocr:
        readers.append(("rapidocr", _rapidocr()))
    for name, read in readers:
        for set_name, items in sets.items():
            row = {"set": set_name, "reader": name, **_score(read, items)}
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the lines and labels.tsv")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    b.add_argument("--shared", type=Path, default=SHARED)
    b.add_argument("--seed", type=int, default=SEED)
    b.add_argument("--per-writer", type=int, default=12)
    b.add_argument(
        "--vertical", action="store_true", help="pages of 1-3 columns read right to left"
    )
    m = sub.add_parser("measure", help="read the lines with our pipeline (and RapidOCR's)")
    m.add_argument("--dir", default=str(DEFAULT_OUT), help="the real-ink lines ('' for none)")
    m.add_argument("--synth", type=int, default=0, help="also this many synthetic lines")
    m.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    m.add_argument("--rapidocr", action="store_true", help="also RapidOCR's own pipeline")
    args = parser.parse_args(argv)
    if args.command == "build":
        started = time.perf_counter()
        out = DEFAULT_COLUMNS if args.vertical and args.out == DEFAULT_OUT else args.out
        lines = build(
            out,
            shared=args.shared,
            seed=args.seed,
            per_writer=args.per_writer,
            vertical=args.vertical,
        )
        chars = sum(len(ln.text) for ln in lines)
        print(
            f"{len(lines)} lines ({chars} characters) in {out} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        return 0
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}: choose from {', '.join(VARIANTS)}")
    folder = Path(args.dir) if args.dir else None
    rows = measure(folder, synth=args.synth, variants=variants, rapidocr=args.rapidocr)
    print("\n| set | reader | CER | exact lines | ms/line |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['set']} | {r['reader']} | {r['cer']:.2%} | {r['line_exact']:.1%} "
            f"| {r['ms_per_line']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
