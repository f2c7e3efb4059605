"""After training: templates, thresholds, evaluation report with plots, and the OpenVINO export."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recognition.evaluate import impostor_targets
from recognition.training.dataset import Arrays
from recognition.verifier import Scores, Thresholds, decide, incomplete_of

F32 = npt.NDArray[np.float32]


def make_templates(
    emb: F32, labels: npt.NDArray[np.int32], ok: npt.NDArray[np.bool_], n: int
) -> F32:
    """One unit-length mean embedding per class (complete samples only): (n, 1, D)."""
    out = np.zeros((n, 1, emb.shape[1]), dtype=np.float32)
    for c in range(n):
        sel = emb[(labels == c) & ok]
        if len(sel):
            mean = sel.mean(0)
            out[c, 0] = mean / max(float(np.linalg.norm(mean)), 1e-9)
    return out


def _pair_scores(
    out: dict[str, F32],
    templates: F32,
    labels: npt.NDArray[np.int32],
    targets: npt.NDArray[np.int32],
) -> tuple[F32, F32]:
    p = out["probs"][np.arange(len(labels)), targets]
    sim = np.einsum("nd,nd->n", out["embedding"], templates[targets, 0])
    return p.astype(np.float32), sim.astype(np.float32)


@dataclass(frozen=True)
class Pairs:
    """Complete characters of a set scored against their own class (genuine) and against a
    different one (impostor): target probability and cosine to the template, each."""

    genuine_p: F32
    genuine_sim: F32
    impostor_p: F32
    impostor_sim: F32


def verification_pairs(out: dict[str, F32], data: Arrays, templates: F32, n_chars: int) -> Pairs:
    char = (data.labels < n_chars) & (data.incomplete == 0)
    labels = data.labels[char]
    sub = {k: v[char] for k, v in out.items()}
    gp, gs = _pair_scores(sub, templates, labels, labels)
    ip, is_ = _pair_scores(sub, templates, labels, impostor_targets(labels, n_chars))
    return Pairs(gp, gs, ip, is_)


def calibrate(out: dict[str, F32], data: Arrays, pairs: Pairs, n_chars: int) -> Thresholds:
    """Thresholds from the validation set: accept as many right answers as possible while
    letting through at most 0.5% of wrong ones, and flag incomplete characters while
    falsely flagging at most 3% of complete ones."""
    char = (data.labels < n_chars) & (data.incomplete == 0)
    gp, gs, ip, is_ = pairs.genuine_p, pairs.genuine_sim, pairs.impostor_p, pairs.impostor_sim
    best = (0.0, 0.5, 0.3)
    for accept in np.linspace(0.05, 0.95, 37):
        for sim in np.linspace(0.0, 0.9, 19):
            far = float(np.mean((ip >= accept) & (is_ >= sim)))
            if far > 0.005:
                continue
            rate = float(np.mean((gp >= accept) & (gs >= sim)))
            if rate > best[0]:
                best = (rate, float(accept), float(sim))
    complete_inc = incomplete_of(out["incomplete"][char], data.labels[char])
    # The 97th percentile of complete characters' scores: at most 3% falsely flagged.
    inc = float(np.clip(np.percentile(complete_inc, 97), 0.3, 0.95))
    return Thresholds(
        accept=round(best[1], 4), similarity=round(best[2], 4), incomplete=round(inc, 4)
    )


def evaluate(
    out: dict[str, F32], data: Arrays, templates: F32, th: Thresholds, chars: str
) -> dict[str, Any]:
    n = len(chars)
    probs = out["probs"]
    char = (data.labels < n) & (data.incomplete == 0)
    unk = data.labels == n
    inc = data.incomplete == 1
    top = np.argsort(-probs, axis=1)[:, :5]
    if not char.any():
        return {"images": 0, "unknown_images": int(unk.sum())}
    res: dict[str, Any] = {
        "images": int(char.sum()),
        "top1": float(np.mean(top[char, 0] == data.labels[char])),
        "top5": float(np.mean((top[char] == data.labels[char, None]).any(1))),
        "unknown_images": int(unk.sum()),
        "unknown_rejected": float(np.mean(probs[unk, :n].max(1) < th.accept))
        if unk.any()
        else None,
    }

    def verdicts(sel: npt.NDArray[np.bool_], targets: npt.NDArray[np.int32]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for i, t in zip(np.flatnonzero(sel), targets, strict=True):
            s = Scores.of(probs[i], out["embedding"][i], out["incomplete"][i])
            counts[decide(s, chars[t], chars, templates, th).outcome.value] += 1
        return counts

    labels = data.labels[char]
    own = verdicts(char, labels)
    other = verdicts(char, impostor_targets(labels, n))
    total = max(1, int(char.sum()))
    res["verify_accept_correct"] = own["correct"] / total
    res["verify_incomplete_false_flags"] = own["incomplete"] / total
    res["verify_accept_wrong"] = other["correct"] / total
    if inc.any():
        flagged = verdicts(inc, data.labels[inc])
        res["incomplete_images"] = int(inc.sum())
        res["incomplete_flagged"] = flagged["incomplete"] / int(inc.sum())
        res["incomplete_accepted_as_correct"] = flagged["correct"] / int(inc.sum())
    pairs: Counter[tuple[str, str]] = Counter()
    labels_all = (*chars, "unknown")
    for t, p in zip(data.labels[char], top[char, 0], strict=True):
        if t != p:
            pairs[(labels_all[t], labels_all[p])] += 1
    res["confusions"] = [f"{a}->{b} x{c}" for (a, b), c in pairs.most_common(25)]
    return res


def evaluate_real(
    model: Any, cfg: Any, templates: F32, th: Thresholds, chars: str
) -> dict[str, Any] | None:
    """Top-1 and verification on real handwriting folders (characters outside the set count
    as unknown): how well the synthetic training transfers."""
    if not cfg.real:
        return None
    from recognition.training.train import load_real, predict

    x, names = load_real(cfg.real, cfg.size)
    out = predict(model, x)
    n = len(chars)
    labels = np.array([chars.find(c) if c in chars else n for c in names], dtype=np.int32)
    data = Arrays(
        (x[..., 0] * 255).astype(np.uint8),
        labels,
        np.zeros(len(labels), np.uint8),
        np.zeros(len(labels), np.uint8),
        (*chars, "unknown"),
    )
    res = evaluate(out, data, templates, th, chars)
    per_char: dict[str, float] = {}
    top1 = out["probs"].argmax(1)
    for c in sorted(set(names)):
        sel = np.array([nm == c for nm in names])
        want = chars.find(c) if c in chars else n
        per_char[c] = float(np.mean(top1[sel] == want))
    res["per_character_top1"] = per_char
    return res


def _plots(work: Path, history: dict[str, list[float]], pairs: Pairs) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig: Any, name: str) -> Path:
        path = work / name
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("probs_accuracy", "val_probs_accuracy"):
        if key in history:
            ax[0].plot(history[key], label=key)
    for key in ("loss", "val_loss"):
        if key in history:
            ax[1].plot(history[key], label=key)
    ax[0].set_title("accuracy")
    ax[1].set_title("loss")
    for a in ax:
        a.legend()
        a.set_xlabel("epoch")
    curves = save(fig, "training_curves.png")

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    panels = (
        (ax[0], pairs.genuine_p, pairs.impostor_p, "target probability"),
        (ax[1], pairs.genuine_sim, pairs.impostor_sim, "cosine"),
    )
    ts = np.linspace(0, 1, 101)
    for a, g, i, name in panels:
        a.plot(ts, [np.mean(g >= t) for t in ts], label="right character accepted")
        a.plot(ts, [np.mean(i >= t) for t in ts], label="wrong character accepted")
        a.set_yscale("log")
        a.set_xlabel(name)
        a.legend()
    fig.suptitle("verification on the synthetic validation set")
    return [curves, save(fig, "verification_curves.png")]


def export(model: Any, out_dir: Path, work: Path) -> Path:
    """OpenVINO IR (FP16 weights) from the Keras model, via a SavedModel."""
    import openvino as ov  # type: ignore[import-untyped]

    saved = work / "saved_model"
    shutil.rmtree(saved, ignore_errors=True)
    model.export(str(saved), format="tf_saved_model", verbose=False)
    ov_model = ov.convert_model(str(saved))
    out_dir.mkdir(parents=True, exist_ok=True)
    xml = out_dir / "charmodel.xml"
    ov.save_model(ov_model, str(xml), compress_to_fp16=True)
    return xml


def openvino_probs(xml: Path, x: F32) -> F32:
    """Class probabilities from the exported IR, to compare with Keras."""
    from recognition.runtime import CompiledModel

    return np.asarray(CompiledModel(xml).infer(x)["probs"], dtype=np.float32)


def finish(
    cfg: Any, model: Any, history: dict[str, list[float]], val: Arrays, test: Arrays, chars: str
) -> dict[str, Any]:
    from recognition.training.train import config_json, log, predict

    n = len(chars)
    val_out = predict(model, (val.x.astype(np.float32) / 255.0)[..., None])
    ok = (val.incomplete == 0) & (val.blank == 0)
    templates = make_templates(val_out["embedding"], val.labels, ok, n)
    pairs = verification_pairs(val_out, val, templates, n)
    th = calibrate(val_out, val, pairs, n)
    log(f"thresholds: {th}")
    test_out = predict(model, (test.x.astype(np.float32) / 255.0)[..., None])
    report: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "config": config_json(cfg),
        "thresholds": _fields(th),
        "synthetic_test": evaluate(test_out, test, templates, th, chars),
        "real": evaluate_real(model, cfg, templates, th, chars),
        "history": {k: [float(x) for x in v] for k, v in history.items()},
    }
    xml = export(model, cfg.out, cfg.work)
    # The exported model must agree with Keras: same top-1 on the test sample.
    sample = (test.x[:512].astype(np.float32) / 255.0)[..., None]
    ov_probs = openvino_probs(xml, sample)
    agree = float(np.mean(ov_probs.argmax(1) == test_out["probs"][:512].argmax(1)))
    report["openvino_top1_agreement"] = agree
    np.save(cfg.out / "templates.npy", templates.astype(np.float16))
    (cfg.out / "charset.txt").write_text(chars + "\n", encoding="utf-8")
    meta = {
        "input_size": cfg.size,
        "classes": n + 1,
        "unknown_index": n,
        "thresholds": _fields(th),
        "ir": xml.name,
        "templates": "templates.npy",
        "charset": "charset.txt",
    }
    (cfg.out / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    plots = _plots(cfg.work, history, pairs)
    for p in plots:
        shutil.copy(p, cfg.out / p.name)
    (cfg.out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    shutil.copy(cfg.work / "training_log.csv", cfg.out / "training_log.csv")
    log(
        json.dumps(
            {
                k: v
                for k, v in report.items()
                if k in ("synthetic_test", "real", "openvino_top1_agreement")
            },
            ensure_ascii=False,
        )[:3000]
    )
    return report


def _fields(th: Thresholds) -> dict[str, Any]:
    return {f: getattr(th, f) for f in th.__slots__}
