"""Installing a new character model keeps the old one, and rollback puts it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from recognition import modelstore


def fake_model(path: Path, weights: bytes, **meta: str) -> Path:
    """A model directory as far as the store looks: model.json and the IR's weights."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "charmodel.xml").write_text("<net/>")
    (path / "charmodel.bin").write_bytes(weights)
    (path / "model.json").write_text(json.dumps({"ir": "charmodel.xml", **meta}))
    return path


def files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_a_model_without_a_version_is_named_by_its_weights_and_stamp_adds_one(
    tmp_path: Path,
) -> None:
    model = fake_model(tmp_path / "char", b"weights-1")
    digest = modelstore.weights_digest(model)
    assert modelstore.model_version(model) == digest and len(digest) == 12

    version = modelstore.stamp(model, parent="abc")
    meta = json.loads((model / "model.json").read_text())
    assert meta["version"] == version and meta["parent"] == "abc"
    assert version.endswith(digest[:8])
    assert modelstore.read_info(model).parent == "abc"


def test_install_keeps_the_previous_model_and_rollback_restores_it(tmp_path: Path) -> None:
    active = fake_model(tmp_path / "char", b"old", version="v1")
    before = files(active)
    staged = fake_model(modelstore.staging_dir(active), b"new", version="v2", parent="v1")

    previous = modelstore.install(staged, active)

    assert modelstore.model_version(active) == "v2"
    assert not staged.exists()
    assert files(previous) == before
    assert [i.version for i in modelstore.history(active)] == ["v1"]
    assert "rollback goes back to the first" in modelstore.describe(active)

    info = modelstore.rollback(active)

    assert info.version == "v1"
    assert files(active) == before
    assert modelstore.history(active) == []
    with pytest.raises(modelstore.StoreError, match="no previous model"):
        modelstore.rollback(active)


def test_only_the_last_versions_are_kept(tmp_path: Path) -> None:
    active = fake_model(tmp_path / "char", b"0", version="v0")
    for i in range(1, 5):
        staged = fake_model(modelstore.staging_dir(active), str(i).encode(), version=f"v{i}")
        modelstore.install(staged, active, keep=2)
    assert modelstore.model_version(active) == "v4"
    assert [i.version for i in modelstore.history(active)] == ["v3", "v2"]


def test_install_refuses_what_it_cannot_rename_into_place(tmp_path: Path) -> None:
    active = fake_model(tmp_path / "models" / "char", b"old", version="v1")
    elsewhere = fake_model(tmp_path / "elsewhere", b"new", version="v2")
    with pytest.raises(modelstore.StoreError, match="beside"):
        modelstore.install(elsewhere, active)
    not_a_model = modelstore.staging_dir(active)
    with pytest.raises(modelstore.StoreError, match=r"model\.json is missing"):
        modelstore.install(not_a_model, active)
    assert modelstore.model_version(active) == "v1"


def test_the_model_command_shows_and_rolls_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    active = fake_model(tmp_path / "char", b"old", version="v1")
    modelstore.install(
        fake_model(modelstore.staging_dir(active), b"new", version="v2", parent="v1"), active
    )

    assert cli_main(["model", "show", "--model-dir", str(active)]) == 0
    shown = capsys.readouterr().out
    assert "version: v2" in shown and "parent:  v1" in shown

    assert cli_main(["model", "rollback", "--model-dir", str(active)]) == 0
    said = capsys.readouterr().out
    assert "v1 is active" in said and "restart" in said
    assert modelstore.model_version(active) == "v1"

    assert cli_main(["model", "rollback", "--model-dir", str(active)]) == 2
    assert "no previous model" in capsys.readouterr().err


def test_the_committed_model_is_described_from_its_training_report() -> None:
    committed = Path(__file__).resolve().parents[2] / "models" / "char"
    text = modelstore.describe(committed)
    version = modelstore.model_version(committed)
    assert f"version: {version}" in text
    # The version names the weights it was stamped for: model.json and the IR belong together.
    assert modelstore.weights_digest(committed)[:8] in version
    assert "synthetic test, top-1" in text
