"""A line recognizer with Open Model Zoo's handwritten-simplified-chinese-recognition-0001
interface, for a user who points ``HANZI_LINE_MODEL`` and ``HANZI_LINE_CHARSET`` at it.

Input: one gray line, (1, 1, 96, 2000), raw pixel values 0..255 as in the OMZ notebook:
resized to height 96 keeping its aspect ratio (width at most 2000), then right-padded to
2000 with its last column. Output: (T, 1, C) time-major logits, CTC with the blank at 0
and the charset file's characters at 1..C-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from recognition.ctc import CTCResult, greedy_decode
from recognition.runtime import CompiledModel, ModelLoadError

HEIGHT = 96
WIDTH = 2000
BLANK = 0

Image8 = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]


def load_charset(path: Path) -> str:
    """The charset file's characters in class order (one per line, UTF-8)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read the line charset {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if len(line) != 1:
            raise ModelLoadError(
                f"the line charset {path} must hold one character per line; "
                f"line {number} holds {line!r}"
            )
    return "".join(lines)


def seed_line_tensor(image: Image8) -> Floats:
    """A text line (uint8, gray or RGB) as the model's (1, 1, 96, 2000) float input."""
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        gray = Image.fromarray(image).convert("L")
    elif image.ndim == 2:
        gray = Image.fromarray(image)
    else:
        raise ValueError(f"expected a gray (H, W) or RGB (H, W, 3) image, got {image.shape}")
    w, h = gray.size
    width = min(WIDTH, max(1, round(HEIGHT * w / max(h, 1))))
    # The notebook resizes with OpenCV's area interpolation; BOX is PIL's equivalent when
    # shrinking, and bilinear is the better choice when a small crop is enlarged.
    resample = Image.Resampling.BOX if h > HEIGHT else Image.Resampling.BILINEAR
    resized = np.asarray(gray.resize((width, HEIGHT), resample), dtype=np.float32)
    padded = np.pad(resized, ((0, 0), (0, WIDTH - width)), mode="edge")
    out: Floats = padded[None, None].astype(np.float32)
    return out


class SeedLineRecognizer:
    """Reads text lines with an OMZ-interface model; one inference per line (batch 1)."""

    def __init__(self, model_path: Path, charset_path: Path, *, threads: int | None = None) -> None:
        self.labels = load_charset(charset_path)
        self.model = CompiledModel(model_path, hint="LATENCY", dynamic_batch=False, threads=threads)
        if self.model.input_shape != (1, 1, HEIGHT, WIDTH):
            raise ModelLoadError(
                f"{model_path} takes input {self.model.input_shape}, "
                f"not (1, 1, {HEIGHT}, {WIDTH}) as the handwritten line model does"
            )
        out = self.model.output_shapes[0]
        if len(out) != 3 or out[1] != 1:
            raise ModelLoadError(f"{model_path} gives output {out}, not (T, 1, C)")
        classes = self.model.output_size()
        if classes != len(self.labels) + 1:
            raise ModelLoadError(
                f"{model_path} has {classes} output classes but {charset_path} has "
                f"{len(self.labels)} characters (+ 1 blank = {len(self.labels) + 1}): "
                "model and charset do not match"
            )

    def read_lines(self, images: Sequence[Image8]) -> list[CTCResult]:
        """Read each image as one horizontal text line."""
        results: list[CTCResult] = []
        for image in images:
            logits = next(iter(self.model.infer(seed_line_tensor(image)).values()))
            results.append(
                greedy_decode(logits[:, 0, :], self.labels, blank=BLANK, probabilities=False)
            )
        return results
