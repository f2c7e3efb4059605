"""Check that a change to recognition/preprocess.py leaves what the model sees unchanged.

Usage: python tools/preprocess_equivalence.py [--rev HEAD] [--real DIR ...] [--real-step 1]
    [--synth 1200] [--phone 300] [--words 200] [--model models/char] [--json]

Runs the preprocessing of git revision ``--rev`` (loaded from ``git show``) and the one in
the working tree on the same photos, one after the other:

- real scans: every image under the ``--real`` folders (by default Chinese MNIST and
  CASIA under ``../shared/data/real-handwriting``; ``--real-step N`` takes every N-th);
- ``--synth`` synthetic phone photos, the benchmark's (``recognition.bench.sample_photos``:
  256 px JPEG, grids, boards, shadows);
- ``--phone`` of those made into large colour phone photos (700-4000 px, tinted, JPEG,
  with a random EXIF orientation), which take decode's reduced-scale and turning paths;
- ``--words`` words of 2-3 of those side by side, cut by ``split_characters``.

For each it compares the decoded gray photo, the polarity decision, and every field of
``prepare`` (or each piece of ``split_characters``), and reports the share of photos
whose outputs are byte-identical, the largest and mean absolute pixel difference of the
model's input, and the share whose top-1 by the character model changes. It exits with 1
when any output differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import recognition.preprocess as new_impl  # noqa: E402
from recognition.evaluate import image_folders  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "real-handwriting"
Ink = npt.NDArray[np.float32]


def load_revision(rev: str) -> ModuleType:
    """recognition/preprocess.py as it was at ``rev``, imported as its own module."""
    source = subprocess.run(
        ["git", "show", f"{rev}:recognition/preprocess.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "preprocess_at_rev.py"
    path.write_text(source, "utf-8")
    spec = importlib.util.spec_from_file_location("preprocess_at_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True, slots=True)
class Photo:
    kind: str
    name: str
    data: bytes
    pieces: int = 1  # characters in it: more than one goes through split_characters


def real_photos(roots: list[Path], step: int) -> Iterator[Photo]:
    for root in roots:
        for path, label in image_folders(root)[::step]:
            yield Photo(f"real:{root.name}", f"{label}/{path.name}", path.read_bytes())


def synthetic(n: int, seed: int) -> list[tuple[bytes, str]]:
    from recognition.bench import sample_photos
    from recognition.training.synth import hsk1_charset

    return sample_photos(hsk1_charset(), n, seed=seed)


def phone_photo(data: bytes, rng: np.random.Generator) -> bytes:
    """A 256 px synthetic photo as a big colour phone JPEG with an EXIF orientation."""
    gray = Image.open(io.BytesIO(data)).convert("L")
    side = int(rng.integers(700, 4000))
    w, h = side, int(side * rng.uniform(0.6, 1.4))
    big = gray.resize((w, h), Image.Resampling.BILINEAR)
    tint = rng.uniform(0.85, 1.0, 3)
    rgb = np.asarray(big, dtype=np.float32)[..., None] * tint
    rgb += rng.normal(0, 2.0, rgb.shape)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = int(rng.integers(1, 9))  # Orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=int(rng.integers(60, 95)), exif=exif)
    return out.getvalue()


def word_photo(parts: list[bytes]) -> bytes:
    grays = [Image.open(io.BytesIO(p)).convert("L") for p in parts]
    h = max(g.height for g in grays)
    row = Image.new("L", (sum(g.width for g in grays), h), 255)
    x = 0
    for g in grays:
        row.paste(g, (x, 0))
        x += g.width
    out = io.BytesIO()
    row.save(out, "JPEG", quality=90)
    return out.getvalue()


def generated(n_synth: int, n_phone: int, n_words: int, seed: int) -> Iterator[Photo]:
    rng = np.random.default_rng(seed)
    base = synthetic(max(n_synth, n_phone, 3 * n_words, 1), seed)
    for i, (data, label) in enumerate(base[:n_synth]):
        yield Photo("synthetic", f"{i}:{label}", data)
    for i, (data, label) in enumerate(base[:n_phone]):
        yield Photo("phone", f"{i}:{label}", phone_photo(data, rng))
    for i in range(n_words):
        count = int(rng.integers(2, 4))
        picks = rng.choice(len(base), count, replace=False)
        text = "".join(base[j][1] for j in picks)
        yield Photo("word", f"{i}:{text}", word_photo([base[j][0] for j in picks]), count)


def outputs(impl: ModuleType, photo: Photo) -> tuple[dict[str, Any], list[Ink]]:
    """Everything preprocessing says about a photo, and the images the model would read."""
    try:
        gray = impl.decode(photo.data)
    except Exception as exc:  # compared like any other output
        return {"decode": repr(exc)}, []
    out: dict[str, Any] = {"gray": gray.tobytes(), "shape": gray.shape}
    out["dark_background"] = impl.is_dark_background(gray)
    try:
        if photo.pieces > 1:
            images = impl.split_characters(gray, photo.pieces)
        else:
            p = impl.prepare(gray)
            images = [p.image]
            out.update(
                ink_side=p.ink_side,
                contrast=p.contrast,
                inverted=p.inverted,
                grid_lines=p.grid_lines,
                aspect=p.aspect,
                pieces=p.pieces,
            )
    except impl.NoInk as exc:
        out["no_ink"] = str(exc)
        images = []
    out["images"] = [i.tobytes() for i in images]
    return out, images


@dataclass
class Tally:
    photos: int = 0
    identical: int = 0
    images: int = 0
    images_identical: int = 0
    max_diff: float = 0.0
    diff_sum: float = 0.0
    pixels: int = 0
    seconds_old: float = 0.0
    seconds_new: float = 0.0
    top1_changed: int = 0
    compared: int = 0  # image pairs run through the model
    differing: list[str] = field(default_factory=list)

    def absorb(self, other: Tally) -> None:
        """Add another kind's counts to these."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, max(mine, theirs) if f.name == "max_diff" else mine + theirs)

    def report(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "identical_share": self.identical / max(self.photos, 1),
            "model_inputs": self.images,
            "model_inputs_identical_share": self.images_identical / max(self.images, 1),
            "max_abs_pixel_diff": self.max_diff,
            "mean_abs_pixel_diff": self.diff_sum / max(self.pixels, 1),
            "top1_changed_share": self.top1_changed / max(self.compared, 1),
            "ms_per_photo_old": 1000 * self.seconds_old / max(self.photos, 1),
            "ms_per_photo_new": 1000 * self.seconds_new / max(self.photos, 1),
            "differing_examples": self.differing[:10],
        }


def compare(
    old: ModuleType,
    photos: Iterator[Photo],
    top1: Callable[[list[Ink]], npt.NDArray[np.intp]] | None,
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    pairs: list[tuple[str, Ink, Ink]] = []
    for photo in photos:
        t = tallies.setdefault(photo.kind, Tally())
        start = time.process_time()
        a, images_a = outputs(old, photo)
        middle = time.process_time()
        b, images_b = outputs(new_impl, photo)
        t.seconds_old += middle - start
        t.seconds_new += time.process_time() - middle
        t.photos += 1
        if a == b:
            t.identical += 1
        else:
            t.differing.append(f"{photo.name}: {sorted(k for k in a if a.get(k) != b.get(k))}")
        for x, y in zip(images_a, images_b, strict=False):
            t.images += 1
            t.images_identical += x.tobytes() == y.tobytes()
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            t.max_diff = max(t.max_diff, float(diff.max()))
            t.diff_sum += float(diff.sum())
            t.pixels += diff.size
            pairs.append((photo.kind, x, y))
    if top1 is not None:
        for start in range(0, len(pairs), 256):
            chunk = pairs[start : start + 256]
            before = top1([x for _, x, _ in chunk])
            after = top1([y for _, _, y in chunk])
            for (kind, _, _), p, q in zip(chunk, before, after, strict=True):
                tallies[kind].compared += 1
                tallies[kind].top1_changed += int(p != q)
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rev", default="HEAD", help="git revision to compare against")
    parser.add_argument("--real", type=Path, nargs="*", default=None)
    parser.add_argument("--real-step", type=int, default=1, help="take every N-th real scan")
    parser.add_argument("--synth", type=int, default=1200)
    parser.add_argument("--phone", type=int, default=300)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "char")
    parser.add_argument("--no-model", action="store_true", help="skip the top-1 comparison")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    old = load_revision(args.rev)
    roots = (
        args.real if args.real is not None else sorted(p for p in SHARED.iterdir() if p.is_dir())
    )
    top1: Callable[[list[Ink]], npt.NDArray[np.intp]] | None = None
    if not args.no_model:
        from recognition.charmodel import CharModel

        model = CharModel(args.model)

        def top1(images: list[Ink]) -> npt.NDArray[np.intp]:
            return np.asarray([int(np.argmax(s.probs)) for s in model.scores(images)])

    def photos() -> Iterator[Photo]:
        yield from real_photos(roots, args.real_step)
        yield from generated(args.synth, args.phone, args.words, args.seed)

    tallies = compare(old, photos(), top1)
    total = Tally()
    for t in tallies.values():
        total.absorb(t)
    result = {"rev": args.rev, **{k: t.report() for k, t in tallies.items()}}
    result["all"] = total.report()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print(f"preprocessing at {args.rev} against the working tree")
        for kind, rep in result.items():
            if not isinstance(rep, dict):
                continue
            print(
                f"{kind:20s} {rep['photos']:5d} photos, "
                f"identical {100 * rep['identical_share']:7.3f}%  "
                f"max |diff| {rep['max_abs_pixel_diff']:.3g}  "
                f"mean |diff| {rep['mean_abs_pixel_diff']:.3g}  "
                f"top-1 changed {100 * rep['top1_changed_share']:.3f}%  "
                f"ms/photo {rep['ms_per_photo_old']:.2f} -> {rep['ms_per_photo_new']:.2f}"
            )
        for line in total.differing[:10]:
            print("  differs:", line)
    return 0 if total.identical == total.photos else 1


if __name__ == "__main__":
    raise SystemExit(main())
