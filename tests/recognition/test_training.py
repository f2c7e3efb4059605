"""A small training run end to end, so the pipeline from synthetic data to OpenVINO cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recognition.charmodel import CharModel, Job
from tests.recognition.photos import photo

pytest.importorskip("tensorflow", reason="needs the train extra (.ci/run installs it)")

pytestmark = [
    pytest.mark.slow,
    # TensorFlow's own internals still warn about NumPy 2's copy keyword.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


def small_run(tmp_path: Path, out: Path, *extra: str) -> list[str]:
    """``hanzi-bot train`` arguments for a run of five characters and one short epoch."""
    return [
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
        *extra,
    ]  # fmt: skip


def test_a_short_training_run_writes_a_model_the_bot_can_load(tmp_path: Path) -> None:
    from recognition.training.train import main

    out = tmp_path / "char"
    # One incomplete score (the default is one per class, tested below): both still load.
    code = main(small_run(tmp_path, out, "--incomplete-head", "single"))
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
    [scores] = model.scores([np.full((model.size, model.size), 0.0, np.float32)])
    assert scores.incomplete_by_class is None
    decision = model.judge([Job(photo("大"), "大")])[0]
    assert decision.outcome.value in {"correct", "wrong_character", "incomplete", "unclear"}


def test_the_per_class_incomplete_loss_reads_only_the_true_class() -> None:
    from recognition.training.model import incomplete_loss, incomplete_targets

    y = incomplete_targets(np.array([1, 2]), np.array([1, 0], np.uint8), 3, per_class=True)
    assert y.tolist() == [[0, 2, 0], [0, 0, 1]]
    pred = np.array([[0.9, 0.8, 0.1], [0.9, 0.9, 0.25]], np.float32)
    got = np.asarray(incomplete_loss(True)(y, pred))
    # Incomplete 1 scored 0.8; complete 2 scored 0.25: the other columns do not count.
    assert np.allclose(got, [-np.log(0.8), -np.log(0.75)], atol=1e-5)
    single = incomplete_targets(np.array([1, 2]), np.array([1, 0], np.uint8), 3, per_class=False)
    assert single.tolist() == [[1.0], [0.0]]


def test_a_model_with_an_incomplete_score_per_class_trains_exports_and_recovers(
    tmp_path: Path,
) -> None:
    from recognition.training.model import load_weights
    from recognition.training.recover import keras_from_ir, max_difference, read_ir
    from recognition.training.train import main

    out = tmp_path / "char"
    code = main(small_run(tmp_path, out, "--val-per-class", "4"))  # the default head
    assert code == 0
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["openvino_top1_agreement"] >= 0.95
    assert "incomplete_flagged" in report["synthetic_test"]

    model = CharModel(out)
    [scores] = model.scores([np.full((model.size, model.size), 0.0, np.float32)])
    assert scores.incomplete_by_class is not None and scores.incomplete_by_class.shape == (6,)
    decision = model.judge([Job(photo("人"), "人")])[0]
    assert decision.outcome.value in {"correct", "wrong_character", "incomplete", "unclear"}

    # Retraining starts from the kept weights or from the IR: both know the head's shape.
    xml = out / "charmodel.xml"
    assert read_ir(xml).arch.incomplete_per_class
    kept, arch = load_weights(out / "weights.npz")
    assert arch.incomplete_per_class
    x = np.random.default_rng(1).random((64, model.size, model.size, 1)).astype(np.float32)
    assert max(max_difference(kept, xml, x).values()) < 1e-3
    rebuilt = keras_from_ir(xml, x)
    assert max(max_difference(rebuilt, xml, x).values()) < 1e-3


def test_faint_ink_fades_strokes_unevenly_and_adds_no_ink() -> None:
    """``--faint``: some training inputs get the lighter, uneven ink of real photos (model
    card, "Faint ink"); the ink stays where it was and its darkest point at 1."""
    import tensorflow as tf

    from recognition.training.train import _augment_fn, _faint_ink, parse_args

    tf.random.set_seed(7)
    ink = np.zeros((48, 48), np.float32)
    ink[8:40, 10:14] = ink[8:40, 34:38] = ink[22:26, 10:38] = 1.0  # 卄-like bars at full ink
    strokes = ink > 0
    medians, spreads = [], []
    for _ in range(20):
        out = _faint_ink(tf.constant(ink[..., None]), 48).numpy()[..., 0]
        assert not out[~strokes].any()
        assert out.max() == pytest.approx(1.0)
        medians.append(float(np.median(out[strokes])))
        spreads.append(float(np.ptp(out[strokes])))
    assert np.mean(medians) < 0.8  # lighter on the whole ...
    assert min(spreads) > 0.1  # ... and never even: some parts fade more than others
    assert len(set(np.round(medians, 3))) > 10  # a new field every time

    # In the augmentation, only the share asked for: none at 0, all at 1.
    x = tf.constant(np.round(ink * 255).astype(np.uint8))
    plain = [_augment_fn(48, 0.0)(x, 0)[0].numpy() for _ in range(10)]
    faint = [_augment_fn(48, 1.0)(x, 0)[0].numpy() for _ in range(10)]
    assert np.median([np.median(p[p > 0.1]) for p in plain]) == pytest.approx(1.0)
    assert np.median([np.median(p[p > 0.1]) for p in faint]) < 0.8
    assert parse_args(["--faint", "0.5"]).faint == 0.5
    assert parse_args([]).faint == 0.0  # the shipped model's recipe
