"""Measuring line OCR: character error rate on labelled images, and a benchmark against RapidOCR."""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recognition.api import TextPage

LABELS = "labels.tsv"
Gray = npt.NDArray[np.uint8]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions each cost one."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalise(text: str) -> str:
    """Text as compared: whitespace carries no meaning in Chinese, and line breaks between
    detected boxes are the layout's, not the writer's."""
    return "".join(text.split())


@dataclass(frozen=True, slots=True)
class Scores:
    lines: int
    errors: int  # summed edit distances
    reference_chars: int
    exact: int

    @property
    def cer(self) -> float:
        return self.errors / max(1, self.reference_chars)

    @property
    def line_exact(self) -> float:
        return self.exact / max(1, self.lines)

    def figures(self, seconds: float) -> dict[str, Any]:
        """The headline figures, with ``seconds`` spent reading all the lines."""
        return {
            "lines": self.lines,
            "cer": round(self.cer, 4),
            "line_exact": round(self.line_exact, 4),
            "ms_per_line": round(1000 * seconds / max(1, self.lines), 1),
        }


def score(pairs: Sequence[tuple[str, str]]) -> Scores:
    """Summed over (reference, hypothesis) pairs, so long lines weigh more than short ones."""
    errors = chars = exact = 0
    for reference, hypothesis in pairs:
        ref, hyp = normalise(reference), normalise(hypothesis)
        distance = edit_distance(ref, hyp)
        errors += distance
        chars += len(ref)
        exact += distance == 0
    return Scores(len(pairs), errors, chars, exact)


def read_labels(folder: Path) -> list[tuple[Path, str]]:
    """``labels.tsv``: a file name, a tab and the true text, one image a line."""
    path = folder / LABELS
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: expected 'file name<TAB>text' lines")
    items: list[tuple[Path, str]] = []
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        name, sep, text = raw.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected a file name, a tab and the text")
        items.append((folder / name, text))
    return items


def evaluate_lines(read: Callable[[bytes], TextPage], folder: Path) -> dict[str, Any]:
    """Read every labelled image and score the text against its label."""
    items = read_labels(folder)
    pairs: list[tuple[str, str]] = []
    failed = 0
    elapsed = 0.0
    for path, reference in items:
        data = path.read_bytes()
        started = time.perf_counter()
        try:
            hypothesis = read(data).text
        except Exception:  # an unreadable image is scored as read as nothing
            failed += 1
            hypothesis = ""
        elapsed += time.perf_counter() - started
        pairs.append((reference, hypothesis))
    s = score(pairs)
    return s.figures(elapsed) | {
        "errors": s.errors,
        "reference_chars": s.reference_chars,
        "failed": failed,
    }


# --- benchmark --------------------------------------------------------------------------


def _rapidocr() -> tuple[Callable[[Gray], str] | None, str]:
    """RapidOCR's own pipeline (dev extra only), or None and why it is missing."""
    try:
        module: Any = importlib.import_module("rapidocr_onnxruntime")
        engine = module.RapidOCR()
    except Exception as exc:  # ImportError, or opencv missing a system library
        return None, f"{type(exc).__name__}: {exc}"

    def read(gray: Gray) -> str:
        result, _ = engine(np.repeat(gray[:, :, None], 3, axis=2))
        return "".join(str(item[1]) for item in result or [])

    return read, ""


def _timed(read: Callable[[Gray], str], images: Sequence[Gray]) -> tuple[list[str], float]:
    read(images[0])  # the first call pays for lazy allocations: not part of the figure
    started = time.perf_counter()
    texts = [read(image) for image in images]
    return texts, time.perf_counter() - started


def bench_ocr(model_dir: Path, *, lines: int = 100, seed: int = 0) -> dict[str, Any]:
    """Synthetic handwritten lines read one photo at a time by our pipeline and by RapidOCR's,
    in the same run so the machine's load affects both alike."""
    from recognition.lines import LineOCR
    from recognition.linesynth import synth_lines

    samples = synth_lines(lines, seed)
    images = [s.image for s in samples]
    references = [s.text for s in samples]
    ocr = LineOCR(model_dir)
    ours_text, ours_s = _timed(lambda g: ocr.read(g).text, images)
    ours = score(list(zip(references, ours_text, strict=True)))
    out: dict[str, Any] = {
        "lines": lines,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ours": {
            "cer": round(ours.cer, 4),
            "line_exact": round(ours.line_exact, 4),
            "lines_per_s": round(lines / ours_s, 2),
            "ms_per_line": round(1000 * ours_s / lines, 1),
        },
    }
    rapid, why = _rapidocr()
    if rapid is None:
        out["rapidocr"] = f"skipped: {why}"
        return out
    theirs_text, theirs_s = _timed(rapid, images)
    theirs = score(list(zip(references, theirs_text, strict=True)))
    out["rapidocr"] = {
        "cer": round(theirs.cer, 4),
        "line_exact": round(theirs.line_exact, 4),
        "lines_per_s": round(lines / theirs_s, 2),
        "ms_per_line": round(1000 * theirs_s / lines, 1),
    }
    out["speed_ratio"] = round(theirs_s / ours_s, 2)  # > 1: ours is faster
    return out


def print_bench(result: dict[str, Any]) -> None:
    """A few readable lines, then the whole result as one JSON line for scripts."""
    ours = result["ours"]
    print(f"lines: {result['lines']} synthetic handwritten lines, one photo at a time")
    print(
        f"ours:     CER {ours['cer']:.2%}  exact {ours['line_exact']:.0%}  "
        f"{ours['lines_per_s']:.1f} lines/s  {ours['ms_per_line']:.0f} ms/line"
    )
    rapid = result["rapidocr"]
    if isinstance(rapid, str):
        print(f"rapidocr: {rapid}")
    else:
        print(
            f"rapidocr: CER {rapid['cer']:.2%}  exact {rapid['line_exact']:.0%}  "
            f"{rapid['lines_per_s']:.1f} lines/s  {rapid['ms_per_line']:.0f} ms/line"
        )
        print(f"speed ratio (ours / rapidocr, lines per second): {result['speed_ratio']:.2f}x")
    print(json.dumps(result, ensure_ascii=False))
