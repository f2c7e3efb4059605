"""`hanzi-bot evaluate chars DIR`: the character model measured on a folder of labelled images."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recognition.charmodel import CharModel, Job
from recognition.verifier import Outcome

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
UNKNOWN_DIR = "unknown"


@dataclass(frozen=True, slots=True)
class Item:
    path: Path
    label: str  # a character of the charset, or UNKNOWN_DIR for anything else


def collect(root: Path, charset: str) -> list[Item]:
    """``root/<char>/*.png`` (one folder per character) and ``root/unknown/*``; folders
    named after characters outside the set count as unknown handwriting too."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    items: list[Item] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = folder.name
        label = name if len(name) == 1 and name in charset else UNKNOWN_DIR
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                items.append(Item(f, label))
    if not items:
        raise FileNotFoundError(f"no images in {root} (expected {root}/<character>/*.png)")
    return items


def other_target(label: str, index: int, charset: str) -> str:
    """A different character to verify against, chosen deterministically."""
    i = charset.index(label)
    return charset[(i + 1 + index % (len(charset) - 1)) % len(charset)]


def evaluate_chars(model: CharModel, root: Path, batch: int = 64) -> dict[str, Any]:
    """Top-1/top-5, rejection of unknown handwriting and verification rates, one pass each."""
    items = collect(root, model.charset)
    datas = [it.path.read_bytes() for it in items]
    known = [i for i, it in enumerate(items) if it.label != UNKNOWN_DIR]
    unknown = [i for i, it in enumerate(items) if it.label == UNKNOWN_DIR]

    def run(jobs: list[Job]) -> list[Any]:
        out = []
        for k in range(0, len(jobs), batch):
            out += model.judge(jobs[k : k + batch])
        return out

    start = time.perf_counter()
    classified = run([Job(d) for d in datas])
    elapsed = time.perf_counter() - start
    own = run([Job(datas[i], items[i].label) for i in known])
    wrong = run(
        [Job(datas[i], other_target(items[i].label, n, model.charset)) for n, i in enumerate(known)]
    )

    top1 = top5 = 0
    per_char: dict[str, list[int]] = {}
    for i in known:
        labels = [c for c, _ in classified[i].top5]
        hit = labels[:1] == [items[i].label]
        top1 += hit
        top5 += items[i].label in labels
        per_char.setdefault(items[i].label, []).append(int(hit))
    rejected = sum(
        1
        for i in unknown
        if classified[i].outcome is not Outcome.CORRECT
        or classified[i].confidence < model.thresholds.known
    )
    n_known = max(1, len(known))
    return {
        "images": len(known),
        "top1": top1 / n_known if known else None,
        "top5": top5 / n_known if known else None,
        "unknown_images": len(unknown),
        "unknown_rejected": rejected / len(unknown) if unknown else None,
        "verify_accept_correct": (
            sum(d.outcome is Outcome.CORRECT for d in own) / n_known if known else None
        ),
        "verify_incomplete": (
            sum(d.outcome is Outcome.INCOMPLETE for d in own) / n_known if known else None
        ),
        "verify_accept_wrong": (
            sum(d.outcome is Outcome.CORRECT for d in wrong) / n_known if known else None
        ),
        "ms_per_image": 1000 * elapsed / max(1, len(items)),
        "per_character_top1": {c: float(np.mean(v)) for c, v in sorted(per_char.items())},
    }
