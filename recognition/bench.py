"""`hanzi-bot bench recognition`: photos per second through our service against the Keras way."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from recognition.charmodel import CharModel, Tally, load_char_model
from recognition.grading import CharacterGrader
from recognition.runtime import default_threads


def rss_mib() -> float:
    """Resident memory of this process, from /proc (Linux), in MiB; 0 where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sample_photos(charset: str, n: int, seed: int = 7) -> list[tuple[bytes, str]]:
    """``n`` synthetic phone photos (JPEG, 256 px) of HSK 1 characters with their labels."""
    from recognition.training.synth import generate

    per = max(1, -(-n // len(charset)))
    ds = generate(charset, per, seed, 128, "test", unknown=0, progress=False)
    out: list[tuple[bytes, str]] = []
    for img, label in zip(ds.images, ds.labels, strict=True):
        buf = io.BytesIO()
        Image.fromarray(img).resize((256, 256), Image.Resampling.BILINEAR).save(
            buf, "JPEG", quality=85
        )
        out.append((buf.getvalue(), label))
    order = np.random.default_rng(seed).permutation(len(out))[:n]
    return [out[i] for i in order]


def folder_photos(root: Path, charset: str, n: int, seed: int = 7) -> list[tuple[bytes, str]]:
    """Up to ``n`` photos from ``root/<character>/*`` (``hanzi-bot evaluate chars``'s layout),
    a seeded sample across the folders, each with its character as the target ("" for
    folders that are not one character of the set: classified instead)."""
    from recognition.evaluate import UNKNOWN_DIR, collect

    items = collect(root, charset)
    order = np.random.default_rng(seed).permutation(len(items))[:n]
    return [
        (items[i].path.read_bytes(), "" if items[i].label == UNKNOWN_DIR else items[i].label)
        for i in order
    ]


async def _ours(model: CharModel, photos: list[tuple[bytes, str]], concurrency: int) -> float:
    grader = CharacterGrader(model, max_batch=32, max_pending=max(256, concurrency))
    gate = asyncio.Semaphore(concurrency)

    async def one(data: bytes, target: str) -> None:
        async with gate:
            await grader.judge(data, target)

    try:
        await asyncio.gather(*(one(d, t) for d, t in photos[:concurrency]))  # warm-up
        model.tally = Tally()
        warm_batches, warm_thorough = grader.service.stats.batches, grader.thorough_batches
        start = time.perf_counter()
        await asyncio.gather(*(one(d, t) for d, t in photos))
        elapsed = time.perf_counter() - start
        stats = grader.service.stats
        print(
            f"  batches: {stats.batches - warm_batches}, largest {stats.largest_batch}; "
            f"{grader.thorough_batches - warm_thorough} judged thoroughly (service not busy)"
        )
        print(f"  second opinion: {model.tally.line()}")
    finally:
        await grader.close()
    return elapsed


def _keras_path(model: CharModel, photos: list[tuple[bytes, str]]) -> float | None:
    """The reference's way: TensorFlow loaded, ``model.predict`` on one photo at a time.

    The same architecture and preprocessing as ours (weights do not change its speed), so
    the ratio measures what OpenVINO and batching buy.
    """
    try:
        from recognition.training.model import build_model
    except ImportError:
        return None
    from recognition.preprocess import NoInk, decode, prepare

    keras_model = build_model(model.size, len(model.labels))
    blank = np.zeros((1, model.size, model.size, 1), dtype=np.float32)
    keras_model.predict(blank, verbose=0)
    start = time.perf_counter()
    for data, _ in photos:
        try:
            x = prepare(decode(data), model.size).image[None, ..., None]
        except NoInk:
            x = blank
        keras_model.predict(x, verbose=0)
    return time.perf_counter() - start


def bench_recognition(
    model_dir: Path, *, images: int = 512, concurrency: int = 64, photos_dir: Path | None = None
) -> int:
    """``photos_dir``: real photos (``DIR/<character>/*``) instead of synthetic ones, which
    the model mostly reads with certainty (so they rarely take the second look)."""
    base = rss_mib()
    model = load_char_model(model_dir, processes=default_threads())
    loaded = rss_mib()
    start = time.perf_counter()
    sizes = model.warm_up()  # as the bot does at start (CharacterGrader.start_warm_up)
    warm = time.perf_counter() - start
    if photos_dir is None:
        photos = sample_photos(model.charset, images)
        what = "JPEG photos (256 px)"
    else:
        photos = folder_photos(photos_dir, model.charset, images)
        what = f"photos from {photos_dir}"
    views = model.views
    framing = (
        f"{1 + len(views.margins)} framings when unsure (< {views.below})"
        if views.margins
        else "1 framing"
    )
    print(f"recognition benchmark: {len(photos)} {what}, input {model.size} px, {framing}")
    print(f"resident memory: {base:.0f} MiB before the model, {loaded:.0f} MiB with it loaded")
    print(f"warm-up (as the bot does at start): {sizes} input shapes in {warm:.1f} s")
    ours = asyncio.run(_ours(model, photos, concurrency))  # closes the model at the end
    ours_rate = len(photos) / ours
    print(
        f"ours (OpenVINO, batching, {concurrency} concurrent): {ours_rate:8.1f} photos/s, "
        f"{1000 * ours / len(photos):6.2f} ms/photo"
    )
    # Fewer photos for the slow path: its rate is steady after a few dozen.
    keras_photos = photos[: min(len(photos), 128)]
    keras = _keras_path(model, keras_photos)
    if keras is None:
        print("keras (model.predict, one at a time): skipped, the train extra is not installed")
        return 0
    keras_rate = len(keras_photos) / keras
    print(
        f"keras (model.predict, one at a time):        {keras_rate:8.1f} photos/s, "
        f"{1000 * keras / len(keras_photos):6.2f} ms/photo"
    )
    print(f"ratio ours / keras: {ours_rate / keras_rate:.1f}x")
    print(f"resident memory at the end: {rss_mib():.0f} MiB")
    return 0


__all__ = ["bench_recognition", "folder_photos", "rss_mib", "sample_photos"]
