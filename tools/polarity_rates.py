"""How often the preprocessing takes paper for a board or a board for paper.

Usage: python tools/polarity_rates.py [--n 1200] [--judge] [--json]

Pictures whose polarity is known, each set built the same way every run (fixed seeds):

- ``real``: the real sample in ``../shared/data/real-handwriting`` (scans, dark on light);
- ``letters``: Latin letters made the way EMNIST made its images (drawn white on black,
  blurred, cropped to the ink, 24 of 28 pixels, then dark on light: the reference model's
  "unknown" class), in the Latin handwriting fonts installed (Debian: fonts-dkg-handwriting
  fonts-breip fonts-femkeklaver fonts-sjfonts fonts-rufscript fonts-comic-neue
  fonts-humor-sans), three stroke weights;
- ``photos paper`` / ``photos board``: synthetic photos of HSK 1 characters as training
  photographs them (``Generator.photo``), on paper and on a board;
- ``tight paper`` / ``tight board``: a character's drawing thickened (0, 2 or 4 pixels),
  cropped to its ink plus 0-3 pixels and resized to 28-96 pixels: a photo cropped tight
  around bold writing, and the same as chalk;
- ``on a table`` / ``on a wall``: a synthetic photo in the middle of a larger sheet, lying
  on a dark table covering 15-60% of the picture; and a board photo on a light wall;
- ``note on a table``: the photo itself (a character filling a small sheet) on the table;
- ``on a light desk``: as ``on a table``, the table at 50-80% of the sheet's level;
- ``table at a slant``: ``on a table`` keystoned (each corner moved by up to 12% of the
  side, the uncovered corners filled with the table's tone), so the sheet's edges are no
  longer square to the picture.
- ``screen on a desk`` / ``screen, dark mode``: the character shown on a screen (dark on
  light, or light on dark) photographed on a desk of gray level 40-200
  (``recognition.scenes.on_a_screen``: pixel stripes, moire, glare, a black bezel, askew).

For each set, the share decided wrongly by ``is_dark_background`` (on the picture at the
working size, as the bot decides) and by the brightness tails of the tiles alone (the rule
before the two tones and the sheets' edges were looked at; the baseline).
``--judge`` also names the letters without a target at both operating points (the bot's
classify): the share turned away, and the characters most often named; and verifies the
first 300 pictures of each scene (paper, board, table, wall, note, light desk, slant,
screens) against the character drawn, as a learner's photo is graded (thorough point):
the share answered "correct".
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import math
import string
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quizzes.hsk import load_vocabulary  # noqa: E402
from recognition import preprocess as pp  # noqa: E402
from recognition.charmodel import CharModel, Job, load_char_model  # noqa: E402
from recognition.evaluate import judge_in_batches  # noqa: E402
from recognition.scenes import on_a_screen, screen_size  # noqa: E402
from recognition.training.strokes import HSK1_STROKES, StrokeData  # noqa: E402
from recognition.training.synth import Generator, find_cjk_fonts, split_fonts  # noqa: E402
from recognition.verifier import Outcome  # noqa: E402

Gray = npt.NDArray[np.uint8]
REAL = ROOT.parent / "shared" / "data" / "real-handwriting"
LATIN_HANDS = (
    "fifthhorseman/dkg.ttf",
    "fifthhorseman/dkgIt.ttf",
    "breip/Breip.ttf",
    "femkeklaver/femkeklaver.ttf",
    "sjfonts/SteveHand.ttf",
    "sjfonts/Delphine.ttf",
    "rufscript/Rufscript010.ttf",
    "humor-sans/Humor-Sans.ttf",
    "comic-neue/ComicNeue-Regular.otf",
    "comic-neue/ComicNeue-Bold.otf",
)


def tails_only(gray: Gray) -> bool:
    """The baseline: the tiles' brightness tails alone, as numpy computes them."""
    small = pp.shrink(gray, pp.POLARITY_SIDE)
    residual = small.astype(np.float32) - pp._tile_background(small)
    lo, hi = np.percentile(residual, (2, 98))
    return bool(np.median(small) < 96) if hi - lo < 24 else bool(-lo < hi)


def latin_fonts() -> list[Path]:
    found = []
    for name in LATIN_HANDS:
        for base in (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype")):
            if (base / name).is_file():
                found.append(base / name)
    return found


def emnist_letters(fonts: list[Path]) -> list[tuple[str, Gray]]:
    rng = np.random.default_rng(7)
    out = []
    for path in fonts:
        font = ImageFont.truetype(str(path), 90)
        for ch in string.ascii_letters:
            for grow in (3, 5, 7):
                img = Image.new("L", (160, 160), 0)
                ImageDraw.Draw(img).text((30, 20), ch, fill=255, font=font)
                img = img.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR)
                img = img.filter(ImageFilter.MaxFilter(grow)).filter(ImageFilter.GaussianBlur(1))
                box = img.getbbox()
                if box is None:
                    continue
                img = img.crop(box)
                side = max(img.size)
                square = Image.new("L", (side, side), 0)
                square.paste(img, ((side - img.size[0]) // 2, (side - img.size[1]) // 2))
                letter = Image.new("L", (28, 28), 0)
                letter.paste(square.resize((24, 24), Image.Resampling.BICUBIC), (2, 2))
                out.append((ch, 255 - np.asarray(letter)))
    return out


def on_a_surround(
    photo: Gray, rng: np.random.Generator, *, sheet: float, surround: float, more: bool = True
) -> Gray:
    """``photo`` in the middle of more of its sheet (the photo's own level; ``more`` False:
    the photo is the whole sheet, a note), lying on a surround of level ``surround``
    covering 15-60% of the picture; 3x larger."""
    side = photo.shape[0]
    big = int(side / rng.uniform(0.3, 0.7)) if more else side
    page = np.clip(sheet + rng.normal(0, 3, (big, big)), 0, 255)
    oy, ox = (int(v) for v in rng.integers(0, big - side + 1, 2))
    page[oy : oy + side, ox : ox + side] = photo
    frame = int(big / math.sqrt(rng.uniform(0.4, 0.85)))
    canvas = np.clip(surround + rng.normal(0, 6, (frame, frame)), 0, 255)
    y, x = (int(v) for v in rng.integers(0, frame - big + 1, 2))
    canvas[y : y + big, x : x + big] = page
    img = Image.fromarray(canvas.astype(np.uint8))
    return np.asarray(img.resize((frame * 3, frame * 3), Image.Resampling.BILINEAR))


def keystone(picture: Gray, rng: np.random.Generator, most: float = 0.12) -> Gray:
    """``picture`` seen at a slant: each corner moved by up to ``most`` of its side, what
    comes into view filled with the tone of its top left corner (the surround)."""
    h, w = picture.shape
    out = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    seen = [(x + w * rng.uniform(-most, most), y + h * rng.uniform(-most, most)) for x, y in out]
    # PIL's perspective maps each output pixel to the input: solve for its 8 coefficients.
    a, b = [], []
    for (x, y), (u, v) in zip(out, seen, strict=True):
        a += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        b += [u, v]
    coeffs = np.linalg.solve(np.array(a, dtype=float), np.array(b, dtype=float))
    img = Image.fromarray(picture).transform(
        (w, h),
        Image.Transform.PERSPECTIVE,
        tuple(float(c) for c in coeffs),
        Image.Resampling.BILINEAR,
        fillcolor=int(picture[0, 0]),
    )
    return np.asarray(img)


def tight_crop(clean: Gray, rng: np.random.Generator) -> Gray | None:
    grow = int(rng.choice([1, 3, 5]))
    img = Image.fromarray(clean)
    if grow > 1:
        img = img.filter(ImageFilter.MinFilter(grow))
    box = Image.eval(img, lambda p: 255 - p).getbbox()
    if box is None:
        return None
    m = int(rng.integers(0, 4))
    img = img.crop((box[0] - m, box[1] - m, box[2] + m, box[3] + m))
    side = int(rng.choice([28, 40, 64, 96]))
    return np.asarray(img.resize((side, side), Image.Resampling.BILINEAR))


def screen_scene(clean: Gray, rng: np.random.Generator, *, dark_mode: bool) -> Gray:
    """``clean`` (a character drawn dark on white) shown on a screen, text 25 on 235 (the
    other way round in dark mode), photographed on a desk of gray level 40-200."""
    side = 480
    sw, sh = screen_size(rng, side)
    box = int(min(sw, sh) * 0.6)
    screen = Image.new("L", (sw, sh), 255)
    screen.paste(Image.fromarray(clean).resize((box, box), Image.Resampling.BILINEAR),
                 ((sw - box) // 2, (sh - box) // 2))  # fmt: skip
    shown = 25 + np.asarray(screen, np.float32) * (210 / 255)
    if dark_mode:
        shown = 255 - shown
    desk = int(rng.uniform(40, 200))
    return on_a_screen(shown.astype(np.uint8), rng, desk=desk, side=side)


def build_sets(n: int, *, read: bool = True) -> dict[str, tuple[list[Gray], bool]]:
    """Each set's pictures and whether they are light on dark; ``read`` False: only the
    synthetic ones (no real sample, no letters)."""
    sets: dict[str, tuple[list[Gray], bool]] = {}
    if read and REAL.is_dir():
        files = sorted(p for p in REAL.rglob("*") if p.suffix.lower() in (".png", ".jpg"))
        sets["real"] = ([pp.decode(f.read_bytes()) for f in files], False)
    fonts = latin_fonts() if read else []
    if fonts:
        sets["letters"] = ([g for _, g in emnist_letters(fonts)], False)
    charset = load_vocabulary().charset
    gen = Generator(StrokeData(HSK1_STROKES), split_fonts(find_cjk_fonts()).train, seed=11)
    paper, board, tight, table, wall, note, desk, slant = [], [], [], [], [], [], [], []
    screen: list[Gray] = []
    dark: list[Gray] = []
    for i in range(n):
        clean = gen.render_char(charset[i % len(charset)], gen.rng_for(31, i)).image
        p = gen.photo(clean, gen.rng_for(32, i), board=False)
        b = gen.photo(clean, gen.rng_for(33, i), board=True)
        paper.append(p)
        board.append(b)
        t = tight_crop(clean, np.random.default_rng(i))
        if t is not None:
            tight.append(t)
        table.append(
            on_a_surround(
                p,
                np.random.default_rng(5000 + i),
                sheet=float(np.percentile(p, 80)),
                surround=float(np.random.default_rng(9000 + i).uniform(20, 90)),
            )
        )
        wall.append(
            on_a_surround(
                b,
                np.random.default_rng(7000 + i),
                sheet=float(np.percentile(b, 20)),
                surround=float(np.random.default_rng(11000 + i).uniform(170, 240)),
            )
        )
        note.append(
            on_a_surround(
                p,
                np.random.default_rng(13000 + i),
                sheet=0,
                surround=float(np.random.default_rng(9000 + i).uniform(20, 90)),
                more=False,
            )
        )
        sheet = float(np.percentile(p, 80))
        desk.append(
            on_a_surround(
                p,
                np.random.default_rng(5000 + i),
                sheet=sheet,
                surround=sheet * float(np.random.default_rng(9000 + i).uniform(0.5, 0.8)),
            )
        )
        slant.append(keystone(table[-1], np.random.default_rng(100 + i)))
        screen.append(screen_scene(clean, np.random.default_rng(15000 + i), dark_mode=False))
        dark.append(screen_scene(clean, np.random.default_rng(17000 + i), dark_mode=True))
    sets["photos paper"] = (paper, False)
    sets["photos board"] = (board, True)
    sets["tight paper"] = (tight, False)
    sets["tight board"] = ([(255 - t).astype(np.uint8) for t in tight], True)
    sets["on a table"] = (table, False)
    sets["on a wall"] = (wall, True)
    sets["note on a table"] = (note, False)
    sets["on a light desk"] = (desk, False)
    sets["table at a slant"] = (slant, False)
    sets["screen on a desk"] = (screen, False)
    sets["screen, dark mode"] = (dark, True)
    return sets


def rates(sets: dict[str, tuple[list[Gray], bool]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (grays, dark) in sets.items():
        # At the working size, as the bot decides (``normalised_ink``).
        grays = [pp.shrink(g, pp.WORK_SIDE) for g in grays]
        ours = [pp.is_dark_background(g) != dark for g in grays]
        base = [tails_only(g) != dark for g in grays]
        out[name] = {
            "pictures": len(grays),
            "wrong": float(np.mean(ours)),
            "wrong_tails_only": float(np.mean(base)),
            "fixed": sum(b and not o for o, b in zip(ours, base, strict=True)),
            "broken": sum(o and not b for o, b in zip(ours, base, strict=True)),
        }
    return out


def judge_letters(model: CharModel, letters: list[tuple[str, Gray]]) -> dict[str, Any]:
    """The letters named without a target, as ``classify`` names them, at both points."""
    jobs = [Job(_png(g)) for _, g in letters]
    out: dict[str, Any] = {}
    for thorough in (True, False):
        known = model.point(thorough)[1].known
        named: collections.Counter[str] = collections.Counter()
        verdicts = judge_in_batches(model, jobs, thorough=thorough)
        for (ch, _), d in zip(letters, verdicts, strict=True):
            if d.outcome is Outcome.CORRECT and d.confidence >= known:
                named[f"{ch}->{d.top5[0][0]}"] += 1
        point = "thorough" if thorough and model.thorough is not None else "fast"
        out[point] = {
            "turned_away": 1 - sum(named.values()) / max(1, len(letters)),
            "most_named": named.most_common(8),
        }
    return out


SCENES = (
    "photos paper",
    "photos board",
    "on a table",
    "on a wall",
    "note on a table",
    "on a light desk",
    "table at a slant",
    "screen on a desk",
    "screen, dark mode",
)


def judge_scenes(
    model: CharModel, sets: dict[str, tuple[list[Gray], bool]], n: int
) -> dict[str, float]:
    """What a learner gets: the first ``n`` pictures of each scene verified against the
    character drawn (the i-th picture shows the charset's i-th character, cyclically) at the
    thorough operating point, from their PNG bytes; the share answered "correct"."""
    charset = load_vocabulary().charset
    out = {}
    for name in (s for s in SCENES if s in sets):
        grays = sets[name][0][:n]
        jobs = [Job(_png(g), charset[i % len(charset)]) for i, g in enumerate(grays)]
        verdicts = judge_in_batches(model, jobs, thorough=True)
        out[name] = sum(d.outcome is Outcome.CORRECT for d in verdicts) / max(1, len(jobs))
    return out


def _png(gray: Gray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "PNG")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1200, help="synthetic pictures per set")
    ap.add_argument(
        "--judge", action="store_true", help="also name the letters and grade the scenes"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sets = build_sets(args.n)
    report: dict[str, Any] = {"sets": rates(sets)}
    fonts = latin_fonts()
    report["latin_fonts"] = [f.name for f in fonts]
    if args.judge:
        model = load_char_model()
        if fonts:
            report["letters_named"] = judge_letters(model, emnist_letters(fonts))
        report["scenes_correct"] = judge_scenes(model, sets, min(args.n, 300))
        model.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    head = ("pictures", "wrong", "tails only", "fixed", "broken")
    print(f"{'set':17s}" + "".join(f" {h:>10s}" for h in head))
    for name, r in report["sets"].items():
        wrong, base = 100 * r["wrong"], 100 * r["wrong_tails_only"]
        print(
            f"{name:17s} {r['pictures']:10d} {wrong:9.2f}% {base:9.2f}%"
            f" {r['fixed']:10d} {r['broken']:10d}"
        )
    if not fonts:
        print("no Latin handwriting fonts installed: the letters set was skipped")
    for name, share in report.get("scenes_correct", {}).items():
        print(f"{name}: verified against the character drawn, correct {100 * share:.1f}%")
    for point, r in report.get("letters_named", {}).items():
        print(
            f"letters named ({point}): {100 * (1 - r['turned_away']):.1f}%, turned away "
            f"{100 * r['turned_away']:.1f}%; most named {r['most_named']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
