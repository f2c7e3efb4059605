"""Does real ink's BatchNorm statistics (AdaBN) help our model read real handwriting?

Usage: python tools/adabn_experiment.py [--model models/char] [--layers 1,3,5,9,13]

AdaBN is the label-free way to adapt a network to a new domain: keep every weight, and let
each BatchNorm normalise with the mean and variance its input has on the new domain
(real ink) instead of the training data's (synthetic ink). No label is used, so unlike
fine-tuning it cannot teach "real-looking ink means these 13 characters"; but the
statistics still come from the 13 characters of the real sample, so the test is whether
statistics taken from one part of the sample help another part:

- sources: Chinese MNIST, CASIA, G1 = 一三五七九零对 (+ 百万), G2 = 二四六八十客 (+ 千亿)
  (the groups of ``tools/transfer_experiment.py``), and all of it;
- the first K BatchNorms (in the network's order, the stem first) take the source's
  statistics, one after another (each measured with the ones before it already adapted);
  the rest keep the training data's;
- measured: our model alone, top-1 by folder and by group; fused with the second opinion
  (the model's own ``fusion`` and thresholds, readers asked for every image); and the
  top-1 on a synthetic test split (held-out fonts and seed, complete characters only), to
  see what the adaptation costs on ink like the training data's.

The IR has its BatchNorms folded into the convolutions; ``keras_from_ir`` rebuilds them
with the training data's statistics measured on a synthetic validation split, so the
adapted model differs from the shipped one only in the statistics replaced. Needs the
train extra (TensorFlow). About 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from calibrate_fusion import fused_all, read_sample, readings  # noqa: E402
from transfer_experiment import GROUPS  # noqa: E402

from recognition.charmodel import CharModel, readers_opinion  # noqa: E402
from recognition.preprocess import raise_ink  # noqa: E402

F32 = npt.NDArray[np.float32]
SHARED = ROOT.parent / "shared" / "data" / "real-handwriting"
G1 = frozenset("".join(GROUPS["G1"]))  # its HSK 1 and its non-HSK 1 characters


def batchnorms(model: Any) -> list[Any]:
    """The model's BatchNorm layers in the order the network was built (inputs first)."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def adapt(model: Any, x: F32, k: int) -> None:
    """Give the first ``k`` BatchNorms of ``model`` the mean and variance their inputs have
    on ``x``, one after another; gamma and beta stay."""
    import keras

    for bn in batchnorms(model)[:k]:
        probe = keras.Model(model.input, bn.input)
        z = np.asarray(probe.predict(x, batch_size=512, verbose=0), np.float64)
        z = z.reshape(-1, z.shape[-1])
        gamma, beta, _, _ = bn.get_weights()
        bn.set_weights([gamma, beta, z.mean(0).astype(np.float32), z.var(0).astype(np.float32)])


def synthetic(split: str, seed: int, size: int) -> tuple[F32, npt.NDArray[np.int32]]:
    """A synthetic split's inputs (N, size, size, 1) and labels, complete characters and
    negatives (no incomplete variants)."""
    from recognition.training.dataset import build
    from recognition.training.synth import hsk1_charset

    data = build(
        hsk1_charset(),
        n_per_class=20,
        incomplete_per_class=0,
        unknown=1000,
        seed=seed,
        split=split,  # type: ignore[arg-type]
        size=size,
        cache_dir=ROOT / ".cache" / "adabn",
        progress=False,
    )
    return (data.x.astype(np.float32) / 255.0)[..., None], data.labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "char")
    ap.add_argument("--real", type=Path, action="append", default=[])
    ap.add_argument("--layers", default="1,3,5,9,13", help="how many BatchNorms to adapt")
    args = ap.parse_args()
    from recognition.training.recover import keras_from_ir

    roots = args.real or [SHARED / "chinese-mnist", SHARED / "casia-train"]
    model = CharModel(args.model)
    fusion = model.fusion
    second = None if fusion is None else readers_opinion(args.model.parent, fusion.readers)
    n = len(model.charset)
    sample = read_sample(model, roots)
    inks = [ink if ink.ndim == 2 else ink[0] for ink in sample.inks]
    papers, lab, folder = sample.papers, sample.labels, sample.folders
    in_g1 = np.array([c in G1 for c in sample.names])
    x = np.stack(inks)[..., None].astype(np.float32)
    q = first = None
    if second is not None and fusion is not None:
        q, first = readings(
            second,
            fusion.inputs,
            fusion.settle,
            papers,
            inks,
            model.charset,
            other=fusion.asks_other,
        )

    xv, _ = synthetic("val", 4242, model.size)
    xt, yt = synthetic("test", 4343, model.size)
    ir = json.loads((args.model / "model.json").read_text("utf-8"))["ir"]
    keras_model = keras_from_ir(args.model / ir, xv)
    trained = [bn.get_weights() for bn in batchnorms(keras_model)]
    known = lab < n
    parts = {
        "CM": known & (folder == 0),
        "CASIA": known & (folder == 1),
        "G1": known & in_g1,
        "G2": known & ~in_g1,
    }

    def measure(tag: str, gamma: float) -> None:
        p = np.asarray(keras_model.predict(raise_ink(x, gamma), batch_size=512, verbose=0)["probs"])
        cells = [f"{tag:34s}"]
        for name, sel in parts.items():
            cells.append(f"{name} {100 * np.mean(p[sel, :n].argmax(1) == lab[sel]):5.1f}")
        if q is not None and fusion is not None:
            f = fused_all(p, q, fusion, first)
            for name in ("CM", "CASIA"):
                sel = parts[name]
                cells.append(f"fused {name} {100 * np.mean(f[sel, :n].argmax(1) == lab[sel]):5.1f}")
        ps = np.asarray(keras_model.predict(xt, batch_size=512, verbose=0)["probs"])
        real = yt < n
        cells.append(f"synthetic {100 * np.mean(ps[real].argmax(1) == yt[real]):5.1f}")
        print(" | ".join(cells), flush=True)

    measure(f"as trained, input_gamma {model.gamma}", model.gamma)
    measure("as trained, input_gamma 1", 1.0)
    sources = {
        "CM": folder == 0,
        "CASIA": folder == 1,
        "G1": in_g1,
        "G2": ~in_g1,
        "all": np.ones(len(lab), bool),
    }
    for k in (int(v) for v in args.layers.split(",") if v.strip()):
        for name, sel in sources.items():
            for bn, weights in zip(batchnorms(keras_model), trained, strict=True):
                bn.set_weights(weights)
            adapt(keras_model, x[sel], k)
            measure(f"{k} adapted from {name}, gamma 1", 1.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
