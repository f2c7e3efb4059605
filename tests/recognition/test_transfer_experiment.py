"""The transfer experiment's splits: no test writer is ever fine-tuned on, each character is in
one group, and the fine-tuning pool is capped and spread over writers."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_tool

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool("transfer_experiment")


@pytest.fixture()
def shared(tmp_path: Path) -> Path:
    """The real sample's layout with empty files: the split only reads names."""
    root = tmp_path / "real-handwriting"
    for char in "一二百":
        folder = root / "chinese-mnist" / char
        folder.mkdir(parents=True)
        for writer in range(51, 101):
            for sample in range(1, 11):
                (folder / f"w{writer}_s{sample}.png").write_bytes(b"")
    for char in "对客":
        folder = root / "casia-train" / char
        folder.mkdir(parents=True)
        for number in range(1, 598):
            (folder / f"{number}.png").write_bytes(b"")
    return root


def test_test_writers_are_never_fine_tuned_on(tool: ModuleType, shared: Path) -> None:
    images = tool.real_images(shared)
    tuned = {im.writer for im in images if im.fine_tune}
    tested = {im.writer for im in images if not im.fine_tune}
    assert not tuned & tested
    assert "cm-w75" in tuned and "cm-w76" in tested
    assert "casia-299" in tuned and "casia-300" in tested


def test_the_pool_is_capped_and_spread_over_writers(tool: ModuleType, shared: Path) -> None:
    pool = tool.fine_tune_pool(tool.real_images(shared), 100)
    for char in "一二百对客":
        mine = [im for im in pool if im.char == char]
        assert len(mine) == 100
        assert all(im.fine_tune for im in mine)
    mnist = [im for im in pool if im.char == "一"]
    assert len({im.writer for im in mnist}) == 25  # 4 samples from each of writers 51-75


def test_each_character_is_in_exactly_one_group(tool: ModuleType) -> None:
    hsk = [c for chars, _ in tool.GROUPS.values() for c in chars]
    unknown = [c for _, chars in tool.GROUPS.values() for c in chars]
    assert sorted(hsk) == sorted("一二三四五六七八九十零对客")
    assert sorted(unknown) == sorted("百千万亿")
    assert tool.RUNS["fold1"] != tool.RUNS["fold2"]


def test_feedback_folders_link_the_data_and_name_writers(
    tool: ModuleType, shared: Path, tmp_path: Path
) -> None:
    pool = tool.fine_tune_pool(tool.real_images(shared), 8)
    out = tmp_path / "feedback"
    tool._link_tree(out, pool, True)
    files = sorted(p for p in out.rglob("*.png"))
    assert len(files) == len(pool)
    assert all(p.is_symlink() for p in files)  # nothing of ../shared is copied
    entries = [
        json.loads(line) for line in (out / "manifest.jsonl").read_text("utf-8").splitlines()
    ]
    assert {e["file"].split("/")[0] for e in entries} == set("一二百对客")
    assert all(e["file"].split("/")[1].startswith(e["user"] + "_") for e in entries)
