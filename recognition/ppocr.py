"""PaddleOCR's line recognizers on OpenVINO (PP-OCRv6 small for text lines, PP-OCRv6 small
and tiny as the character model's second opinion, PP-OCRv4 where those are missing): text
lines and single characters."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from recognition.ctc import CTCResult, greedy_decode_batch
from recognition.runtime import load_openvino

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "ppocr"
# The recognizer that reads text lines, a folder of the models directory: PP-OCRv6 small
# read real handwritten lines with half PP-OCRv4's character errors (models/ppocr6/README.md).
LINE_READER = "ppocr6/small"
KEYS_FILE = "ppocr_keys_v1.txt"
# The dictionary of any other recognizer (models/ppocr6/*/), preferred when present.
KEYS_TXT = "keys.txt"
REC_FILE = "rec.xml"

# The recognizer was trained on 48-pixel-high lines; width follows the aspect ratio.
HEIGHT = 48
# PaddleOCR never feeds a line narrower than this (it pads short lines with grey), and
# the model was trained that way, so short lines read best at this width too.
LINE_MIN_WIDTH = 320
# Lines are padded to a multiple of this width. OpenVINO builds its kernels for each input
# shape it has not met yet (about 25 ms for this recognizer, against 10-15 ms for the
# reading), and every line width would be one: padded, the widths recur and their kernels
# are kept. On 160 synthetic lines and 20 column pages read one photo at a time, the same
# text (128: one column page read differently), 41.5 -> 30.5 ms a line in a fresh process.
LINE_WIDTH_STEP = 64
# A single character's ink square resized to 48 x 48, with no paper added either side:
# on real handwriting this beat 48 x 64..128 patches and smaller glyphs on top-1 and on
# rejecting non-HSK 1 characters
# (tools/measure_ppocr_chars.py --sweep; figures in models/ppocr/README.md).
CHAR_WIDTH = 48
# The character's ink square fills this much of the patch height.
CHAR_SCALE = 1.0
# Paper kept around the ink, as a fraction of the ink's larger side.
CHAR_MARGIN = 0.1
# The model's horizontal stride: one time step per 8 input columns.
STRIDE = 8
BLANK = 0
# Symbols written with the same strokes as a character: a line recognizer that knows
# Latin text often reads a handwritten 十 as "+" or 一 as "-" (PP-OCRv6 tiny read 116 of
# 300 real 十 as "+"), so for scoring single characters their probability counts for the
# character too (the sum per time step). Only shapes that are the same strokes, never
# letters or digits that merely resemble a character.
SAME_STROKES = {"一": "-—－_–―ー", "二": "=＝", "十": "+＋†", "口": "□"}


def is_ideograph(ch: str) -> bool:
    """A CJK unified ideograph (the basic block or extension A): a Chinese character."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


Image8 = npt.NDArray[np.uint8]
Batch = npt.NDArray[np.float32]


class CharsetMismatch(ValueError):
    """The keys file does not fit the model's output layer."""


class _Engine(Protocol):
    """What the recognizer needs from an inference runtime (recognition/runtime.py fits)."""

    def infer(self, batch: Batch) -> Batch: ...


class _OpenVINOEngine:
    """A compiled model behind a lock: one request, reused, safe to call from any thread."""

    def __init__(self, model: Any, device: str) -> None:
        self._compiled = load_openvino().Core().compile_model(model, device)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()

    def infer(self, batch: Batch) -> Batch:
        with self._lock:
            result = self._request.infer({0: batch})
            # Copy: the request reuses its output buffer on the next call.
            return np.array(result[0], dtype=np.float32)


def _read_model(path: Path) -> tuple[Any, int]:
    """The model and its number of output classes, without compiling it yet."""
    ov = load_openvino()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python tools/fetch_ppocr_models.py` to create it"
        )
    model = ov.Core().read_model(str(path))
    classes = model.output(0).get_partial_shape()[-1]
    if classes.is_dynamic:
        raise CharsetMismatch(f"{path} has a dynamic number of output classes")
    return model, int(classes.get_length())


def load_keys(path: Path) -> str:
    """The recognizer's labels in class order after the blank: the keys file, then a space."""
    keys = path.read_text("utf-8").splitlines()
    if any(len(k) != 1 for k in keys):
        raise CharsetMismatch(f"{path} must hold exactly one character per line")
    # PaddleOCR appends the space class after the dictionary when use_space_char is on.
    return "".join(keys) + " "


def _to_bgr(image: Image8) -> Image8:
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        # PaddleOCR reads images with OpenCV, so the model was trained on BGR.
        return np.ascontiguousarray(image[:, :, ::-1])
    raise ValueError(f"expected a gray (H, W) or RGB (H, W, 3) image, got {image.shape}")


def _resize(image: Image8, width: int, height: int) -> Image8:
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def _normalise(image: Image8) -> Batch:
    """HWC uint8 to CHW float in [-1, 1], as PaddleOCR's (x / 255 - 0.5) / 0.5."""
    chw = image.transpose(2, 0, 1).astype(np.float32)
    out: Batch = chw / 127.5 - 1.0
    return out


def line_tensor(image: Image8) -> Batch:
    """A text line resized to height 48 keeping its aspect ratio, as (3, 48, W)."""
    bgr = _to_bgr(image)
    h, w = bgr.shape[:2]
    width = max(1, math.ceil(HEIGHT * w / max(h, 1)))
    return _normalise(_resize(bgr, width, HEIGHT))


def _ink_square(gray: Image8, margin: float) -> Image8:
    """The character cropped to a square around its ink, contrast stretched, on white.

    Real handwriting is often faint pencil, small and off-centre in its frame; the
    recognizer was trained on dark, glyph-sized text, so this step alone moved top-1 on
    the real sample from about 70% to about 81% (models/ppocr/README.md).
    """
    g = gray.astype(np.float32)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    # The paper's brightness: most of the border is paper, a stroke may touch it.
    dark = np.clip(np.percentile(border, 75) - g, 0.0, None)
    peak = float(np.percentile(dark, 99.5))
    if peak <= 0.0:
        return np.full((1, 1), 255, dtype=np.uint8)
    dark = np.clip(dark / peak, 0.0, 1.0)
    ys, xs = np.nonzero(dark > 0.25)
    if len(ys) == 0:
        ys, xs = np.nonzero(dark > 0.0)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = max(y1 - y0, x1 - x0)
    pad = round(side * margin)
    full = side + 2 * pad
    square = np.zeros((full, full), dtype=np.float32)
    top = pad + (side - (y1 - y0)) // 2
    left = pad + (side - (x1 - x0)) // 2
    square[top : top + y1 - y0, left : left + x1 - x0] = dark[y0:y1, x0:x1]
    out: Image8 = np.round(255.0 * (1.0 - square)).astype(np.uint8)
    return out


def char_tensor(
    image: Image8, width: int = CHAR_WIDTH, scale: float = CHAR_SCALE, margin: float = CHAR_MARGIN
) -> Batch:
    """A single character, dark on light, as a short line: its ink cropped square, the
    square scaled to ``scale`` x 48 and centred on a white 48 x ``width`` patch (3, 48, W).

    The recognizer reads lines, so a lone character reads best when it looks like one
    glyph of a line rather than a frame stretched across the whole input.
    """
    if image.ndim == 2 and image.dtype == np.uint8:
        gray = image  # what the mean of its three equal channels would give, 1 ms sooner
    else:
        gray = _to_bgr(image).mean(axis=2).astype(np.uint8)
    square = _ink_square(gray, margin)
    box = max(1, min(width, round(HEIGHT * scale)))
    canvas = np.full((HEIGHT, width, 3), 255, dtype=np.uint8)
    top, left = (HEIGHT - box) // 2, (width - box) // 2
    canvas[top : top + box, left : left + box] = _resize(square, box, box)[:, :, None]
    return _normalise(canvas)


def _batches(tensors: Sequence[Batch], batch_size: int) -> list[list[int]]:
    """Indices grouped by similar width, so padding to the widest in a batch wastes little."""
    order = sorted(range(len(tensors)), key=lambda i: tensors[i].shape[2])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _stack(tensors: Sequence[Batch], min_width: int, step: int = 1) -> Batch:
    """The inputs as one batch, padded on the right to the widest, at least ``min_width``,
    rounded up to a multiple of ``step``."""
    # Zero is mid-grey after normalisation: the padding PaddleOCR trained with.
    width = max(min_width, *(t.shape[2] for t in tensors))
    width = -(-width // step) * step
    batch = np.zeros((len(tensors), 3, HEIGHT, width), dtype=np.float32)
    for i, t in enumerate(tensors):
        batch[i, :, :, : t.shape[2]] = t
    return batch


def line_reader_dir(model_dir: Path = MODEL_DIR) -> Path:
    """Where the text-line recognizer is for the detector in ``model_dir`` (models/ppocr):
    PP-OCRv6 small beside it, or PP-OCRv4's own recognizer when that is missing."""
    reader = model_dir.parent / LINE_READER
    return reader if (reader / REC_FILE).is_file() else model_dir


class PPOCRRecognizer:
    """Reads text lines, and scores single characters against a charset, with a PaddleOCR
    line recognizer (``rec.xml`` and its dictionary, ``keys.txt`` or ``ppocr_keys_v1.txt``)."""

    def __init__(
        self,
        model_dir: Path = MODEL_DIR,
        *,
        keys_path: Path | None = None,
        device: str = "CPU",
        batch_size: int = 16,
    ) -> None:
        if keys_path is None:
            keys_path = model_dir / KEYS_TXT
            if not keys_path.is_file():
                keys_path = model_dir / KEYS_FILE
        self.labels = load_keys(keys_path)
        model, classes = _read_model(model_dir / REC_FILE)
        # Checked before compiling: a wrong keys file would otherwise misread silently.
        if classes != len(self.labels) + 1:
            raise CharsetMismatch(
                f"the recognizer has {classes} output classes but the keys give "
                f"{len(self.labels) - 1} characters + space + blank = {len(self.labels) + 1}"
            )
        self._index = {c: i + 1 for i, c in enumerate(self.labels)}
        self._others: dict[str, npt.NDArray[np.bool_]] = {}
        self.batch_size = batch_size
        self.model_dir = model_dir
        self._engine: _Engine = _OpenVINOEngine(model, device)

    def _run(self, tensors: Sequence[Batch], min_width: int, step: int = 1) -> list[Batch]:
        """Per-step class probabilities (T_i, C) for each input, in input order."""
        out: list[Batch] = [np.empty((0, 0), np.float32)] * len(tensors)
        for group in _batches(tensors, self.batch_size):
            probs = self._engine.infer(_stack([tensors[i] for i in group], min_width, step))
            for row, i in enumerate(group):
                # Steps past the item's own width only saw padding.
                steps = max(1, math.ceil(max(tensors[i].shape[2], min_width) / STRIDE))
                out[i] = probs[row, :steps]
        return out

    def warm_up(self, stop: threading.Event | None = None) -> int:
        """Read blank characters at every batch size ``char_probabilities`` uses (1 to
        ``batch_size``), and one short line (``LINE_MIN_WIDTH``: a lone character read as
        a line; see ``CompiledModel.warm_up``); returns how many shapes ran."""
        shapes = [(n, CHAR_WIDTH) for n in range(1, self.batch_size + 1)]
        ran = 0
        for n, width in [*shapes, (1, LINE_MIN_WIDTH)]:
            if stop is not None and stop.is_set():
                break
            self._engine.infer(np.zeros((n, 3, HEIGHT, width), np.float32))
            ran += 1
        return ran

    def line_probabilities(self, images: Sequence[Image8]) -> list[Batch]:
        """Per-step class probabilities (T, C) of each image read as one text line, for
        decoders other than the greedy one."""
        return self._run([line_tensor(im) for im in images], LINE_MIN_WIDTH, LINE_WIDTH_STEP)

    def read_lines(self, images: Sequence[Image8]) -> list[CTCResult]:
        """Read each image as one horizontal text line (uint8, gray or RGB)."""
        results: list[CTCResult] = []
        for probs in self.line_probabilities(images):
            results.extend(greedy_decode_batch(probs[None], self.labels, blank=BLANK))
        return results

    def step_probabilities(
        self, images: Sequence[Image8], *, width: int = CHAR_WIDTH, scale: float = CHAR_SCALE
    ) -> list[Batch]:
        """Per-step class probabilities (T, C) for single-character images."""
        return self._run([char_tensor(im, width, scale) for im in images], width)

    def char_probabilities(
        self,
        images: Sequence[Image8],
        charset: str,
        *,
        width: int = CHAR_WIDTH,
        scale: float = CHAR_SCALE,
        other: bool = False,
    ) -> npt.NDArray[np.float32]:
        """For each single-character image, each charset character's best probability over
        the time steps (with the symbols of ``SAME_STROKES`` counted for it), shape
        (N, len(charset)): a classifier that needs no training. With ``other`` one more
        column: the best probability of any Chinese character the recognizer knows outside
        the charset (千 for 十): how sure it is that this is another character."""
        tensors = [char_tensor(im, width, scale) for im in images]
        return self.tensor_probabilities(tensors, charset, width=width, other=other)

    def _other_classes(self, charset: str) -> npt.NDArray[np.bool_]:
        """The classes that are Chinese characters outside ``charset`` and not counted for
        one of it (``SAME_STROKES``)."""
        found = self._others.get(charset)
        if found is None:
            counted = set(charset) | {a for c in charset for a in SAME_STROKES.get(c, "")}
            found = np.zeros(len(self.labels) + 1, bool)
            for label, k in self._index.items():
                found[k] = is_ideograph(label) and label not in counted
            self._others[charset] = found
        return found

    def tensor_probabilities(
        self,
        tensors: Sequence[Batch],
        charset: str,
        *,
        width: int = CHAR_WIDTH,
        other: bool = False,
    ) -> npt.NDArray[np.float32]:
        """``char_probabilities`` of inputs already made by ``char_tensor`` (at ``width``):
        several recognizers reading the same characters prepare them once."""
        missing = [c for c in charset if c not in self._index]
        if missing:
            raise ValueError(f"the recognizer cannot read {''.join(missing)!r}")
        columns = [self._index[c] for c in charset]
        # (position in the charset, class) of each symbol that counts for a character.
        same = [
            (j, self._index[a])
            for j, c in enumerate(charset)
            for a in SAME_STROKES.get(c, "")
            if a in self._index and a not in charset
        ]
        others = self._other_classes(charset) if other else None
        out = np.zeros((len(tensors), len(charset) + int(other)), dtype=np.float32)
        for i, probs in enumerate(self._run(tensors, width)):
            per_step = probs[:, columns]
            for j, k in same:
                per_step[:, j] += probs[:, k]
            out[i, : len(charset)] = np.minimum(per_step.max(axis=0), 1.0)
            if others is not None:
                # The best over the steps first: one pass over contiguous memory.
                out[i, -1] = float(probs.max(axis=0)[others].max())
        return out
