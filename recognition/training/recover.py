"""Fine-tunable Keras weights rebuilt from an exported OpenVINO IR, whose BatchNorms are folded."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recognition.training.model import Architecture

F32 = npt.NDArray[np.float32]

# The largest output difference between the rebuilt Keras model and the IR it came from
# that still counts as the same model: the IR's weights are FP16, both run in FP32, so
# only summation order differs (measured on the committed model: about 1e-6).
SAME_MODEL = 1e-3


class RecoveryError(Exception):
    """The IR does not have the shape of ``build_model``'s network."""


@dataclass(frozen=True)
class Affine:
    """One linear layer of the IR in Keras layout, with what the IR applies after it per
    channel: ``scale * (x @ kernel) + shift`` (a folded BatchNorm, a bias, or neither)."""

    kernel: F32
    stride: int
    scale: F32
    shift: F32


@dataclass(frozen=True)
class IrWeights:
    arch: Architecture
    convs: tuple[Affine, ...]  # in the IR's (topological) order
    dense: dict[str, Affine]  # embedding, probs, hidden, incomplete


def _const(port: Any) -> F32 | None:
    node = port.get_node()
    while node.get_type_name() == "Convert":
        node = node.input_value(0).get_node()
    if node.get_type_name() != "Constant":
        return None
    return np.asarray(node.get_data(), dtype=np.float32)


def _consumers(op: Any) -> list[Any]:
    return [t.get_node() for t in op.output(0).get_target_inputs()]


def _per_channel(op: Any, kind: str) -> tuple[Any, F32] | None:
    """The single consumer of ``op`` of type ``kind`` that has a constant operand."""
    for user in _consumers(op):
        if user.get_type_name() != kind:
            continue
        for i in range(user.get_input_size()):
            value = _const(user.input_value(i))
            if value is not None:
                return user, value.reshape(-1)
    return None


def _affine(op: Any, kernel: F32, stride: int) -> tuple[Affine, Any]:
    """The op's kernel with the Multiply/Add that follow it; returns the last op as well."""
    out_dim = kernel.shape[-1]
    scale = np.ones(out_dim, np.float32)
    shift = np.zeros(out_dim, np.float32)
    last = op
    mul = _per_channel(last, "Multiply")
    if mul is not None:
        last, scale = mul
    add = _per_channel(last, "Add")
    if add is not None:
        last, shift = add
    scale = np.broadcast_to(scale, (out_dim,)).astype(np.float32)
    shift = np.broadcast_to(shift, (out_dim,)).astype(np.float32)
    return Affine(kernel, stride, scale, shift), last


def read_ir(xml: Path) -> IrWeights:
    """The weights of a ``build_model`` network exported to IR, and its architecture."""
    ov: Any = importlib.import_module("openvino")
    ir = ov.Core().read_model(str(xml))
    convs: list[Affine] = []
    dense: dict[str, Affine] = {}
    for op in ir.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "Convolution":
            oihw = _const(op.input_value(1))
            if oihw is None:
                raise RecoveryError(f"{op.get_friendly_name()}: weights are not a constant")
            stride = int(op.get_attributes()["strides"][0])
            convs.append(_affine(op, oihw.transpose(2, 3, 1, 0).copy(), stride)[0])
        elif kind == "MatMul":
            w = _const(op.input_value(1))
            if w is None:
                raise RecoveryError(f"{op.get_friendly_name()}: weights are not a constant")
            kernel = (w.T if op.get_attributes()["transpose_b"] else w).copy()
            affine, last = _affine(op, kernel, 1)
            ends = {u.get_type_name() for u in _consumers(last)}
            if kernel.shape[1] == 1 or "Sigmoid" in ends:
                dense["incomplete"] = affine
            elif _per_channel(op, "Multiply") is not None:
                dense["embedding"] = affine  # the only dense layer followed by a BatchNorm
            elif "Softmax" in ends:
                dense["probs"] = affine
            else:
                dense["hidden"] = affine
    if not convs or set(dense) != {"embedding", "probs", "hidden", "incomplete"}:
        raise RecoveryError(f"{xml} is not the character model's network ({sorted(dense)})")
    size = int(ir.inputs[0].get_partial_shape()[1].get_length())
    widths = tuple(dict.fromkeys(int(c.kernel.shape[-1]) for c in convs))
    per_class = int(dense["incomplete"].kernel.shape[1]) > 1
    arch = Architecture(
        size, int(dense["probs"].kernel.shape[1]), widths, convs[0].stride, per_class
    )
    return IrWeights(arch, tuple(convs), dense)


def _set_bn(bn: Any, scale: F32, shift: F32, mean: F32, var: F32) -> None:
    """BatchNorm weights whose inference output is ``scale * z + shift`` for any ``mean`` and
    ``var`` of its input ``z``: gamma * (z - mean) / sqrt(var + eps) + beta."""
    root = np.sqrt(var + bn.epsilon).astype(np.float32)
    bn.set_weights([scale * root, shift + scale * mean, mean, var])


def _unit_var(bn: Any, n: int) -> F32:
    return np.full(n, 1.0 - bn.epsilon, np.float32)


def keras_from_ir(xml: Path, calibration: F32) -> Any:
    """The Keras model of an IR, ready to fine-tune.

    The IR has each BatchNorm folded into the convolution before it. Putting the folded
    kernel back with a BatchNorm that undoes nothing would give the same inference, but
    in training mode the BatchNorm normalises with the batch's own statistics and the
    network would behave differently from the first step. So each BatchNorm gets the
    mean and variance its input has on ``calibration`` (N, size, size, 1) images, with
    gamma and beta chosen so that inference still equals the IR exactly.
    """
    import keras

    weights = read_ir(xml)
    model = weights.arch.build()
    bn_of = {
        id(layer.input): layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    todo = list(weights.convs)
    pairs: list[tuple[Any, Affine]] = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        # Convolutions of the same shape are chained, so both graphs list them in the same
        # order; different shapes are told apart by shape.
        shape = tuple(layer.kernel.shape)
        match = next(
            (c for c in todo if c.kernel.shape == shape and c.stride == layer.strides[0]), None
        )
        if match is None:
            raise RecoveryError(f"no convolution of shape {shape} left in {xml}")
        todo.remove(match)
        layer.set_weights([match.kernel])
        pairs.append((bn_of[id(layer.output)], match))
    for name, layer_name in (("probs", "probs"), ("incomplete", "incomplete")):
        d = weights.dense[name]
        model.get_layer(layer_name).set_weights([d.kernel, d.shift])
    producer = {id(layer.output): layer for layer in model.layers}
    hidden = producer[id(model.get_layer("incomplete").input)]
    hidden.set_weights([weights.dense["hidden"].kernel, weights.dense["hidden"].shift])
    emb_bn = model.get_layer("embedding_raw")
    emb_dense = producer[id(emb_bn.input)]
    emb_dense.set_weights([weights.dense["embedding"].kernel])
    pairs.append((emb_bn, weights.dense["embedding"]))

    for bn, affine in pairs:
        # First the IR's function exactly, so that each BatchNorm's input is measured as
        # the IR computes it.
        n = len(affine.shift)
        _set_bn(bn, affine.scale, affine.shift, np.zeros(n, np.float32), _unit_var(bn, n))
    probe = keras.Model(model.input, [bn.input for bn, _ in pairs])
    inputs = probe.predict(calibration, batch_size=256, verbose=0)
    for (bn, affine), z in zip(pairs, inputs, strict=True):
        flat = np.asarray(z, np.float64).reshape(-1, z.shape[-1])
        mean = flat.mean(0).astype(np.float32)
        var = flat.var(0).astype(np.float32)
        _set_bn(bn, affine.scale, affine.shift, mean, var)
    return model


def ir_outputs(xml: Path, x: F32, batch: int = 256) -> dict[str, F32]:
    """The IR's outputs on prepared images (N, size, size, 1), in FP32 on the CPU."""
    from recognition.runtime import CompiledModel

    engine = CompiledModel(xml, precision="f32")
    parts = [engine.infer(x[i : i + batch]) for i in range(0, len(x), batch)]
    return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in parts[0]}


def max_difference(model: Any, xml: Path, x: F32) -> dict[str, float]:
    """The largest absolute difference per output between a Keras model and an IR."""
    ours = model.predict(x, batch_size=256, verbose=0)
    theirs = ir_outputs(xml, x)
    return {k: float(np.max(np.abs(np.asarray(ours[k]) - theirs[k]))) for k in theirs}
