"""The one place that loads and runs OpenVINO models, behind a small thread-safe interface."""

from __future__ import annotations

import importlib
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

PerformanceHint = Literal["THROUGHPUT", "LATENCY"]
# "f32" computes in float32 everywhere; "auto" lets the CPU plugin pick, which is bfloat16
# on CPUs with bf16 instructions: faster, but scores then differ by a few percent.
Precision = Literal["f32", "auto"]

# Formats Core.read_model accepts for us; anything else would be handed to whichever
# frontend claims it (TensorFlow's among them) and fail with a confusing message.
MODEL_SUFFIXES = (".xml", ".onnx")


class ModelLoadError(Exception):
    """A model file is missing, unreadable or does not fit what the caller expects."""


def check_output_size(actual: int, charset_size: int, *, reserved: int = 0) -> None:
    """Fail unless a model's output size is the charset's length plus `reserved` extra classes.

    `reserved` counts the classes that are not characters, such as the CTC blank, so a
    model trained on another charset is refused at load time instead of misreading later.
    """
    expected = charset_size + reserved
    if actual != expected:
        extra = f" + {reserved} reserved" if reserved else ""
        raise ModelLoadError(
            f"the model has {actual} output classes but the charset has {charset_size} "
            f"characters{extra} (expected {expected}): model and charset do not match"
        )


_BRIDGE_LOCK = threading.Lock()
_bridged = False


def load_openvino() -> Any:
    """The ``openvino`` module, its numpy bridge set up once, from one thread at a time.

    The first time a tensor's data is read as a numpy array, OpenVINO's Python binding sets
    up pybind11's numpy API inside a C++ static: a second thread waits on the static's
    guard holding the GIL, while the first needs the GIL to finish. Two threads making
    their first inference at once deadlock for good (7 of 10 fresh processes, two threads
    through one ``CompiledModel``; the bot's two batching threads, or its warm-up beside
    them, at the first photos; two benchmark runs hung). Set up here, under a lock (a
    thread waiting for it releases the GIL), before any model is compiled.
    """
    global _bridged
    # Imported here so that importing this module (and the bot) stays cheap; the import
    # takes a noticeable moment and only the process that infers needs it. openvino ships
    # no type information; import_module makes that explicit (Any) instead of ignore
    # comments that mypy flags as unused depending on the order in which it meets the
    # other modules importing openvino.
    ov: Any = importlib.import_module("openvino")
    with _BRIDGE_LOCK:
        if not _bridged:
            ov.Tensor(np.zeros(1, np.float32)).data  # noqa: B018 - the first read sets it up
            _bridged = True
    return ov


def default_threads() -> int:
    """The CPUs this process may run on: the container's share, not the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not every platform has sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _port_name(port: Any, index: int, kind: str) -> str:
    # Converted models sometimes leave tensors unnamed; get_any_name raises on those.
    names = port.get_names()
    return str(port.get_any_name()) if names else f"{kind}{index}"


def _shape(port: Any) -> tuple[int, ...]:
    # -1 marks a dynamic dimension, the same convention OpenVINO uses when reshaping.
    return tuple(
        -1 if dim.is_dynamic else int(dim.get_length()) for dim in port.get_partial_shape()
    )


class CompiledModel:
    """A model compiled for the CPU, with a pool of infer requests shared by worker threads.

    Each infer request runs one inference at a time; the pool holds as many as the
    device says it can run in parallel, so that many threads can call `infer` at once
    and the rest wait their turn instead of creating requests without bound.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hint: PerformanceHint = "THROUGHPUT",
        dynamic_batch: bool = True,
        threads: int | None = None,
        requests: int | None = None,
        precision: Precision = "f32",
        device: str = "CPU",
    ) -> None:
        if hint not in ("THROUGHPUT", "LATENCY"):
            raise ValueError(f"unknown performance hint {hint!r}: use THROUGHPUT or LATENCY")
        if precision not in ("f32", "auto"):
            raise ValueError(f"unknown precision {precision!r}: use f32 or auto")
        self.path = Path(path)
        self._check_files(self.path)

        ov = load_openvino()  # imported here: importing this module stays cheap
        props: Any = importlib.import_module("openvino.properties")
        hints: Any = importlib.import_module("openvino.properties.hint")

        core = ov.Core()
        try:
            model = core.read_model(str(self.path))
        except (RuntimeError, OSError) as exc:
            raise ModelLoadError(f"cannot read the model {self.path}: {_summary(exc)}") from exc

        if dynamic_batch:
            # Batches of any size share one compiled model instead of recompiling per size.
            new_shapes = {}
            for port in model.inputs:
                shape = port.get_partial_shape()
                if shape.rank.is_dynamic or len(shape) == 0:
                    continue
                shape[0] = ov.Dimension(-1)
                new_shapes[port] = shape
            try:
                model.reshape(new_shapes)
            except RuntimeError as exc:
                raise ModelLoadError(
                    f"cannot make the batch size of {self.path} dynamic: {_summary(exc)}"
                ) from exc

        mode = (
            hints.PerformanceMode.THROUGHPUT
            if hint == "THROUGHPUT"
            else hints.PerformanceMode.LATENCY
        )
        # On a small machine (2 cores) OpenVINO would otherwise size its thread pool for
        # the host; pinning it to the CPUs we may use avoids oversubscription.
        config = {
            hints.performance_mode(): mode,
            props.inference_num_threads(): threads if threads is not None else default_threads(),
        }
        if precision == "f32":
            # The same photo gets the same score on every machine, and the thresholds
            # tuned on a training machine without bf16 still hold.
            config[hints.inference_precision()] = ov.Type.f32
        try:
            self._compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            raise ModelLoadError(
                f"cannot compile the model {self.path} for {device}: {_summary(exc)}"
            ) from exc

        self.hint: PerformanceHint = hint
        self.input_names: tuple[str, ...] = tuple(
            _port_name(port, i, "input") for i, port in enumerate(self._compiled.inputs)
        )
        self.input_shapes: tuple[tuple[int, ...], ...] = tuple(
            _shape(port) for port in self._compiled.inputs
        )
        self.output_names: tuple[str, ...] = tuple(
            _port_name(port, i, "output") for i, port in enumerate(self._compiled.outputs)
        )
        self.output_shapes: tuple[tuple[int, ...], ...] = tuple(
            _shape(port) for port in self._compiled.outputs
        )

        optimal = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.num_requests = max(1, requests if requests is not None else optimal)
        # A LIFO queue hands back the request used last, whose buffers are still warm.
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        for _ in range(self.num_requests):
            self._pool.put(self._compiled.create_infer_request())

    @staticmethod
    def _check_files(path: Path) -> None:
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise ModelLoadError(
                f"{path} is not an OpenVINO IR (.xml with its .bin) or an ONNX (.onnx) file"
            )
        if not path.is_file():
            raise ModelLoadError(f"the model file {path} does not exist")
        if path.suffix.lower() == ".xml" and not path.with_suffix(".bin").is_file():
            raise ModelLoadError(
                f"the weights {path.with_suffix('.bin')} of the model {path} do not exist"
            )

    @property
    def input_name(self) -> str:
        """The name of the first input, the only one in our models."""
        return self.input_names[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of the first input; -1 marks a dynamic dimension (the batch)."""
        return self.input_shapes[0]

    def output_size(self, name: str | None = None) -> int:
        """The last dimension of an output (the first by default): the number of classes."""
        index = 0 if name is None else self._output_index(name)
        size = self.output_shapes[index][-1] if self.output_shapes[index] else -1
        if size < 0:
            raise ModelLoadError(
                f"the output {self.output_names[index]} of {self.path} has no fixed last size"
            )
        return size

    def check_charset(
        self, charset_size: int, *, reserved: int = 0, output: str | None = None
    ) -> None:
        """Fail with ModelLoadError unless the model's classes match the charset."""
        check_output_size(self.output_size(output), charset_size, reserved=reserved)

    def _output_index(self, name: str) -> int:
        try:
            return self.output_names.index(name)
        except ValueError:
            raise KeyError(f"the model has no output {name!r}: {self.output_names}") from None

    @contextmanager
    def _request(self) -> Iterator[Any]:
        # Blocks while every request is busy: the caller's thread waits, the pool never grows.
        request = self._pool.get()
        try:
            yield request
        finally:
            self._pool.put(request)

    def infer(self, inputs: NDArray[Any] | Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
        """Run one inference, from any thread; returns a copy of every output by name.

        An array feeds the model's only input; a mapping feeds inputs by name.
        """
        if isinstance(inputs, np.ndarray):
            if len(self.input_names) != 1:
                raise ValueError(
                    f"the model has {len(self.input_names)} inputs {self.input_names}: "
                    "pass a dict of arrays by name"
                )
            feed: dict[int, NDArray[Any]] = {0: inputs}
        else:
            unknown = set(inputs) - set(self.input_names)
            if unknown:
                raise KeyError(f"the model has no input {sorted(unknown)}: {self.input_names}")
            feed = {self.input_names.index(name): array for name, array in inputs.items()}

        with self._request() as request:
            request.infer(feed)
            # The output tensors belong to the request and are overwritten by its next
            # inference, possibly in another thread, so callers get their own copies.
            return {
                name: np.array(request.get_output_tensor(i).data, copy=True)
                for i, name in enumerate(self.output_names)
            }

    def warm_up(self, batch_sizes: Iterable[int], stop: threading.Event | None = None) -> int:
        """Run the model once on zeros at each of ``batch_sizes``; returns how many ran.

        With a dynamic batch the CPU plugin builds its kernels for each batch size the first
        time it meets one (tens of milliseconds, against a few for the inference itself),
        then keeps them for every infer request. A server warms the sizes it will meet so
        that its first photos are not the slow ones. ``stop`` set: return early.
        """
        shape = self.input_shape
        if any(d < 0 for d in shape[1:]):
            raise ValueError(f"{self.path}: only the batch may be dynamic to warm up ({shape})")
        ran = 0
        for n in batch_sizes:
            if stop is not None and stop.is_set():
                break
            self.infer(np.zeros((n, *shape[1:]), np.float32))
            ran += 1
        return ran


def _summary(exc: BaseException) -> str:
    # OpenVINO messages start with C++ source locations; the useful part is further down.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception from", "Check "))]
    return (useful or lines or [type(exc).__name__])[-1]
