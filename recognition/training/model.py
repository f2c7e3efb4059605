"""The character model: a compact ResNet with a class head, an embedding and an incomplete flag."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# TensorFlow comes from the train extra; this module is only imported by training code.
import keras
import numpy as np
from keras import layers

EMBEDDING = 256


def _block(x: Any, width: int, stride: int = 1) -> Any:
    shortcut = x
    y = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(width, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != width:
        shortcut = layers.Conv2D(width, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def build_model(
    size: int,
    classes: int,
    widths: tuple[int, ...] = (32, 64, 128, 256),
    dropout: float = 0.25,
    stem_stride: int = 2,
    incomplete_per_class: bool = False,
) -> keras.Model:
    """Inputs (N, size, size, 1) ink darkness in [0, 1]; outputs ``probs`` (N, classes),
    ``embedding`` (N, 256, L2-normalised) and ``incomplete``: (N, 1), or (N, classes) with
    ``incomplete_per_class``, where column c is "this is c with strokes missing" and only
    the true class's column is trained (see ``incomplete_loss``)."""
    inputs = keras.Input((size, size, 1), name="ink")
    # A strided stem: on 2 CPU cores the full-resolution layers would cost most of the
    # training time for little accuracy (measured: 2.5x slower at 48 px).
    x = layers.Conv2D(widths[0], 3, strides=stem_stride, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = _block(x, widths[0])
    for w in widths[1:]:
        x = _block(x, w, stride=2)
    pooled = layers.GlobalAveragePooling2D()(x)
    pooled = layers.Dropout(dropout)(pooled)
    emb = layers.Dense(EMBEDDING, use_bias=False)(pooled)
    emb = layers.BatchNormalization(name="embedding_raw")(emb)
    probs = layers.Dense(classes, activation="softmax", name="probs")(layers.ReLU()(emb))
    heads = classes if incomplete_per_class else 1
    incomplete = layers.Dense(heads, activation="sigmoid", name="incomplete")(
        layers.Dense(128, activation="relu")(pooled)
    )
    embedding = layers.UnitNormalization(name="embedding")(emb)
    return keras.Model(inputs, {"probs": probs, "embedding": embedding, "incomplete": incomplete})


WEIGHTS_FILE = "weights.npz"


@dataclass(frozen=True)
class Architecture:
    """What ``build_model`` needs to rebuild a model whose weights were saved."""

    size: int
    classes: int
    widths: tuple[int, ...] = (32, 64, 128, 256)
    stem_stride: int = 2
    incomplete_per_class: bool = False

    def build(self) -> keras.Model:
        return build_model(
            self.size,
            self.classes,
            self.widths,
            stem_stride=self.stem_stride,
            incomplete_per_class=self.incomplete_per_class,
        )


def incomplete_targets(
    labels: np.ndarray, incomplete: np.ndarray, classes: int, per_class: bool
) -> np.ndarray:
    """Training targets of the incomplete output: the flag (N, 1), or per class (N, classes)
    with 0 = not trained, 1 = this class complete, 2 = this class with strokes missing."""
    flag = incomplete.astype(np.float32)
    if not per_class:
        return flag[:, None]
    out = np.zeros((len(labels), classes), np.float32)
    out[np.arange(len(labels)), labels] = 1.0 + flag
    return out


def incomplete_loss(per_class: bool) -> Any:
    """Binary cross-entropy of the incomplete flag; per class, on the true class's column."""
    if not per_class:
        return keras.losses.BinaryCrossentropy()

    def loss(y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        chosen = ops.cast(y_true > 0.5, y_pred.dtype)
        flag = ops.max(y_true, axis=-1, keepdims=True) - 1.0
        p = ops.sum(chosen * y_pred, axis=-1, keepdims=True)
        return keras.losses.binary_crossentropy(flag, p)

    return loss


def save_weights(model: keras.Model, arch: Architecture, path: Path) -> Path:
    """Every weight (BatchNorm statistics too), in the order ``build_model`` creates them:
    what a later fine-tune starts from, since the exported IR has BatchNorm folded in."""
    # Kernels in FP16 like the IR; the per-channel vectors in FP32, because BatchNorm
    # subtracts a mean that can be large next to the spread it divides by, and FP16
    # rounding of that mean changed the outputs by up to 0.26 (measured).
    arrays: dict[str, Any] = {
        f"w{i:03d}": np.asarray(v.numpy(), np.float16 if len(v.shape) > 1 else np.float32)
        for i, v in enumerate(model.weights)
    }
    arrays["arch"] = np.array(json.dumps(asdict(arch)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def load_weights(path: Path) -> tuple[keras.Model, Architecture]:
    """The model ``save_weights`` wrote; ValueError when the file does not fit the code."""
    with np.load(path) as data:
        raw = json.loads(str(data["arch"]))
        arch = Architecture(
            int(raw["size"]),
            int(raw["classes"]),
            tuple(raw["widths"]),
            int(raw["stem_stride"]),
            bool(raw.get("incomplete_per_class", False)),
        )
        model = arch.build()
        if len(data.files) - 1 != len(model.weights):
            raise ValueError(
                f"{path} holds {len(data.files) - 1} weights, the model has {len(model.weights)}"
            )
        for i, var in enumerate(model.weights):
            value = data[f"w{i:03d}"]
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(
                    f"{path}: weight {i} ({var.path}) is {value.shape}, not {var.shape}"
                )
            var.assign(value.astype(np.float32))
    return model, arch
