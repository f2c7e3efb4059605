"""A small training run end to end, so the pipeline from synthetic data to OpenVINO cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recognition.charmodel import CharModel, Job
from tests.recognition.photos import photo

pytest.importorskip("tensorflow", reason="needs the train extra (.ci/run installs it)")

pytestmark = [
    pytest.mark.slow,
    # TensorFlow's own internals still warn about NumPy 2's copy keyword.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


def test_a_short_training_run_writes_a_model_the_bot_can_load(tmp_path: Path) -> None:
    from recognition.training.train import main

    out = tmp_path / "char"
    code = main(
        [
            "--chars", "一二三人大",
            "--per-class", "24",
            "--incomplete", "4",
            "--unknown", "24",
            "--val-per-class", "6",
            "--epochs", "1",
            "--workers", "1",
            "--work", str(tmp_path / "work"),
            "--out", str(out),
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    for name in (
        "charmodel.xml", "charmodel.bin", "model.json", "charset.txt", "templates.npy",
        "report.json", "training_log.csv", "training_curves.png", "verification_curves.png",
    ):  # fmt: skip
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text("utf-8"))
    test = report["synthetic_test"]
    assert test["images"] == 5 * 6
    assert {"top1", "top5", "unknown_rejected", "verify_accept_correct"} <= set(test)
    # The exported IR must give the same answers as the Keras model it came from.
    assert report["openvino_top1_agreement"] >= 0.95

    model = CharModel(out)
    assert model.charset == "一二三人大"
    decision = model.judge([Job(photo("大"), "大")])[0]
    assert decision.outcome.value in {"correct", "wrong_character", "incomplete", "unclear"}
