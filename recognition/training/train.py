"""`hanzi-bot train`: generate synthetic data, train the character model, evaluate and export it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recognition.training.dataset import Arrays, Recipe, build

# The shipped model's shares of pen strokes, brush outlines and fonts in the training split
# (twice the generator's font share: handwriting fonts read real ink better, see the model
# card). The validation and test splits keep the generator's own mix.
SHIPPED_STYLES = (0.55, 0.09, 0.36)
# ... and its photo options beyond the generator's: half the training photos resampled
# through a coarse square (small writing, coarse scans; two seeds of short runs and a full
# run, model card). `--photo` options are applied on top of these.
SHIPPED_PHOTO: tuple[tuple[str, Any], ...] = (("lowres", 0.5),)


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    work: Path
    size: int = 48
    per_class: int = 350
    incomplete_per_class: int = 50
    unknown: int = 16000
    val_per_class: int = 40
    epochs: int = 12
    batch: int = 128
    lr: float = 2e-3
    seed: int = 2026
    workers: int = 2
    chars: str = ""  # empty: the HSK 1 charset
    widths: tuple[int, ...] = (32, 64, 128, 256)
    real: tuple[Path, ...] = ()
    progress: bool = True
    # Recipe experiments (tools/ablation.py); the defaults are the shipped recipe. The
    # synthetic options change the training split only, so that the held-out synthetic
    # figures of two recipes are measured on the same images (rendered with the
    # generator's own defaults, synth.STYLES among them).
    hand: tuple[tuple[str, Any], ...] = ()  # synth.HandOptions fields
    photo: tuple[tuple[str, Any], ...] = SHIPPED_PHOTO  # photo.PhotoOptions fields
    styles: tuple[float, float, float] | None = SHIPPED_STYLES  # pen, brush, font shares
    label_smoothing: float = 0.1
    incomplete_weight: float = 0.5
    # "class": one incomplete score per class ("X with strokes missing"); "single": one.
    incomplete_head: str = "class"
    guard_strokes: bool = False  # prepare the training split as real photos are
    # The share of training inputs whose ink is made fainter and uneven (_faint_ink): real
    # ink is lighter and less even than the synthetic. A full run at 0.5 (full10) read real
    # ink no better than the shipped model with its input_gamma (model card, "full10").
    faint: float = 0.0

    def recipe(self) -> Recipe:
        from recognition.training.photo import PhotoOptions
        from recognition.training.synth import HandOptions

        return Recipe(
            hand=HandOptions(**dict(self.hand)) if self.hand else None,
            photo=PhotoOptions(**dict(self.photo)) if self.photo else None,
            styles=self.styles,
            guard_strokes=self.guard_strokes,
        )


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _faint_ink(img: Any, size: int) -> Any:
    """Ink as a real pen and phone leave it: pressure that fades across the character (a
    smooth field that lightens some strokes, or parts of one, to as little as a fifth) and
    lighter mid-tones (a power of 1-2), so a stroke fainter than the others is still read.
    The darkest ink is stretched back to 1, as preprocessing does for a photo."""
    import tensorflow as tf

    coarse = tf.random.uniform([1, 3, 3, 1], 0.0, 1.0)
    field = tf.clip_by_value(tf.image.resize(coarse, [size, size], method="bicubic")[0], 0, 1)
    img = img * (1.0 - tf.random.uniform([], 0.2, 0.8) * field)
    img = tf.pow(img / tf.maximum(tf.reduce_max(img), 1e-3), tf.random.uniform([], 1.0, 2.0))
    return img / tf.maximum(tf.reduce_max(img), 1e-3)


def _augment_fn(size: int, faint: float = 0.0) -> Any:
    import tensorflow as tf

    def augment(x: Any, y: Any) -> Any:
        # Inputs are ink in [0, 1]. Small shifts and zooms: real crops are never centred
        # exactly; thicker strokes: pens and scanners differ.
        img = tf.cast(x, tf.float32)[..., None] / 255.0
        scale = tf.random.uniform([], 0.86, 1.08)
        new = tf.cast(tf.round(size * scale), tf.int32)
        img = tf.image.resize(img, [new, new])
        img = tf.image.resize_with_crop_or_pad(img, size, size)
        shift = tf.random.uniform([2], -3, 4, dtype=tf.int32)
        img = tf.roll(img, shift, axis=[0, 1])
        thicken = tf.random.uniform([]) < 0.2
        img = tf.cond(
            thicken,
            lambda: tf.nn.max_pool2d(img[None], 2, 1, "SAME")[0],
            lambda: img,
        )
        # This scale is undone by the stretch below (it never made ink fainter; that is
        # --faint's job); kept so the shipped recipe's random draws stay as they were.
        img = img * tf.random.uniform([], 0.55, 1.0)
        img = img / tf.maximum(tf.reduce_max(img), 1e-3)
        if faint > 0:  # no draw otherwise, so runs without it stay as they were
            img = tf.cond(tf.random.uniform([]) < faint, lambda: _faint_ink(img, size), lambda: img)
        return img, y

    return augment


def _inputs(a: Arrays) -> npt.NDArray[np.float32]:
    return (a.x.astype(np.float32) / 255.0)[..., None]


def train_model(cfg: TrainConfig, train: Arrays, val: Arrays) -> Any:
    import keras
    import tensorflow as tf

    from recognition.training.model import build_model, incomplete_loss, incomplete_targets

    keras.utils.set_random_seed(cfg.seed)
    n_classes = len(train.classes)
    per_class = cfg.incomplete_head == "class"
    model = build_model(cfg.size, n_classes, cfg.widths, incomplete_per_class=per_class)
    # Only the heads with a loss are trained; the embedding shares their layers.
    trainable = keras.Model(model.input, {k: model.output[k] for k in ("probs", "incomplete")})
    steps = max(1, len(train) // cfg.batch)
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.lr * 0.1, steps * cfg.epochs, warmup_target=cfg.lr, warmup_steps=steps // 2
    )
    trainable.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss={
            "probs": keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            "incomplete": incomplete_loss(per_class),
        },
        loss_weights={"probs": 1.0, "incomplete": cfg.incomplete_weight},
        metrics={"probs": ["accuracy"]},
    )

    def targets(a: Arrays) -> dict[str, Any]:
        return {
            "probs": keras.utils.to_categorical(a.labels, n_classes).astype(np.float32),
            "incomplete": incomplete_targets(a.labels, a.incomplete, n_classes, per_class),
        }

    ds = (
        tf.data.Dataset.from_tensor_slices((train.x, targets(train)))
        .shuffle(len(train), seed=cfg.seed, reshuffle_each_iteration=True)
        .map(_augment_fn(cfg.size, cfg.faint), num_parallel_calls=2)
        .batch(cfg.batch, drop_remainder=True)
        .prefetch(2)
    )
    val_ds = tf.data.Dataset.from_tensor_slices((_inputs(val), targets(val))).batch(256)
    cfg.work.mkdir(parents=True, exist_ok=True)
    history = trainable.fit(
        ds,
        validation_data=val_ds,
        epochs=cfg.epochs,
        shuffle=False,  # the dataset shuffles itself every epoch
        verbose=1 if cfg.progress else 2,
        callbacks=[keras.callbacks.CSVLogger(str(cfg.work / "training_log.csv"))],
    )
    model.save(cfg.work / "model.keras")
    return model, history.history


def predict(model: Any, x: npt.NDArray[np.float32]) -> dict[str, npt.NDArray[np.float32]]:
    out = model.predict(x, batch_size=256, verbose=0)
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def load_real(roots: Sequence[Path], size: int) -> tuple[npt.NDArray[np.float32], list[str]]:
    """Real handwriting folders (``<root>/<char>/*.png``) preprocessed like a photo."""
    from recognition.evaluate import image_folders
    from recognition.preprocess import NoInk, decode, prepare

    xs, labels = [], []
    for path, label in image_folders(*roots):
        try:
            img = prepare(decode(path.read_bytes()), size).image
        except NoInk:
            img = np.zeros((size, size), dtype=np.float32)
        xs.append(img)
        labels.append(label)
    return np.stack(xs)[..., None].astype(np.float32), labels


def keep_weights(cfg: TrainConfig, model: Any, classes: int) -> None:
    """Beside the IR: the Keras weights, which ``hanzi-bot retrain`` fine-tunes from (the IR
    has BatchNorm folded in), and a version in model.json."""
    from recognition.modelstore import stamp
    from recognition.training.model import WEIGHTS_FILE, Architecture, save_weights

    per_class = cfg.incomplete_head == "class"
    arch = Architecture(cfg.size, classes, cfg.widths, incomplete_per_class=per_class)
    save_weights(model, arch, cfg.out / WEIGHTS_FILE)
    log(f"version {stamp(cfg.out)}")


def parse_options(text: str, cls: type) -> tuple[tuple[str, Any], ...]:
    """``"pen=0.03,small_zoom=0.4:0.7"`` as (field, value) pairs of the dataclass ``cls``,
    each value of its default's type (a pair of numbers is written ``a:b``)."""
    defaults: dict[str, Any] = {f.name: f.default for f in fields(cls)}
    out: list[tuple[str, Any]] = []
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in defaults:
            raise SystemExit(f"hanzi-bot train: unknown {cls.__name__} field {name!r}")
        default = defaults[name]
        if isinstance(default, tuple):
            parsed: Any = tuple(type(d)(v) for d, v in zip(default, value.split(":"), strict=True))
        else:
            parsed = type(default)(value)
        out.append((name, parsed))
    return tuple(out)


def parse_args(argv: Sequence[str] | None) -> TrainConfig:
    p = argparse.ArgumentParser(prog="hanzi-bot train", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("models/char"), help="where the model goes")
    p.add_argument("--work", type=Path, default=Path(".cache/train"), help="data cache, logs")
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--per-class", type=int, default=350)
    p.add_argument("--incomplete", type=int, default=50, help="incomplete variants per class")
    p.add_argument("--unknown", type=int, default=16000)
    p.add_argument("--val-per-class", type=int, default=40)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--chars", default="", help="train on these characters only (smoke runs)")
    p.add_argument("--widths", default="32,64,128,256")
    p.add_argument(
        "--real",
        type=Path,
        action="append",
        default=[],
        help="folders of real handwriting (<dir>/<char>/*.png) to report transfer on",
    )
    p.add_argument("--no-progress", action="store_true")
    x = p.add_argument_group("recipe experiments (the training split only; defaults: shipped)")
    x.add_argument("--hand", default="", help="writer ranges, e.g. pen=0.03,elastic=2")
    shipped_photo = ",".join(f"{k}={v}" for k, v in SHIPPED_PHOTO)
    x.add_argument(
        "--photo",
        default="",
        help=f"photo options on top of the shipped ones ({shipped_photo}), e.g. grid=0,lowres=0",
    )
    x.add_argument(
        "--styles",
        default=",".join(str(v) for v in SHIPPED_STYLES),
        help="pen,brush,font shares of the training split (default: %(default)s)",
    )
    x.add_argument(
        "--guard-strokes",
        action="store_true",
        help="prepare the training split with the stroke guard real photos get (trained worse)",
    )
    x.add_argument(
        "--faint",
        type=float,
        default=0.0,
        help="share of training inputs given fainter, uneven ink (default: %(default)s)",
    )
    x.add_argument("--label-smoothing", type=float, default=0.1)
    x.add_argument("--incomplete-weight", type=float, default=0.5, help="its loss weight")
    x.add_argument(
        "--incomplete-head",
        choices=["single", "class"],
        default="class",
        help="one incomplete score, or one per class read at the target (default: %(default)s)",
    )
    a = p.parse_args(argv)
    from recognition.training.photo import PhotoOptions
    from recognition.training.synth import HandOptions

    styles: tuple[float, float, float] | None = None
    if a.styles:
        shares = [float(v) for v in a.styles.split(",")]
        if len(shares) != 3:
            raise SystemExit("hanzi-bot train: --styles takes three shares: pen,brush,font")
        styles = (shares[0], shares[1], shares[2])
    return TrainConfig(
        out=a.out,
        work=a.work,
        size=a.size,
        per_class=a.per_class,
        incomplete_per_class=a.incomplete,
        unknown=a.unknown,
        val_per_class=a.val_per_class,
        epochs=a.epochs,
        batch=a.batch,
        seed=a.seed,
        workers=a.workers,
        chars=a.chars,
        widths=tuple(int(w) for w in a.widths.split(",")),
        real=tuple(a.real),
        progress=not a.no_progress,
        hand=parse_options(a.hand, HandOptions),
        photo=tuple((dict(SHIPPED_PHOTO) | dict(parse_options(a.photo, PhotoOptions))).items()),
        styles=styles,
        label_smoothing=a.label_smoothing,
        incomplete_weight=a.incomplete_weight,
        incomplete_head=a.incomplete_head,
        guard_strokes=a.guard_strokes,
        faint=a.faint,
    )


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    from recognition.training.synth import hsk1_charset

    chars = cfg.chars or hsk1_charset()
    start = time.monotonic()
    common: dict[str, Any] = {
        "size": cfg.size,
        "workers": cfg.workers,
        "cache_dir": cfg.work / "data",
        "progress": cfg.progress,
    }
    log(f"data: {len(chars)} characters, {cfg.per_class} per class, input {cfg.size}px")
    train = build(
        chars,
        n_per_class=cfg.per_class,
        incomplete_per_class=cfg.incomplete_per_class,
        unknown=cfg.unknown,
        seed=cfg.seed,
        split="train",
        recipe=cfg.recipe(),
        **common,
    )
    held_out: dict[str, Any] = {
        "n_per_class": cfg.val_per_class,
        "incomplete_per_class": cfg.val_per_class // 2,
        "unknown": max(50, cfg.unknown * cfg.val_per_class // cfg.per_class),
    }
    # Other seeds, and build() picks the held-out fonts for these splits.
    val = build(chars, seed=cfg.seed + 1, split="val", **held_out, **common)
    test = build(chars, seed=cfg.seed + 2, split="test", **held_out, **common)
    log(
        f"data ready: train {len(train)}, val {len(val)}, test {len(test)} "
        f"in {time.monotonic() - start:.0f}s"
    )
    model, history = train_model(cfg, train, val)
    log(f"trained in {time.monotonic() - start:.0f}s")
    from recognition.training.report import finish

    finish(cfg, model, history, val, test, chars)
    keep_weights(cfg, model, len(chars) + 1)
    log(f"done in {time.monotonic() - start:.0f}s: {cfg.out}")
    return 0


def config_json(cfg: TrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()} | {
        "real": [str(r) for r in cfg.real]
    }


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "TrainConfig",
    "config_json",
    "keep_weights",
    "load_real",
    "main",
    "parse_options",
    "predict",
    "train_model",
]
