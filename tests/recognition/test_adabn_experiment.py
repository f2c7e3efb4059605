"""The AdaBN experiment's adaptation: the first K BatchNorms normalise with the new data's
statistics, measured in order; the others and every trained weight stay."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests.conftest import load_tool

pytest.importorskip("tensorflow", reason="needs the train extra (.ci/run installs it)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool("adabn_experiment")


def test_the_first_k_batchnorms_take_the_new_datas_statistics(tool: ModuleType) -> None:
    import keras

    from recognition.training.model import build_model

    keras.utils.set_random_seed(1)
    model = build_model(16, 3, widths=(4, 8))
    bns = tool.batchnorms(model)
    assert [type(b).__name__ for b in bns] == ["BatchNormalization"] * len(bns)
    assert bns[-1].name == "embedding_raw"  # the network's order: the embedding's last
    before = [b.get_weights() for b in bns]
    rng = np.random.default_rng(0)
    x = (rng.random((64, 16, 16, 1)) ** 3).astype(np.float32)  # far from zero mean, unit var

    tool.adapt(model, x, 2)

    for i, bn in enumerate(bns):
        gamma, beta, mean, var = bn.get_weights()
        np.testing.assert_array_equal(gamma, before[i][0])
        np.testing.assert_array_equal(beta, before[i][1])
        if i >= 2:
            np.testing.assert_array_equal(mean, before[i][2])
            np.testing.assert_array_equal(var, before[i][3])
            continue
        # Measured with the layers before it already adapted: its input on x now.
        z = np.asarray(keras.Model(model.input, bn.input).predict(x, verbose=0), np.float64)
        z = z.reshape(-1, z.shape[-1])
        np.testing.assert_allclose(mean, z.mean(0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(var, z.var(0), rtol=1e-4, atol=1e-6)
        assert not np.allclose(mean, before[i][2])  # a fresh layer's mean was 0
