"""The character model: a compact ResNet with a class head, an embedding and an incomplete flag."""

from __future__ import annotations

from typing import Any

# TensorFlow comes from the train extra; this module is only imported by training code.
import keras
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
) -> keras.Model:
    """Inputs (N, size, size, 1) ink darkness in [0, 1]; outputs ``probs`` (N, classes),
    ``embedding`` (N, 256, L2-normalised) and ``incomplete`` (N, 1)."""
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
    incomplete = layers.Dense(1, activation="sigmoid", name="incomplete")(
        layers.Dense(128, activation="relu")(pooled)
    )
    embedding = layers.UnitNormalization(name="embedding")(emb)
    return keras.Model(inputs, {"probs": probs, "embedding": embedding, "incomplete": incomplete})
