"""`hanzi-bot retrain --feedback DIR`: fine-tune the installed character model on exported user
corrections mixed with synthetic data, and install it only if it is at least as good."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from recognition import modelstore
from recognition.evaluate import UNKNOWN_DIR, image_folders, impostor_targets
from recognition.preprocess import NoInk, decode, prepare, raise_ink
from recognition.training.dataset import Arrays, build
from recognition.verifier import Outcome, Scores, Thresholds, decide

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]

MANIFEST = "manifest.jsonl"
# Kept weights that differ more than this from the IR beside them belong to another model
# (the IR was replaced by hand): the IR wins and the weights are recovered from it again.
# A fine-tuned model's FP16 export differs from its own weights by about 1e-3.
WEIGHTS_MATCH = 0.02
EXAMPLES = 5  # skipped files named per reason in the report

RULE = (
    "The new model is installed only if, on the same held-out data, none of these is worse "
    "than the current model's by more than the tolerance (absolute, in rate units): "
    "feedback right answers accepted (verify against the label), feedback wrong answers "
    "accepted (verify against another character, the same one for both models; lower is "
    "better), feedback unknown writing rejected (naming, below the 'known' threshold), "
    "synthetic top-1. Feedback figures with no held-out images of their kind are not "
    "measured and do not count. Both models are measured alone, without the second "
    "opinion, at the thresholds in model.json."
)


class RetrainError(Exception):
    """Input the admin can fix: a missing folder, no usable images, a missing model."""


@dataclass(frozen=True)
class RetrainConfig:
    feedback: Path
    model_dir: Path
    work: Path = Path(".cache/retrain")
    epochs: int = 3
    synthetic_per_class: int = 60
    held_out_per_class: int = 10
    seed: int = 2026
    lr: float = 3e-4
    batch: int = 64
    holdout: float = 0.25
    feedback_share: float = 0.25
    tolerance: float = 0.01
    keep: int = modelstore.KEEP
    workers: int = 2
    dry_run: bool = False
    progress: bool = True


@dataclass(frozen=True, eq=False)
class Feedback:
    """The usable exported images, preprocessed like a photo, and what was left out."""

    x: U8  # (N, S, S) ink, 255 darkest, like the synthetic arrays
    labels: I32  # model classes: the charset, then unknown
    files: tuple[str, ...]  # relative to the feedback folder
    writers: tuple[str, ...]  # "" when the manifest does not say
    found: int
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> files
    as_unknown: dict[str, int] = field(default_factory=dict)  # folders outside the charset

    def __len__(self) -> int:
        return len(self.labels)


def log(msg: str) -> None:
    print(f"[retrain {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _bar(items: Sequence[Any], desc: str, enabled: bool) -> Any:
    if not enabled:
        return items
    import importlib

    return importlib.import_module("tqdm").tqdm(items, desc=desc, unit="img")


def _manifest(root: Path) -> tuple[dict[str, str], set[str], int]:
    """From the optional manifest: file -> pseudonymous writer, the files whose correction
    an admin rejected, and the number of unreadable lines."""
    path = root / MANIFEST
    writers: dict[str, str] = {}
    rejected: set[str] = set()
    bad = 0
    if not path.is_file():
        return writers, rejected, bad
    for line in path.read_text("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            file = Path(str(entry["file"])).as_posix()
            writers[file] = str(entry.get("user") or "")
            if entry.get("status") == "rejected":
                rejected.add(file)
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
    return writers, rejected, bad


def load_feedback(
    root: Path, charset: str, size: int, progress: bool = False, gamma: float = 1.0
) -> Feedback:
    """``root/<character>/*.png`` and ``root/unknown/*.png`` as the model's classes.

    Each image is prepared as the bot prepares a photo for the model, ink raised to
    ``gamma`` included (``model.json`` ``input_gamma``): the model learns from and is
    measured on real ink as it will read it. Synthetic ink is not raised.

    As in ``hanzi-bot evaluate chars``, a folder named after one character outside the
    charset is unknown writing (that is what the model should call it); other folder
    names, unreadable images, images without ink and corrections the manifest marks as
    rejected are skipped and reported.
    """
    if not root.is_dir():
        raise RetrainError(f"{root} is not a folder")
    pairs = image_folders(root)
    if not pairs:
        raise RetrainError(
            f"no images in {root} (expected {root}/<character>/*.png and {root}/unknown/*.png)"
        )
    writers, rejected, bad_lines = _manifest(root)
    n = len(charset)
    xs: list[U8] = []
    labels: list[int] = []
    files: list[str] = []
    who: list[str] = []
    skipped: dict[str, list[str]] = {}
    as_unknown: Counter[str] = Counter()
    for path, folder in _bar(pairs, "feedback", progress):
        rel = path.relative_to(root).as_posix()
        if rel in rejected:
            # The export can include corrections an admin turned down: their label is wrong.
            skipped.setdefault("correction rejected by an admin (manifest status)", []).append(rel)
            continue
        if folder == UNKNOWN_DIR:
            label = n
        elif len(folder) == 1:
            label = charset.find(folder) if folder in charset else n
            if label == n:
                as_unknown[folder] += 1
        else:
            skipped.setdefault("folder is not one character or 'unknown'", []).append(rel)
            continue
        try:
            ink = raise_ink(prepare(decode(path.read_bytes()), size).image, gamma)
        except NoInk:
            skipped.setdefault("no ink found", []).append(rel)
            continue
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
            # Warning: decode turns PIL's decompression-bomb warning into an error.
            skipped.setdefault("not a readable image", []).append(rel)
            continue
        xs.append(np.round(ink * 255).astype(np.uint8))
        labels.append(label)
        files.append(rel)
        who.append(writers.get(rel, ""))
    if bad_lines:
        skipped[f"{MANIFEST} lines unreadable (writers unknown for them)"] = [""] * bad_lines
    if not xs:
        reasons = ", ".join(f"{len(v)} {k}" for k, v in skipped.items())
        raise RetrainError(f"none of the {len(pairs)} images in {root} can be used ({reasons})")
    return Feedback(
        np.stack(xs),
        np.array(labels, np.int32),
        tuple(files),
        tuple(who),
        len(pairs),
        skipped,
        dict(as_unknown),
    )


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def split(fb: Feedback, share: float, seed: int) -> tuple[I32, I32, str]:
    """Train and held-out indices, deterministic. Whole writers go to one side when the
    manifest names at least two; otherwise single images do."""
    named = {w for w in fb.writers if w}
    by_writer = len(named) >= 2
    groups: dict[str, list[int]] = {}
    for i, (f, w) in enumerate(zip(fb.files, fb.writers, strict=True)):
        key = f"writer:{w}" if by_writer and w else f"file:{f}"
        groups.setdefault(key, []).append(i)
    target = round(share * len(fb)) if len(fb) >= 2 else 0
    held: list[int] = []
    order = sorted(groups, key=lambda k: _rank(seed, k))
    for key in order:
        if len(held) + len(groups[key]) <= target:
            held += groups[key]
    if target and not held:
        # Every group is bigger than the share: hold out the smallest, unless it is all.
        smallest = min(order, key=lambda k: len(groups[k]))
        if len(groups[smallest]) < len(fb):
            held = list(groups[smallest])
    chosen = set(held)
    train = np.array([i for i in range(len(fb)) if i not in chosen], np.int32)
    how = (
        f"by writer ({len(named)} writers in {MANIFEST})"
        if by_writer
        else "by image (the manifest names fewer than two writers)"
    )
    return train, np.array(sorted(chosen), np.int32), how


def _inputs(x: U8) -> F32:
    return (x.astype(np.float32) / 255.0)[..., None]


def figures(
    out: dict[str, F32],
    labels: I32,
    incomplete: npt.NDArray[np.uint8],
    templates: F32,
    th: Thresholds,
    charset: str,
) -> dict[str, Any]:
    """The rates the acceptance rule compares, for one model on one set of images."""
    n = len(charset)
    probs = out["probs"]
    char = np.flatnonzero((labels < n) & (incomplete == 0))
    unk = np.flatnonzero(labels == n)
    inc = np.flatnonzero(incomplete == 1)

    def outcomes(rows: npt.NDArray[np.intp], targets: I32) -> Counter[Outcome]:
        got: Counter[Outcome] = Counter()
        for i, t in zip(rows, targets, strict=True):
            s = Scores.of(probs[i], out["embedding"][i], out["incomplete"][i])
            got[decide(s, charset[t], charset, templates, th).outcome] += 1
        return got

    res: dict[str, Any] = {"images": len(char), "unknown_images": len(unk)}
    if len(char):
        own = labels[char]
        res["top1"] = float(np.mean(probs[char].argmax(1) == own))
        res["verify_accept_correct"] = outcomes(char, own)[Outcome.CORRECT] / len(char)
        wrong = impostor_targets(own, n)
        res["verify_accept_wrong"] = outcomes(char, wrong)[Outcome.CORRECT] / len(char)
    if len(unk):
        res["unknown_rejected"] = float(np.mean(probs[unk, :n].max(1) < th.known))
    if len(inc):
        res["incomplete_images"] = len(inc)
        flagged = outcomes(inc, labels[inc])[Outcome.INCOMPLETE]
        res["incomplete_flagged"] = flagged / len(inc)
    return res


@dataclass(frozen=True)
class Criterion:
    part: str  # feedback or synthetic
    metric: str
    label: str
    higher_is_better: bool
    old: float | None
    new: float | None
    passed: bool | None  # None: not measured


CRITERIA = (
    ("feedback", "verify_accept_correct", "feedback right answers accepted", True),
    ("feedback", "verify_accept_wrong", "feedback wrong answers accepted", False),
    ("feedback", "unknown_rejected", "feedback unknown writing rejected", True),
    ("synthetic", "top1", "synthetic top-1", True),
)


def judge(old: dict[str, Any], new: dict[str, Any], tolerance: float) -> list[Criterion]:
    out = []
    for part, metric, label, higher in CRITERIA:
        a, b = old[part].get(metric), new[part].get(metric)
        passed = None
        if a is not None and b is not None:
            passed = b >= a - tolerance if higher else b <= a + tolerance
        out.append(Criterion(part, metric, label, higher, a, b, passed))
    return out


def _start_model(cfg: RetrainConfig, xml: Path, calibration: F32, check: F32) -> tuple[Any, str]:
    """The current model in Keras: its kept weights, or rebuilt from the IR."""
    from recognition.training.model import WEIGHTS_FILE, load_weights
    from recognition.training.recover import keras_from_ir, max_difference

    kept = cfg.model_dir / WEIGHTS_FILE
    if kept.is_file():
        try:
            model, _ = load_weights(kept)
            diff = max(max_difference(model, xml, check).values())
            if diff <= WEIGHTS_MATCH:
                return model, f"{WEIGHTS_FILE} (max output difference to the IR {diff:.2g})"
            log(f"{WEIGHTS_FILE} differs from the IR by {diff:.3g}: recovering from the IR")
        except (ValueError, KeyError, OSError) as exc:
            log(f"{WEIGHTS_FILE} cannot be used ({exc}): recovering from the IR")
    model = keras_from_ir(xml, calibration)
    diff = max(max_difference(model, xml, check).values())
    return model, f"recovered from the IR (max output difference {diff:.2g})"


def fine_tune(cfg: RetrainConfig, model: Any, data: Arrays) -> dict[str, list[float]]:
    """A few epochs at a low, decaying learning rate, with the trainer's augmentation."""
    import keras
    import tensorflow as tf

    from recognition.training.model import incomplete_loss, incomplete_targets
    from recognition.training.train import _augment_fn

    keras.utils.set_random_seed(cfg.seed)
    n_classes = len(data.classes)
    per_class = int(model.output["incomplete"].shape[-1]) > 1
    trainable = keras.Model(model.input, {k: model.output[k] for k in ("probs", "incomplete")})
    batch = max(1, min(cfg.batch, len(data)))
    steps = max(1, len(data) // batch)
    trainable.compile(
        optimizer=keras.optimizers.AdamW(
            keras.optimizers.schedules.CosineDecay(cfg.lr, steps * cfg.epochs),
            weight_decay=1e-4,
        ),
        loss={
            "probs": keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
            "incomplete": incomplete_loss(per_class),
        },
        loss_weights={"probs": 1.0, "incomplete": 0.5},
        metrics={"probs": ["accuracy"]},
    )
    targets = {
        "probs": keras.utils.to_categorical(data.labels, n_classes).astype(np.float32),
        "incomplete": incomplete_targets(data.labels, data.incomplete, n_classes, per_class),
    }
    size = int(data.x.shape[1])
    ds = (
        tf.data.Dataset.from_tensor_slices((data.x, targets))
        .shuffle(len(data), seed=cfg.seed, reshuffle_each_iteration=True)
        .map(_augment_fn(size), num_parallel_calls=2)
        .batch(batch, drop_remainder=True)
        .prefetch(2)
    )
    # The dataset shuffles itself every epoch.
    history = trainable.fit(ds, epochs=cfg.epochs, shuffle=False, verbose=1 if cfg.progress else 2)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _mix(synth: Arrays, fb: Feedback, rows: I32, share: float) -> tuple[Arrays, int]:
    """Synthetic data with the feedback images repeated until they are about ``share`` of
    the mix (at most 20 times: a handful of photos should not be learnt by heart)."""
    if not len(rows):
        return synth, 0
    want = share * len(synth) / max(1e-9, 1 - share)
    repeats = int(np.clip(round(want / len(rows)), 1, 20))
    idx = np.tile(rows, repeats)
    mixed = Arrays(
        np.concatenate([synth.x, fb.x[idx]]),
        np.concatenate([synth.labels, fb.labels[idx]]).astype(np.int32),
        np.concatenate([synth.incomplete, np.zeros(len(idx), np.uint8)]),
        np.concatenate([synth.blank, np.zeros(len(idx), np.uint8)]),
        synth.classes,
    )
    return mixed, repeats


def _stage(
    cfg: RetrainConfig, model: Any, meta: dict[str, Any], synth: Arrays, parent: str
) -> tuple[Path, str]:
    """The fine-tuned model written as a complete model directory beside the current one."""
    from recognition.training.model import WEIGHTS_FILE, save_weights
    from recognition.training.recover import read_ir
    from recognition.training.report import export, make_templates
    from recognition.training.train import predict

    staged = modelstore.staging_dir(cfg.model_dir)
    try:
        regenerated = {meta["ir"], Path(meta["ir"]).with_suffix(".bin").name, meta["templates"]}
        regenerated |= {WEIGHTS_FILE, modelstore.MODEL_JSON, modelstore.RETRAIN_REPORT}
        for f in cfg.model_dir.iterdir():
            # The charset, model card, calibration and training reports describe the
            # lineage; they travel with the model.
            if f.is_file() and f.name not in regenerated:
                shutil.copy2(f, staged / f.name)
        xml = export(model, staged, cfg.work)
        if xml.name != meta["ir"]:
            xml.rename(staged / meta["ir"])
            xml.with_suffix(".bin").rename((staged / meta["ir"]).with_suffix(".bin"))
        save_weights(model, read_ir(staged / meta["ir"]).arch, staged / WEIGHTS_FILE)
        n = len(synth.classes) - 1
        emb = predict(model, _inputs(synth.x))["embedding"]
        ok = (synth.incomplete == 0) & (synth.blank == 0)
        templates = make_templates(emb, synth.labels, ok, n)
        np.save(staged / meta["templates"], templates.astype(np.float16))
        (staged / modelstore.MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        version = modelstore.stamp(staged, parent=parent)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged, version


def _measure(xml: Path, templates: F32, th: Thresholds, charset: str, sets: Any) -> Any:
    from recognition.training.recover import ir_outputs

    return {
        name: figures(ir_outputs(xml, _inputs(x)), labels, inc, templates, th, charset)
        if len(labels)
        else {"images": 0, "unknown_images": 0}
        for name, (x, labels, inc) in sets.items()
    }


def run(cfg: RetrainConfig) -> dict[str, Any]:
    """Fine-tune, compare, install or not; returns the report (also written to disk)."""
    start = time.monotonic()
    meta_path = cfg.model_dir / modelstore.MODEL_JSON
    if not meta_path.is_file():
        raise RetrainError(f"no character model in {cfg.model_dir} (model.json is missing)")
    meta = json.loads(meta_path.read_text("utf-8"))
    charset = (cfg.model_dir / meta["charset"]).read_text("utf-8").strip()
    size = int(meta["input_size"])
    xml = cfg.model_dir / meta["ir"]
    th = Thresholds(**meta["thresholds"])
    old_version = modelstore.model_version(cfg.model_dir)

    gamma = float(meta.get("input_gamma", 1.0))
    fb = load_feedback(cfg.feedback, charset, size, cfg.progress, gamma)
    train_rows, held_rows, how = split(fb, cfg.holdout, cfg.seed)
    log(
        f"feedback: {len(fb)} of {fb.found} images usable, {len(train_rows)} to train on, "
        f"{len(held_rows)} held out, split {how}"
    )

    common: dict[str, Any] = {
        "size": size,
        "workers": cfg.workers,
        "cache_dir": cfg.work / "data",
        "progress": cfg.progress,
    }
    per = cfg.synthetic_per_class
    synth = build(
        charset,
        n_per_class=per,
        incomplete_per_class=per // 7,
        unknown=max(10, per * len(charset) // 4),
        seed=cfg.seed,
        split="train",
        **common,
    )
    held = cfg.held_out_per_class
    # The trainer's test split and seed: fonts and seeds no model has been trained on.
    synth_test = build(
        charset,
        n_per_class=held,
        incomplete_per_class=held // 2,
        unknown=max(10, held * len(charset) // 4),
        seed=cfg.seed + 2,
        split="test",
        **common,
    )

    rng = np.random.default_rng(cfg.seed)
    calibration = _inputs(synth.x[rng.permutation(len(synth))[:2048]])
    check = _inputs(synth_test.x[:512])
    model, source = _start_model(cfg, xml, calibration, check)
    log(f"starting from {old_version}: {source}")

    mixed, repeats = _mix(synth, fb, train_rows, cfg.feedback_share)
    log(f"fine-tuning on {len(mixed)} images ({len(train_rows)} feedback x{repeats})")
    history = fine_tune(cfg, model, mixed)

    staged, new_version = _stage(cfg, model, dict(meta), synth, old_version)
    try:
        new_meta = json.loads((staged / modelstore.MODEL_JSON).read_text("utf-8"))
        sets = {
            "feedback": (fb.x[held_rows], fb.labels[held_rows], np.zeros(len(held_rows), np.uint8)),
            "synthetic": (synth_test.x, synth_test.labels, synth_test.incomplete),
        }
        old_templates = np.load(cfg.model_dir / meta["templates"]).astype(np.float32)
        new_templates = np.load(staged / new_meta["templates"]).astype(np.float32)
        old = _measure(xml, old_templates, th, charset, sets)
        new = _measure(staged / new_meta["ir"], new_templates, th, charset, sets)
        criteria = judge(old, new, cfg.tolerance)
        accept = all(c.passed is not False for c in criteria)
        report: dict[str, Any] = {
            "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "decision": _decision(accept, cfg.dry_run),
            "installed": accept and not cfg.dry_run,
            "reasons": _reasons(criteria, cfg.tolerance),
            "rule": RULE,
            "tolerance": cfg.tolerance,
            "model_dir": str(cfg.model_dir),
            "old_version": old_version,
            "new_version": new_version,
            "start_weights": source,
            "feedback": {
                "dir": str(cfg.feedback),
                "images_found": fb.found,
                "used": len(fb),
                "train": len(train_rows),
                "held_out": len(held_rows),
                "split": how,
                "repeats_in_training": repeats,
                "outside_charset_used_as_unknown": fb.as_unknown,
                "skipped": {k: len(v) for k, v in fb.skipped.items()},
                "skipped_examples": {
                    k: [f for f in v if f][:EXAMPLES] for k, v in fb.skipped.items()
                },
                "held_out_files": [fb.files[i] for i in held_rows],
            },
            "synthetic": {"train": len(synth), "held_out": len(synth_test)},
            "criteria": [asdict(c) for c in criteria],
            "old": old,
            "new": new,
            "history": history,
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        }
        (staged / modelstore.RETRAIN_REPORT).write_text(_dump(report), "utf-8")
        if report["installed"]:
            previous = modelstore.install(staged, cfg.model_dir, cfg.keep)
            report["installed_at"] = str(cfg.model_dir)
            report["previous_kept_at"] = str(previous)
        else:
            candidate = cfg.work / "candidate"
            shutil.rmtree(candidate, ignore_errors=True)
            cfg.work.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staged), candidate)
            report["candidate_kept_at"] = str(candidate)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - start, 1)
    path = cfg.work / f"report-{new_version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dump(report), "utf-8")
    report["report_path"] = str(path)
    return report


def _dump(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _decision(accept: bool, dry_run: bool) -> str:
    if dry_run:
        return "dry run: would install" if accept else "dry run: would not install"
    return "installed" if accept else "not installed"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:5.1f}%"


def _reasons(criteria: Sequence[Criterion], tolerance: float) -> list[str]:
    failed = [c for c in criteria if c.passed is False]
    unmeasured = [c.label for c in criteria if c.passed is None]
    out = [
        f"{c.label} {'fell' if c.higher_is_better else 'rose'} from {_pct(c.old).strip()} "
        f"to {_pct(c.new).strip()}, more than the tolerance of {100 * tolerance:.1f} points"
        for c in failed
    ]
    if not failed:
        out.append(f"no figure is worse by more than {100 * tolerance:.1f} points")
    if unmeasured:
        out.append(f"not measured (no held-out images of that kind): {', '.join(unmeasured)}")
    return out


def summary(report: dict[str, Any]) -> str:
    """The few lines an admin reads at the end of a run."""
    fb = report["feedback"]
    skipped = ", ".join(f"{n} {why}" for why, n in fb["skipped"].items()) or "none"
    lines = [
        f"Feedback {fb['dir']}: {fb['used']} of {fb['images_found']} images used "
        f"({fb['train']} to train on, {fb['held_out']} held out, split {fb['split']}); "
        f"skipped: {skipped}.",
    ]
    if fb["outside_charset_used_as_unknown"]:
        names = ", ".join(f"{k} x{v}" for k, v in fb["outside_charset_used_as_unknown"].items())
        lines.append(f"Labels outside the charset, trained as unknown writing: {names}.")
    lines.append(f"Started from {report['old_version']}: {report['start_weights']}.")
    lines.append(f"{'':36} {'current':>8} {'new':>8}")
    for c in report["criteria"]:
        mark = {True: "ok", False: "WORSE", None: "not measured"}[c["passed"]]
        lines.append(f"{c['label']:36} {_pct(c['old']):>8} {_pct(c['new']):>8}  {mark}")
    lines.append(f"Decision: {report['decision']}: " + "; ".join(report["reasons"]) + ".")
    if report["installed"]:
        lines.append(
            f"Installed {report['new_version']} (parent {report['old_version']}) in "
            f"{report['installed_at']}; the previous model is kept in "
            f"{report['previous_kept_at']} (hanzi-bot model rollback puts it back). "
            f"{modelstore.RESTART}"
        )
    else:
        lines.append(
            f"The active model is unchanged ({report['old_version']}); the candidate is in "
            f"{report['candidate_kept_at']}."
        )
    lines.append(f"Report: {report['report_path']} ({report['seconds']:.0f} s).")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None, default_model_dir: Path | None) -> RetrainConfig:
    p = argparse.ArgumentParser(prog="hanzi-bot retrain", description=__doc__)
    p.add_argument("--feedback", type=Path, required=True, help="exported corrections folder")
    p.add_argument(
        "--model-dir",
        type=Path,
        default=default_model_dir,
        required=default_model_dir is None,
        help="the character model to improve (default: HANZI_MODEL_DIR/char)",
    )
    p.add_argument("--work", type=Path, default=Path(".cache/retrain"), help="cache, reports")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--synthetic-per-class", type=int, default=60)
    p.add_argument("--held-out-per-class", type=int, default=10, help="synthetic test images")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--holdout", type=float, default=0.25, help="share of feedback held out")
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="how much worse (absolute rate) a figure may get and still install (0.01)",
    )
    p.add_argument("--keep", type=int, default=modelstore.KEEP, help="previous versions kept")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--dry-run", action="store_true", help="train and compare, install nothing")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    return RetrainConfig(
        feedback=a.feedback,
        model_dir=a.model_dir,
        work=a.work,
        epochs=a.epochs,
        synthetic_per_class=a.synthetic_per_class,
        held_out_per_class=a.held_out_per_class,
        seed=a.seed,
        lr=a.lr,
        batch=a.batch,
        holdout=a.holdout,
        tolerance=a.tolerance,
        keep=a.keep,
        workers=a.workers,
        dry_run=a.dry_run,
        progress=not a.no_progress,
    )


def main(argv: Sequence[str] | None = None, default_model_dir: Path | None = None) -> int:
    cfg = parse_args(argv, default_model_dir)
    try:
        report = run(cfg)
    except (RetrainError, modelstore.StoreError) as exc:
        print(f"hanzi-bot retrain: {exc}", file=sys.stderr)
        return 2
    print(summary(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Feedback", "RetrainConfig", "RetrainError", "load_feedback", "main", "run", "split"]
