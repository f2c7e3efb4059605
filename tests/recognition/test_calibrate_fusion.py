"""tools/calibrate_fusion.py --keep: the shipped thresholds reported on a split, no search."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

SHARED = REPO.parent / "shared" / "data" / "real-handwriting"


@pytest.mark.skipif(
    not (SHARED / "chinese-mnist").is_dir(), reason="../shared real handwriting not available"
)
def test_keep_reports_the_models_own_thresholds_on_the_split_asked_for() -> None:
    tool = REPO / "tools" / "calibrate_fusion.py"
    meta = json.loads((REPO / "models" / "char" / "model.json").read_text("utf-8"))
    out = subprocess.run(
        [
            sys.executable,
            str(tool),
            "--keep",
            "--every",
            "25",
            "--real",
            str(SHARED / "chinese-mnist"),
            "--negatives",
            "30",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    report = json.loads(out)
    t = meta["thresholds"]
    assert (report["accept"], report["known"], report["incomplete"]) == (
        t["accept"],
        t["known"],
        t["incomplete"],
    )
    assert report["fusion"] == meta["fusion"]
    assert report["input_gamma"] == meta["input_gamma"]
    # Every 25th of 7,500 images (5,500 HSK 1, 2,000 not), halved.
    held = report["held_out_half"]
    assert held["images"] + report["calibration_half"]["images"] == 220
    assert held["unknown_images"] + report["calibration_half"]["unknown_images"] == 80
    assert 0.8 < held["top1"] <= 1.0
    negatives = report["rendered_negatives"]
    assert negatives["images"] == 30 and 0.5 <= negatives["rejected"] <= 1.0


@pytest.mark.skipif(
    not (SHARED / "chinese-mnist").is_dir(), reason="../shared real handwriting not available"
)
def test_keep_thorough_reports_the_thorough_operating_point() -> None:
    tool = REPO / "tools" / "calibrate_fusion.py"
    meta = json.loads((REPO / "models" / "char" / "model.json").read_text("utf-8"))
    args = ["--keep", "--thorough", "--every", "50", "--real", str(SHARED / "chinese-mnist")]
    args += ["--negatives", "0"]
    out = subprocess.run(
        [sys.executable, str(tool), *args], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    report = json.loads(out)
    t = meta["thorough"]
    assert (report["accept"], report["known"]) == (t["accept"], t["known"])
    # Its own cascade, scale and say; the fast point's readers; the shared incomplete check.
    assert report["fusion"] == meta["fusion"] | {
        k: t[k] for k in ("cascade", "known_scale", "weight")
    }
    assert report["incomplete"] == meta["thresholds"]["incomplete"]
    assert report["second_opinion_share"] == 1.0  # the readers read every character
    assert report["rendered_negatives"] is None


def test_rendered_negatives_with_no_ink_count_as_turned_away() -> None:
    import numpy as np

    from tests.conftest import load_tool

    tool = load_tool("calibrate_fusion")
    # Two characters then unknown: the first row names a character at 0.9, the second not.
    fused = np.array([[0.9, 0.05, 0.05], [0.3, 0.2, 0.5]], np.float32)
    assert tool.negatives_rejected(fused, 0, 0.5) == 0.5
    assert tool.negatives_rejected(fused, 2, 0.5) == 0.75  # two blank photos: never named
    assert tool.negatives_rejected(fused, 0, 0.95) == 1.0
