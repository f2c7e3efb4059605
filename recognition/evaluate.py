"""`hanzi-bot evaluate chars DIR`: the character model measured on a folder of labelled images."""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recognition.charmodel import CharModel, Job
from recognition.verifier import Decision, Outcome

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
UNKNOWN_DIR = "unknown"


@dataclass(frozen=True, slots=True)
class Item:
    path: Path
    label: str  # a character of the charset, or UNKNOWN_DIR for anything else


def image_folders(*roots: Path) -> list[tuple[Path, str]]:
    """``root/<label>/**/*.png`` (any image suffix) as (file, folder name) pairs, sorted."""
    pairs: list[tuple[Path, str]] = []
    for root in roots:
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            for f in sorted(folder.rglob("*")):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                    pairs.append((f, folder.name))
    return pairs


def collect(root: Path, charset: str) -> list[Item]:
    """``root/<char>/*.png`` (one folder per character) and ``root/unknown/*``; folders
    named after characters outside the set count as unknown handwriting too. A folder's
    name is read in Unicode's compatibility form (NFKC), so a Kangxi radical or a CJK
    compatibility ideograph that looks like the character (⼈ for 人) names it."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")

    def label(name: str) -> str:
        name = unicodedata.normalize("NFKC", name).strip()
        return name if len(name) == 1 and name in charset else UNKNOWN_DIR

    items = [Item(f, label(name)) for f, name in image_folders(root)]
    if not items:
        raise FileNotFoundError(f"no images in {root} (expected {root}/<character>/*.png)")
    return items


def impostor_targets(labels: npt.NDArray[np.integer[Any]], n_chars: int) -> npt.NDArray[np.int32]:
    """For each sample's class, a different character to verify it against, chosen
    deterministically (the same for every model, so their figures compare)."""
    idx = np.arange(len(labels))
    return ((labels + 1 + idx % (n_chars - 1)) % n_chars).astype(np.int32)


def judge_in_batches(
    model: CharModel, jobs: list[Job], *, thorough: bool, batch: int = 64
) -> list[Decision]:
    """``model.judge`` over many photos, ``batch`` at a time (one inference each)."""
    out: list[Decision] = []
    for k in range(0, len(jobs), batch):
        out += model.judge(jobs[k : k + batch], thorough=thorough)
    return out


def evaluate_chars(
    model: CharModel, root: Path, batch: int = 64, *, thorough: bool = True
) -> dict[str, Any]:
    """Top-1/top-5, rejection of unknown handwriting and verification rates, one pass each."""
    items = collect(root, model.charset)
    known_at = model.point(thorough)[1].known
    datas = [it.path.read_bytes() for it in items]
    known = [i for i, it in enumerate(items) if it.label != UNKNOWN_DIR]
    unknown = [i for i, it in enumerate(items) if it.label == UNKNOWN_DIR]

    def run(jobs: list[Job]) -> list[Decision]:
        return judge_in_batches(model, jobs, thorough=thorough, batch=batch)

    start = time.perf_counter()
    classified = run([Job(d) for d in datas])
    elapsed = time.perf_counter() - start
    own = run([Job(datas[i], items[i].label) for i in known])
    charset = model.charset
    others = impostor_targets(
        np.array([charset.index(items[i].label) for i in known]), len(charset)
    )
    wrong = run([Job(datas[i], charset[t]) for i, t in zip(known, others, strict=True)])

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
        if classified[i].outcome is not Outcome.CORRECT or classified[i].confidence < known_at
    )
    n_known = max(1, len(known))
    return {
        # Which of the model's operating points judged: "thorough" (what a photo gets when
        # the bot is not busy), or "fast" (when it is, or for a model with only that one).
        "operating_point": "thorough" if thorough and model.thorough is not None else "fast",
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
