"""How well a character model flags missing strokes, on a synthetic test set.

Usage: python tools/incomplete_rates.py MODEL_DIR TEST_NPZ [--json]

TEST_NPZ is a test split as ``hanzi-bot train`` caches it (``<work>/data/test-*.npz``:
prepared inks, labels, incomplete and blank flags). Every complete character and every
incomplete variant is verified against its own character with the model's thresholds
(``model.json``), the model alone (the second opinion needs the photo, which the cache does
not keep). Prints the share of incomplete variants called incomplete, the share of complete
characters falsely called incomplete, and, for the incomplete score alone at the target,
the share flagged at the scores that falsely flag 3% and 5% of complete characters.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recognition.charmodel import CharModel  # noqa: E402
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("test", type=Path)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    res = rates(CharModel(a.model), a.test)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
