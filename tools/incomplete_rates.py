"""How well a character model flags missing strokes, on a synthetic test set.

Usage: python tools/incomplete_rates.py MODEL_DIR TEST_NPZ [--json]
       python tools/incomplete_rates.py MODEL_DIR --photos [--per-class 40] [--json]

TEST_NPZ is a test split as ``hanzi-bot train`` caches it (``<work>/data/test-*.npz``:
prepared inks, labels, incomplete and blank flags). Every complete character and every
incomplete variant is verified against its own character with the model's thresholds
(``model.json``), the model alone (the second opinion needs the photo, which the cache does
not keep). Prints the share of incomplete variants called incomplete, the share of complete
characters falsely called incomplete, and, for the incomplete score alone at the target,
the share flagged at the scores that falsely flag 3% and 5% of complete characters.

``--photos`` renders the photos of the training run's test split instead (seed 2028,
held-out fonts; ``--per-class`` complete characters and half as many incomplete variants
of each, and ``--unknown`` negatives named without a target) and judges each one as the bot
does, from its PNG bytes, with the model's readers, at both operating points (fast and
thorough): the verdicts a learner would get.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recognition.charmodel import CharModel, Job, load_char_model  # noqa: E402
from recognition.evaluate import judge_in_batches  # noqa: E402
from recognition.verifier import Outcome, decide, incomplete_of  # noqa: E402


def rates(model: CharModel, npz: Path) -> dict[str, Any]:
    data = np.load(npz)
    n = len(model.charset)
    labels = data["labels"]
    complete = (labels < n) & (data["incomplete"] == 0) & (data["blank"] == 0)
    partial = (labels < n) & (data["incomplete"] == 1)
    rows = np.flatnonzero(complete | partial)
    inks = [(data["x"][i].astype(np.float32) / 255.0) for i in rows]
    scores = [s for i in range(0, len(inks), 256) for s in model.scores(inks[i : i + 256])]
    outcome = np.array(
        [
            decide(
                s, model.charset[labels[i]], model.charset, model.templates, model.thresholds
            ).outcome.value
            for s, i in zip(scores, rows, strict=True)
        ]
    )
    inc_scores = incomplete_of(
        np.stack(
            [
                s.incomplete_by_class if s.incomplete_by_class is not None else [s.incomplete]
                for s in scores
            ]
        ),
        labels[rows],
    )
    is_partial = partial[rows]
    res: dict[str, Any] = {
        "complete_images": int((~is_partial).sum()),
        "incomplete_images": int(is_partial.sum()),
        "threshold": model.thresholds.incomplete,
        "incomplete_flagged": float(np.mean(outcome[is_partial] == Outcome.INCOMPLETE.value)),
        "complete_falsely_flagged": float(
            np.mean(outcome[~is_partial] == Outcome.INCOMPLETE.value)
        ),
        "incomplete_accepted_as_correct": float(
            np.mean(outcome[is_partial] == Outcome.CORRECT.value)
        ),
    }
    for fpr in (3, 5):
        cut = float(np.percentile(inc_scores[~is_partial], 100 - fpr))
        res[f"score_threshold_at_{fpr}pct_false_flags"] = cut
        res[f"score_flagged_at_{fpr}pct_false_flags"] = float(
            np.mean(inc_scores[is_partial] >= cut)
        )
    return res


def photo_verdicts(
    model: CharModel, photos: list[bytes], targets: list[str], kinds: npt.NDArray[np.str_]
) -> dict[str, dict[str, float]]:
    """Each photo judged at both operating points: characters (``kinds`` "char" or "font")
    and incomplete variants ("incomplete") against their own character, the share of
    incomplete variants called incomplete and accepted as correct, of complete characters
    called incomplete and accepted; negatives ("unknown") named without a target, the share
    turned away (not named as any HSK 1 character at the point's ``known``)."""
    partial, unknown = kinds == "incomplete", kinds == "unknown"
    complete = ~partial & ~unknown  # drawn with a pen or a brush, or printed ("font")
    jobs = [Job(p, "" if u else t) for p, t, u in zip(photos, targets, unknown, strict=True)]
    out: dict[str, dict[str, float]] = {}
    for point, thorough in (("fast", False), ("thorough", True)):
        known_at = model.point(thorough)[1].known
        decisions = judge_in_batches(model, jobs, thorough=thorough)
        outcome = np.array([d.outcome.value for d in decisions])
        row = {
            "incomplete_flagged": float(np.mean(outcome[partial] == Outcome.INCOMPLETE.value)),
            "incomplete_accepted_as_correct": float(
                np.mean(outcome[partial] == Outcome.CORRECT.value)
            ),
            "complete_falsely_flagged": float(
                np.mean(outcome[complete] == Outcome.INCOMPLETE.value)
            ),
            "complete_accepted": float(np.mean(outcome[complete] == Outcome.CORRECT.value)),
        }
        if unknown.any():
            named = [
                d.outcome is Outcome.CORRECT and d.confidence >= known_at
                for d, u in zip(decisions, unknown, strict=True)
                if u
            ]
            row["unknown_rejected"] = 1.0 - float(np.mean(named))
        out[point] = row
    return out


def render_test_photos(
    chars: str, per_class: int, seed: int = 2028, unknown: int = 0
) -> tuple[list[bytes], list[str], npt.NDArray[np.str_]]:
    """PNG photos of the training run's test split (held-out fonts): ``per_class`` complete
    characters and ``per_class // 2`` incomplete variants of each, and ``unknown``
    negatives (other characters, Latin letters and digits, scribbles, near-blank paper);
    with each its character (or "unknown") and kind."""
    from recognition.training.synth import generate

    ds = generate(
        chars, per_class, seed, 64, "test", incomplete_per_class=per_class // 2,
        unknown=unknown, workers=2, progress=False,
    )  # fmt: skip
    photos = []
    for img in ds.images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        photos.append(buf.getvalue())
    return photos, list(ds.labels), np.array(ds.kinds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("test", type=Path, nargs="?")
    ap.add_argument("--photos", action="store_true", help="judge rendered photos (see above)")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--unknown", type=int, default=0, help="negatives to render (--photos)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.photos == (a.test is not None):
        ap.error("give either TEST_NPZ or --photos")
    res: dict[str, Any]
    if a.photos:
        model = load_char_model(a.model)
        photos, targets, kinds = render_test_photos(model.charset, a.per_class, unknown=a.unknown)
        res = {
            "complete_images": int(np.sum(~np.isin(kinds, ["incomplete", "unknown"]))),
            "incomplete_images": int(np.sum(kinds == "incomplete")),
            "unknown_images": int(np.sum(kinds == "unknown")),
        }
        res |= photo_verdicts(model, photos, targets, kinds)
        model.close()
    else:
        res = rates(CharModel(a.model), a.test)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
