"""Turn a clean dark-on-light character image into what a phone photo of it might look like."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from recognition.preprocess import is_dark_background

Gray = npt.NDArray[np.uint8]
Float = npt.NDArray[np.float32]
GridKind = Literal["none", "tian", "mi", "lined", "squared"]


@dataclass(frozen=True, slots=True)
class PhotoOptions:
    """How often each degradation happens; the defaults are a mix seen in learners' photos."""

    grid: float = 0.45  # 田字格 / 米字格 / lined / squared paper
    board: float = 0.06  # chalk on a dark board: light ink on dark
    pencil: float = 0.15
    gradient: float = 0.7
    shadow: float = 0.25
    perspective: float = 0.7
    blur: float = 0.55
    motion_blur: float = 0.12
    noise: float = 0.85
    jpeg: float = 0.75
    jpeg_quality: tuple[int, int] = (30, 95)
    zoom: tuple[float, float] = (0.78, 1.08)  # <1 adds paper around the character
    # A character written small, photographed from afar or scanned coarsely: few pixels,
    # soft once enlarged (like Chinese MNIST's 64 px form scans). The photo is resampled
    # through a square of ``lowres_side`` pixels (per 64). Off by default, and no random
    # draw is made then, so the shipped recipe's samples are unchanged.
    lowres: float = 0.0
    lowres_side: tuple[int, int] = (22, 44)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> Float:
    """Low-frequency noise in [-1, 1]: a few random values upsampled bicubically."""
    small = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def _line_coverage(dist: Float, width: float) -> Float:
    """Anti-aliased coverage of a line of ``width`` pixels, given each pixel's distance."""
    return np.clip(width / 2 + 0.5 - np.abs(dist), 0.0, 1.0)


def _dashes(along: Float, period: float, duty: float, phase: float) -> Float:
    return (((along / period + phase) % 1.0) < duty).astype(np.float32)


def grid_coverage(
    xs: Float, ys: Float, size: float, rng: np.random.Generator, kind: GridKind
) -> Float:
    """Printed practice-paper lines at source coordinates ``xs``, ``ys`` (pixels of a
    ``size`` cell the character was written in); 0 where there is no line, up to 1 on one."""
    cov = np.zeros_like(xs)
    if kind == "none":
        return cov
    scale = size / 64.0
    width = float(rng.uniform(0.6, 1.8)) * scale
    if kind in ("tian", "mi"):
        # The writer's box: roughly the cell, its edges sometimes just outside the crop.
        lo = size * rng.uniform(-0.06, 0.07, 2)
        hi = size * (1 - rng.uniform(-0.06, 0.07, 2))
        for edge in (lo[0], hi[0]):
            cov = np.maximum(cov, _line_coverage(xs - edge, width * 1.3))
        for edge in (lo[1], hi[1]):
            cov = np.maximum(cov, _line_coverage(ys - edge, width * 1.3))
        cx, cy = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2
        dashed = rng.random() < 0.65
        period = float(rng.uniform(3.0, 7.0)) * scale
        phase = float(rng.random())
        inner = [(xs - cx, ys), (ys - cy, xs)]
        if kind == "mi":
            half = (hi - lo) / 2
            norm = float(np.hypot(*half))
            inner += [
                ((half[1] * (xs - cx) - half[0] * (ys - cy)) / norm, xs + ys),
                ((half[1] * (xs - cx) + half[0] * (ys - cy)) / norm, xs - ys),
            ]
        for dist, along in inner:
            line = _line_coverage(dist, width)
            if dashed:
                line = line * _dashes(along, period, 0.55, phase)
            cov = np.maximum(cov, line)
    elif kind == "lined":
        spacing = size * float(rng.uniform(0.3, 0.8))
        offset = float(rng.uniform(0, spacing))
        dist = (ys - offset + spacing / 2) % spacing - spacing / 2
        cov = _line_coverage(dist, width)
    else:  # squared exercise paper
        spacing = size * float(rng.uniform(0.22, 1.0))
        ox, oy = rng.uniform(0, spacing, 2)
        dx = (xs - ox + spacing / 2) % spacing - spacing / 2
        dy = (ys - oy + spacing / 2) % spacing - spacing / 2
        cov = np.maximum(_line_coverage(dx, width), _line_coverage(dy, width))
    return cov.astype(np.float32)


def _perspective_coeffs(dst: npt.NDArray[np.float64], src: npt.NDArray[np.float64]) -> list[float]:
    """PIL PERSPECTIVE coefficients mapping output points ``dst`` to input points ``src``."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    sol = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64))
    return [float(c) for c in sol]


def _camera(
    rng: np.random.Generator, w: int, h: int, opts: PhotoOptions, ink: Float
) -> list[float]:
    """A random view: zoom and shift (so the character is not always centred or filling the
    frame), a small roll and a perspective tilt; as output-to-input coefficients."""
    zoom = float(rng.uniform(*opts.zoom))
    # Keep the shift within the paper around the ink, so the character stays in view.
    ys_, xs_ = np.nonzero(ink > 0.25)
    if len(xs_):
        x0, x1, y0, y1 = xs_.min(), xs_.max() + 1, ys_.min(), ys_.max() + 1
    else:
        x0, x1, y0, y1 = 0, w, 0, h
    cx = (x0 + x1) / 2 + rng.uniform(-0.5, 0.5) * max(0.0, w / zoom - (x1 - x0)) * 0.9
    cy = (y0 + y1) / 2 + rng.uniform(-0.5, 0.5) * max(0.0, h / zoom - (y1 - y0)) * 0.9
    half_w, half_h = w / zoom / 2, h / zoom / 2
    roll = math.radians(float(rng.normal(0, 2.0)))
    c, s = math.cos(roll), math.sin(roll)
    corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    src = corners @ np.array([[c, s], [-s, c]]) + [cx, cy]
    if rng.random() < opts.perspective:
        # Tilting the phone: each corner of the view moves independently by a few percent.
        src = src + rng.normal(0, 0.045, (4, 2)) * [w / zoom, h / zoom]
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    return _perspective_coeffs(dst, src)


def _source_coords(coeffs: list[float], w: int, h: int) -> tuple[Float, Float]:
    """Where each output pixel centre comes from in the input, as PIL would compute it."""
    a, b, c, d, e, f, g, hh = coeffs
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    den = g * x + hh * y + 1
    return (a * x + b * y + c) / den, (d * x + e * y + f) / den


def _motion_kernel(rng: np.random.Generator) -> ImageFilter.Kernel:
    length = float(rng.uniform(1.5, 4.5))
    angle = float(rng.uniform(0, math.pi))
    y, x = np.mgrid[-2:3, -2:3].astype(np.float64)
    along = x * math.cos(angle) + y * math.sin(angle)
    across = -x * math.sin(angle) + y * math.cos(angle)
    k = np.clip(1 - np.abs(across), 0, 1) * (np.abs(along) <= length / 2)
    k[2, 2] = max(k[2, 2], 1.0)
    return ImageFilter.Kernel((5, 5), [float(v) for v in k.ravel()], float(k.sum()))


def jpeg(img: Gray, quality: int) -> Gray:
    """Round-trip through JPEG at ``quality``, for its blocks and ringing."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as out:
        return np.asarray(out.convert("L"), dtype=np.uint8).copy()


def photograph(
    img: Gray,
    rng: np.random.Generator,
    *,
    options: PhotoOptions | None = None,
    board: bool | None = None,
    grid: GridKind | None = None,
) -> Gray:
    """A phone photo of the dark-on-light ``img``: paper, grid lines, light, camera, sensor.

    ``board`` and ``grid`` force those choices (tests, sample sheets); otherwise they are
    drawn from ``options``. The output has the same size; on a board the polarity is
    inverted (light chalk on a dark background), as a real photo of one would be.
    """
    opts = options or PhotoOptions()
    h, w = img.shape
    scale = min(h, w) / 64.0
    ink = (255.0 - img.astype(np.float32)) / 255.0
    if board is None:
        board = bool(rng.random() < opts.board)
    if grid is None:
        grid = "none"
        if not board and rng.random() < opts.grid:
            grid = rng.choice(np.array(["tian", "tian", "mi", "lined", "squared"])).item()

    coeffs = _camera(rng, w, h, opts, ink)
    warped = Image.fromarray(np.round(ink * 255).astype(np.uint8)).transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=0
    )
    ink = np.asarray(warped, dtype=np.float32) / 255.0
    xs, ys = _source_coords(coeffs, w, h)
    lines = grid_coverage(xs, ys, float(min(h, w)), rng, grid)

    # Light: an uneven gradient across the page and sometimes the soft edge of a shadow.
    light = np.ones((h, w), dtype=np.float32)
    if rng.random() < opts.gradient:
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (xs * math.cos(angle) + ys * math.sin(angle)) / max(h, w)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        light *= 1 - float(rng.uniform(0.05, 0.4)) * ramp
    if rng.random() < opts.shadow:
        angle = rng.uniform(0, 2 * math.pi)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        d = (x - w / 2) * math.cos(angle) + (y - h / 2) * math.sin(angle)
        d = d - float(rng.uniform(-0.4, 0.4)) * max(h, w)
        edge = float(rng.uniform(1.5, 10.0)) * scale
        light *= 1 - float(rng.uniform(0.15, 0.45)) / (1 + np.exp(-d / edge))
    light *= 1 + 0.04 * _smooth_noise(rng, h, w, 5) * float(rng.uniform(0, 1))

    if board:
        background = float(rng.uniform(0.1, 0.35))
        chalk = float(rng.uniform(0.65, 0.95))
        # Chalk leaves a broken, grainy trace: random gaps along the stroke.
        grain = rng.uniform(0.35, 1.0, (h, w)).astype(np.float32)
        grain *= rng.random((h, w)) > float(rng.uniform(0.0, 0.25))
        value = background + (chalk - background) * ink * grain
        value += 0.03 * _smooth_noise(rng, h, w, 6)  # dust and smudges
    else:
        paper = float(rng.uniform(0.72, 0.99))
        texture = 1 + 0.035 * _smooth_noise(rng, h, w, int(rng.integers(3, 9)))
        texture += rng.normal(0, float(rng.uniform(0.0, 0.015)), (h, w)).astype(np.float32)
        if rng.random() < opts.pencil:
            # Graphite is grey and grainy rather than a solid line.
            depth = float(rng.uniform(0.45, 0.75))
            ink = ink * rng.uniform(0.55, 1.0, (h, w)).astype(np.float32)
        else:
            depth = float(rng.uniform(0.78, 0.97))
        line_depth = float(rng.uniform(0.15, 0.55))
        value = paper * texture * (1 - line_depth * lines) * (1 - depth * ink)
    out = np.clip(value * light * 255.0, 0, 255).astype(np.uint8)

    pic = Image.fromarray(out)
    if rng.random() < opts.blur:
        pic = pic.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.25, 1.1)) * scale))
    if rng.random() < opts.motion_blur:
        pic = pic.filter(_motion_kernel(rng))
    if opts.lowres > 0 and rng.random() < opts.lowres:
        side = max(
            8, round(int(rng.integers(opts.lowres_side[0], opts.lowres_side[1] + 1)) * scale)
        )
        pic = pic.resize((side, side), Image.Resampling.BOX).resize(
            (w, h), Image.Resampling.BILINEAR
        )
    arr = np.asarray(pic, dtype=np.float32)
    if rng.random() < opts.noise:
        arr = arr + rng.normal(0, float(rng.uniform(1.0, 9.0)), arr.shape).astype(np.float32)
    result = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    if rng.random() < opts.jpeg:
        result = jpeg(result, int(rng.integers(opts.jpeg_quality[0], opts.jpeg_quality[1] + 1)))
    return result


def normalize_polarity(img: Gray) -> Gray:
    """Dark ink on a light background whichever way round the photo was (a board is not),
    by the same rule the bot's preprocessing applies to real photos."""
    return (255 - img).astype(np.uint8) if is_dark_background(img) else img
