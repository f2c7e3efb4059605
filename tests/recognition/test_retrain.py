"""Retraining on a copy of the committed model: the weights rebuilt from the IR are the IR's, a
worse model is not installed, a good one is installed with a new version and rolled back."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from recognition import modelstore
from recognition.charmodel import CharModel, Job

pytest.importorskip("tensorflow", reason="needs the train extra (.ci/run installs it)")

pytestmark = [
    pytest.mark.slow,
    # TensorFlow's own internals still warn about NumPy 2's copy keyword.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "char"
CHARS = "一二三人大"


def png(gray: np.ndarray[Any, Any]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(gray).save(out, "PNG")
    return out.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export as the bot writes it: synthetic handwriting of a few characters by four
    writers, unknown writing, a broken file, a word folder, and the manifest."""
    from recognition.training.synth import UNKNOWN, generate

    root = tmp_path_factory.mktemp("feedback")
    ds = generate(CHARS, 4, seed=99, split="test", unknown=4, workers=1, progress=False)
    manifest = []
    for i, (image, label) in enumerate(zip(ds.images, ds.labels, strict=True)):
        folder = UNKNOWN if label == UNKNOWN else label
        (root / folder).mkdir(exist_ok=True)
        (root / folder / f"{i}.png").write_bytes(png(image))
        entry = {"file": f"{folder}/{i}.png", "label": folder, "source": "correction"}
        manifest.append(entry | {"predicted": "二", "user": f"user{i % 4}", "chat": "c1"})
    (root / "大" / "broken.png").write_bytes(b"\x89PNG but not really")
    (root / "你好").mkdir()
    (root / "你好" / "0.png").write_bytes(png(ds.images[0]))
    lines = [json.dumps(m, ensure_ascii=False) for m in manifest]
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    return root


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, feedback: Path) -> Any:
    from recognition.training.retrain import RetrainConfig

    return RetrainConfig(
        feedback=feedback,
        model_dir=MODEL_DIR,  # replaced by a copy in every test
        work=tmp_path_factory.mktemp("work"),
        epochs=1,
        synthetic_per_class=2,
        held_out_per_class=1,
        workers=1,
        progress=False,
    )


def copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "models" / "char"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_the_keras_model_rebuilt_from_the_ir_computes_what_the_ir_computes(
    tmp_path: Path,
) -> None:
    from recognition.training.dataset import build
    from recognition.training.model import load_weights, save_weights
    from recognition.training.recover import keras_from_ir, max_difference, read_ir

    charset = (MODEL_DIR / "charset.txt").read_text("utf-8").strip()
    common: dict[str, Any] = {"size": 48, "workers": 1, "progress": False}
    calib = build(charset, n_per_class=1, incomplete_per_class=0, unknown=40, seed=5,
                  split="train", **common)  # fmt: skip
    test = build(charset, n_per_class=1, incomplete_per_class=0, unknown=40, seed=6,
                 split="test", **common)  # fmt: skip
    x_calib = (calib.x / 255).astype(np.float32)[..., None]
    x_test = (test.x / 255).astype(np.float32)[..., None]
    xml = MODEL_DIR / "charmodel.xml"

    model = keras_from_ir(xml, x_calib)

    # FP16 weights computed in FP32 on both sides: only the order of the sums differs.
    diff = max_difference(model, xml, x_test)
    assert set(diff) == {"probs", "embedding", "incomplete"}
    assert max(diff.values()) < 1e-4, diff

    # The kept weights give the same model back, bit for bit.
    kept = save_weights(model, read_ir(xml).arch, tmp_path / "weights.npz")
    assert kept.stat().st_size < 4_000_000
    again, _ = load_weights(kept)
    assert max(max_difference(again, xml, x_test).values()) < 1e-4

    # In training mode BatchNorm uses the batch's statistics: they were measured, so the
    # model fine-tuning starts from is the same function.
    batch = x_test[np.random.default_rng(0).permutation(len(x_test))[:128]]
    trained = np.asarray(model(batch, training=True)["probs"]).argmax(1)
    inferred = np.asarray(model(batch, training=False)["probs"]).argmax(1)
    assert np.mean(trained == inferred) >= 0.9


def test_a_model_that_is_not_at_least_as_good_is_not_installed(tmp_path: Path, config: Any) -> None:
    from recognition.training.retrain import run, summary

    model_dir = copy_model(tmp_path)
    before = snapshot(model_dir)
    # A tolerance below zero demands a better figure everywhere: impossible to meet.
    report = run(replace(config, model_dir=model_dir, tolerance=-1.0))

    assert report["decision"] == "not installed" and not report["installed"]
    assert snapshot(model_dir) == before
    assert sorted(p.name for p in model_dir.parent.iterdir()) == ["char"]
    saved = json.loads(Path(report["report_path"]).read_text("utf-8"))
    assert saved["decision"] == "not installed"
    assert any("fell from" in r for r in saved["reasons"])
    criteria = {c["metric"]: c for c in saved["criteria"]}
    assert set(criteria) == {
        "verify_accept_correct", "verify_accept_wrong", "unknown_rejected", "top1"
    }  # fmt: skip
    assert all(isinstance(c["old"], float) and isinstance(c["new"], float)
               for c in criteria.values())  # fmt: skip
    assert saved["rule"].startswith("The new model is installed only if")
    fb = saved["feedback"]
    assert fb["images_found"] == 5 * 4 + 4 + 2
    assert fb["skipped"] == {
        "not a readable image": 1, "folder is not one character or 'unknown'": 1
    }  # fmt: skip
    assert fb["train"] + fb["held_out"] == fb["used"] == 24
    assert "by writer (4 writers" in fb["split"]
    text = summary(report)
    assert "Decision: not installed" in text and "The active model is unchanged" in text


def test_a_good_model_is_installed_with_a_new_version_and_can_be_rolled_back(
    tmp_path: Path, config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main as cli_main

    model_dir = copy_model(tmp_path)
    before = snapshot(model_dir)
    old_version = CharModel(model_dir).version
    args = [
        "retrain", "--feedback", str(config.feedback), "--model-dir", str(model_dir),
        "--work", str(config.work), "--epochs", "1", "--synthetic-per-class", "2",
        "--held-out-per-class", "1", "--workers", "1", "--no-progress",
        # A whole rate point of slack on a tiny test set: the test is about installing.
        "--tolerance", "1.0",
    ]  # fmt: skip

    assert cli_main(args) == 0

    said = capsys.readouterr().out
    assert "Decision: installed" in said and "restart" in said
    model = CharModel(model_dir)
    meta = json.loads((model_dir / "model.json").read_text("utf-8"))
    assert model.version == meta["version"] != old_version
    assert meta["parent"] == old_version
    assert (model_dir / "weights.npz").is_file()
    assert json.loads((model_dir / "retrain.json").read_text("utf-8"))["installed"] is True
    sample = next((config.feedback / "大").glob("[0-9]*.png")).read_bytes()
    assert model.judge([Job(sample, "大")])[0].outcome.value in {
        "correct", "wrong_character", "incomplete", "unclear"
    }  # fmt: skip
    assert [i.version for i in modelstore.history(model_dir)] == [old_version]

    info = modelstore.rollback(model_dir)

    assert info.version == old_version == CharModel(model_dir).version
    assert snapshot(model_dir) == before
