"""The OpenVINO runtime wrapper, on a tiny model built and saved by the test itself."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openvino as ov  # type: ignore[import-untyped, unused-ignore]
import pytest
from numpy.typing import NDArray
from openvino import opset13 as ops  # type: ignore[import-untyped, unused-ignore]

from recognition.runtime import CompiledModel, ModelLoadError, check_output_size

CLASSES = 5
WEIGHTS = np.random.default_rng(7).standard_normal((64, CLASSES)).astype(np.float32)


def save_tiny_model(path: Path, batch: int = -1) -> Path:
    """image [batch,1,8,8] -> flatten -> matmul with WEIGHTS -> softmax, named `probs`."""
    image = ops.parameter([batch, 1, 8, 8], np.float32, name="image")
    flat = ops.reshape(image, ops.constant(np.array([-1, 64], dtype=np.int64)), False)
    logits = ops.matmul(flat, ops.constant(WEIGHTS), False, False)
    probs = ops.softmax(logits, 1)
    probs.output(0).get_tensor().set_names({"probs"})
    # No fp16 compression: the saved weights stay exactly the ones numpy uses.
    ov.save_model(ov.Model([probs], [image], "tiny"), str(path), compress_to_fp16=False)
    return path


def expected(images: NDArray[np.float32]) -> NDArray[np.float32]:
    logits = images.reshape(len(images), 64) @ WEIGHTS
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)


def images(n: int, seed: int = 0) -> NDArray[np.float32]:
    return np.random.default_rng(seed).random((n, 1, 8, 8), dtype=np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.xml")


@pytest.fixture(scope="module")
def model(model_path: Path) -> CompiledModel:
    return CompiledModel(model_path)


def test_it_describes_the_model(model: CompiledModel) -> None:
    assert model.input_name == "image"
    assert model.input_shape == (-1, 1, 8, 8)
    assert model.output_names == ("probs",)
    assert model.output_size() == CLASSES
    assert model.output_size("probs") == CLASSES
    assert model.num_requests >= 1
    assert model.hint == "THROUGHPUT"


@pytest.mark.parametrize("batch", [1, 3, 17])
def test_outputs_match_numpy_for_any_batch_size(model: CompiledModel, batch: int) -> None:
    x = images(batch, seed=batch)
    out = model.infer(x)
    assert set(out) == {"probs"}
    assert out["probs"].shape == (batch, CLASSES)
    np.testing.assert_allclose(out["probs"], expected(x), rtol=1e-4, atol=1e-6)


def test_inputs_can_be_given_by_name(model: CompiledModel) -> None:
    x = images(2)
    np.testing.assert_allclose(model.infer({"image": x})["probs"], expected(x), atol=1e-6)
    with pytest.raises(KeyError, match="nope"):
        model.infer({"nope": x})


def test_outputs_are_copies_that_the_next_inference_does_not_overwrite(
    model: CompiledModel,
) -> None:
    first_input = images(4, seed=1)
    first = model.infer(first_input)["probs"]
    for seed in range(2, 2 + 2 * model.num_requests):
        model.infer(images(4, seed=seed))
    np.testing.assert_allclose(first, expected(first_input), rtol=1e-4, atol=1e-6)


def test_many_threads_infer_at_once_with_the_right_results(model: CompiledModel) -> None:
    inputs = [images(1 + seed % 5, seed=seed) for seed in range(48)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        outputs = list(pool.map(model.infer, inputs))
    for x, out in zip(inputs, outputs, strict=True):
        np.testing.assert_allclose(out["probs"], expected(x), rtol=1e-4, atol=1e-6)


def test_warm_up_runs_each_batch_size_and_stops_when_asked(model_path: Path) -> None:
    model = CompiledModel(model_path)
    assert model.warm_up([1, 2, 5]) == 3
    stop = threading.Event()
    stop.set()
    assert model.warm_up(range(1, 9), stop) == 0
    x = images(5, seed=3)  # a warmed size reads as any other
    np.testing.assert_allclose(model.infer(x)["probs"], expected(x), rtol=1e-4, atol=1e-6)


def test_warm_up_needs_every_dimension_but_the_batch_fixed(tmp_path: Path) -> None:
    image = ops.parameter([-1, 1, -1, 8], np.float32, name="image")
    ov.save_model(ov.Model([ops.relu(image)], [image], "free"), str(tmp_path / "free.xml"))
    with pytest.raises(ValueError, match="only the batch"):
        CompiledModel(tmp_path / "free.xml").warm_up([1])


def test_a_fixed_batch_model_is_made_dynamic(tmp_path: Path) -> None:
    path = save_tiny_model(tmp_path / "fixed.xml", batch=2)
    dynamic = CompiledModel(path, hint="LATENCY", threads=1, requests=2)
    assert dynamic.input_shape == (-1, 1, 8, 8)
    assert dynamic.num_requests == 2
    x = images(5)
    np.testing.assert_allclose(dynamic.infer(x)["probs"], expected(x), rtol=1e-4, atol=1e-6)

    fixed = CompiledModel(path, dynamic_batch=False)
    assert fixed.input_shape == (2, 1, 8, 8)


def test_auto_precision_may_trade_exactness_for_speed(model_path: Path) -> None:
    # On CPUs with bf16 instructions the plugin computes in bfloat16: close, not exact.
    fast = CompiledModel(model_path, precision="auto")
    x = images(3)
    np.testing.assert_allclose(fast.infer(x)["probs"], expected(x), atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        CompiledModel(model_path, precision="f16")  # type: ignore[arg-type]


def test_a_missing_model_file_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        CompiledModel(tmp_path / "missing.xml")


def test_an_ir_without_its_weights_is_a_model_load_error(tmp_path: Path) -> None:
    path = save_tiny_model(tmp_path / "tiny.xml")
    path.with_suffix(".bin").unlink()
    with pytest.raises(ModelLoadError, match=r"tiny\.bin"):
        CompiledModel(path)


def test_an_unreadable_model_file_is_a_model_load_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<net><layers>", "utf-8")
    path.with_suffix(".bin").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="cannot read the model"):
        CompiledModel(path)


def test_an_unknown_model_format_is_a_model_load_error(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="not an OpenVINO IR"):
        CompiledModel(path)


def test_an_unknown_hint_is_refused(model_path: Path) -> None:
    with pytest.raises(ValueError, match="hint"):
        CompiledModel(model_path, hint="FAST")  # type: ignore[arg-type]


def test_the_output_size_check_names_both_numbers(model: CompiledModel) -> None:
    check_output_size(5, 5)
    check_output_size(5, 4, reserved=1)
    model.check_charset(CLASSES)
    model.check_charset(CLASSES - 1, reserved=1)

    with pytest.raises(ModelLoadError) as error:
        check_output_size(5, 7)
    assert "5" in str(error.value) and "7" in str(error.value)

    with pytest.raises(ModelLoadError, match=r"5 output classes.*300 characters"):
        model.check_charset(300)


def test_importing_the_runtime_does_not_load_openvino() -> None:
    code = "import sys, recognition.runtime; assert 'openvino' not in sys.modules"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


FIRST_INFERENCES = """
import sys, threading
import numpy as np
from recognition.runtime import CompiledModel
model = CompiledModel(sys.argv[1])
start = threading.Barrier(2)
def first():
    start.wait()
    model.infer(np.zeros((3, *model.input_shape[1:]), np.float32))
threads = [threading.Thread(target=first) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


def test_two_threads_making_their_first_inference_at_once_do_not_deadlock() -> None:
    # Each in a fresh process: the numpy bridge is set up once per process. Before
    # load_openvino set it up, 6 of 6 such processes hung for good with the character
    # model (1 of 8 with this file's tiny model).
    root = Path(__file__).resolve().parents[2]
    model = root / "models" / "char" / "charmodel.xml"
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", FIRST_INFERENCES, str(model)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip() == "done", result.stderr
