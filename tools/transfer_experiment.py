"""Does fine-tuning on real ink of a few characters help characters never seen in real form?

Usage: python tools/transfer_experiment.py [--work .cache/transfer] [--runs fold1,fold2,control]

The design, fixed before any run (the reason: ``hanzi-bot retrain`` lifted top-1 on unseen
writers of the six characters it fine-tuned on; the hidden test is all 178 characters,
almost all of which we have no real ink for, so only transfer to *unseen characters*
would make a fine-tuned model worth shipping):

- Characters: the 13 HSK 1 characters of ``../shared/data/real-handwriting`` in two groups,
  G1 = 一三五七九零对 and G2 = 二四六八十客 (each mixes easy and hard strokes and one CASIA
  character); the non-HSK 1 characters ("unknown") likewise, 百万 with G1 and 千亿 with G2.
- Writers: Chinese MNIST writers 51-75 may be fine-tuned on, writers 76-100 are the test.
  CASIA files carry no writer id; consecutive files look like different writers, so files
  1-299 may be fine-tuned on and 300 and above are the test (split by file number).
- Fine-tuning pool: at most 100 images per character (4 samples, chosen by hash, of each
  of the 25 Chinese MNIST writers; 100 CASIA files chosen by hash), given to
  ``hanzi-bot retrain --dry-run`` with the retrain defaults (3 epochs, 60 synthetic images
  per class, real images 25% of the mix, a quarter of the pool held out by writer for
  retrain's own comparison) on a copy of ``models/char``, never the committed one.
- Runs: fold1 fine-tunes on G1 (A = G1, B = G2), fold2 on G2 (A = G2, B = G1), control
  on a single real image, which the mix repeats 20 times among ~15,000 synthetic ones:
  it separates "a few more epochs of synthetic data" from "real ink".
- Measure: ``evaluate_chars`` (what ``hanzi-bot evaluate chars --json`` runs) on the test
  writers of G1 and G2, each model alone and with PP-OCRv4's second opinion, at the
  thresholds in the model's ``model.json`` (retrain keeps the base model's, so the models
  compare at the same operating point); the synthetic test figures from retrain's report.
- Decision rule: ship a model fine-tuned on the real sample only if group B (never seen
  in real form) gains at least 2 points of top-1 or right answers accepted in both folds,
  alone or fused, with no loss of unknown rejection or of the synthetic figures beyond
  1 point, and more than the control gains.

Steps: ``prepare`` (symlink trees and manifests under --work; nothing is copied),
``finetune`` (one ``hanzi-bot retrain --dry-run`` per run, a few minutes each on 2 cores),
``evaluate`` (cached in ``results.json``), ``table`` (the markdown table for the model card).
``--runs all`` fine-tunes on every character's fine-tuning writers (the candidate to ship).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data" / "real-handwriting"
BASE = ROOT / "models" / "char"
PPOCR = ROOT / "models" / "ppocr"
HANZI_BOT = Path(sys.executable).parent / "hanzi-bot"

GROUPS: dict[str, tuple[str, str]] = {
    # group: (HSK 1 characters, non-HSK 1 characters used as "unknown")
    "G1": ("一三五七九零对", "百万"),
    "G2": ("二四六八十客", "千亿"),
}
RUNS: dict[str, tuple[str, ...]] = {
    "fold1": ("G1",),
    "fold2": ("G2",),
    "all": ("G1", "G2"),
}
CONTROL = "control"
FINE_TUNE_WRITERS = range(51, 76)
CASIA_FIRST_TEST_FILE = 300
PER_CLASS = 100
SEED = 2026
MNIST_NAME = re.compile(r"w(\d+)_s(\d+)\.png")


@dataclass(frozen=True)
class Image:
    path: Path
    char: str
    writer: str  # "cm-w51", or "casia-<file number>" (no writer ids in CASIA)
    fine_tune: bool  # on the fine-tuning side of the writer split


def _rank(key: str) -> str:
    return hashlib.sha256(f"{SEED}:{key}".encode()).hexdigest()


def real_images(shared: Path) -> list[Image]:
    """Every image of the real sample with its writer and side of the writer split."""
    out: list[Image] = []
    for folder in sorted((shared / "chinese-mnist").iterdir()):
        for f in sorted(folder.glob("*.png")):
            m = MNIST_NAME.fullmatch(f.name)
            if m is None:
                raise SystemExit(f"unexpected Chinese MNIST file name: {f}")
            writer = int(m.group(1))
            out.append(Image(f, folder.name, f"cm-w{writer}", writer in FINE_TUNE_WRITERS))
    for folder in sorted((shared / "casia-train").iterdir()):
        for f in sorted(folder.glob("*.png")):
            number = int(f.stem)
            out.append(Image(f, folder.name, f"casia-{number}", number < CASIA_FIRST_TEST_FILE))
    return out


def fine_tune_pool(images: Iterable[Image], per_class: int) -> list[Image]:
    """At most ``per_class`` fine-tuning-side images per character, spread over writers:
    the same number from every writer (by hash) rather than every sample of a few."""
    by_char: dict[str, list[Image]] = {}
    for im in images:
        if im.fine_tune:
            by_char.setdefault(im.char, []).append(im)
    pool: list[Image] = []
    for char, ims in sorted(by_char.items()):
        writers = sorted({im.writer for im in ims})
        each = max(1, per_class // len(writers))
        chosen: list[Image] = []
        for w in writers:
            mine = sorted((im for im in ims if im.writer == w), key=lambda i: _rank(str(i.path)))
            chosen += mine[:each]
        pool += sorted(chosen, key=lambda i: _rank(str(i.path)))[:per_class]
        del char
    return pool


def _link_tree(root: Path, images: Sequence[Image], manifest: bool) -> None:
    """``root/<char>/<file>`` as symlinks (the real data stays in ../shared), with a
    manifest naming each file's writer so retrain holds out whole writers."""
    shutil.rmtree(root, ignore_errors=True)
    lines = []
    for im in images:
        rel = Path(im.char) / f"{im.writer}_{im.path.name}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(im.path.resolve())
        lines.append(json.dumps({"file": rel.as_posix(), "user": im.writer}, ensure_ascii=False))
    if manifest:
        (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def _chars(groups: Iterable[str]) -> str:
    return "".join(GROUPS[g][0] + GROUPS[g][1] for g in groups)


def prepare(work: Path, per_class: int) -> dict[str, Any]:
    images = real_images(SHARED)
    pool = fine_tune_pool(images, per_class)
    test = [im for im in images if not im.fine_tune]
    for run, groups in RUNS.items():
        chars = _chars(groups)
        _link_tree(work / "feedback" / run, [im for im in pool if im.char in chars], True)
    # One real image among ~15,000 synthetic ones (retrain repeats it at most 20 times).
    _link_tree(work / "feedback" / CONTROL, pool[:1], True)
    for group in GROUPS:
        chars = _chars([group])
        _link_tree(work / "test" / group, [im for im in test if im.char in chars], False)
    counts: dict[str, Any] = {
        "fine_tune_pool": {c: sum(im.char == c for im in pool) for c in _chars(GROUPS)},
        "test": {c: sum(im.char == c for im in test) for c in _chars(GROUPS)},
        "fine_tune_writers": "Chinese MNIST w51-w75; CASIA files 1-299",
        "test_writers": "Chinese MNIST w76-w100; CASIA files 300 and above",
    }
    (work / "split.json").write_text(json.dumps(counts, indent=2, ensure_ascii=False), "utf-8")
    return counts


def _model_home(path: Path) -> Path:
    """A models folder with the character model copied in and the readers linked beside it,
    the layout ``load_char_model`` and ``calibrate_fusion.py`` expect."""
    home = path.parent
    home.mkdir(parents=True, exist_ok=True)
    # The readers a model.json may name (fusion.readers): PP-OCRv6, or PP-OCRv4 before it.
    for reader in (PPOCR, PPOCR.parent / "ppocr6"):
        link = home / reader.name
        if not link.exists():
            link.symlink_to(reader.resolve())
    return home


def finetune(work: Path, run: str, epochs: int) -> Path:
    """``hanzi-bot retrain --dry-run`` on a copy of the base model; the candidate's folder."""
    start = work / "start" / run / "char"
    shutil.rmtree(start.parent, ignore_errors=True)
    shutil.copytree(BASE, start)
    _model_home(start)
    retrain_work = work / "retrain"
    cmd = [
        str(HANZI_BOT),
        "retrain",
        "--feedback",
        str(work / "feedback" / run),
        "--model-dir",
        str(start),
        "--work",
        str(retrain_work),
        "--epochs",
        str(epochs),
        "--dry-run",
        "--no-progress",
    ]
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    print(done.stdout, flush=True)
    report_path = Path(re.findall(r"Report: (\S+) \(", done.stdout)[-1])
    out = work / "models" / run / "char"
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(retrain_work / "candidate"), out)
    _model_home(out)
    shutil.copy2(report_path, work / "models" / run / "retrain-report.json")
    shutil.rmtree(start.parent, ignore_errors=True)
    return out


def attraction(model: Any, root: Path, others: str) -> dict[str, Any]:
    """How many HSK 1 images of a group are named as one of ``others`` (the other group's
    characters): the way real ink of some characters could pull look-alikes towards them."""
    from recognition.charmodel import Job
    from recognition.evaluate import UNKNOWN_DIR, collect

    items = [it for it in collect(root, model.charset) if it.label != UNKNOWN_DIR]
    named: dict[str, int] = {}
    for k in range(0, len(items), 64):
        batch = items[k : k + 64]
        for it, d in zip(
            batch, model.judge([Job(i.path.read_bytes()) for i in batch]), strict=True
        ):
            top = d.top5[0][0] if d.top5 else ""
            if top and top in others:
                named[f"{it.label}->{top}"] = named.get(f"{it.label}->{top}", 0) + 1
    return {"share": sum(named.values()) / max(1, len(items)), "pairs": named}


def evaluate(work: Path, runs: Sequence[str]) -> dict[str, Any]:
    """Every model on every test group, alone and fused; cached by model version."""
    from recognition.charmodel import load_char_model
    from recognition.evaluate import evaluate_chars
    from recognition.modelstore import model_version

    path = work / "results.json"
    results: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    models = {"base": BASE} | {r: work / "models" / r / "char" for r in runs}
    for name, model_dir in models.items():
        version = model_version(model_dir)
        entry = results.get(name, {})
        if entry.get("version") != version:
            entry = {"version": version}
        for fused in (False, True):
            mode = "fused" if fused else "alone"
            for group in GROUPS:
                key = f"{group}/{mode}"
                if "named_as_other_group" in entry.get(key, {}):
                    continue
                others = "".join(GROUPS[g][0] for g in GROUPS if g != group)
                model = load_char_model(model_dir, second_opinion=fused)
                try:
                    entry[key] = evaluate_chars(model, work / "test" / group)
                    entry[key]["named_as_other_group"] = attraction(
                        model, work / "test" / group, others
                    )
                finally:
                    model.close()
                print(name, key, json.dumps(entry[key], ensure_ascii=False), flush=True)
        report = work / "models" / name / "retrain-report.json"
        if report.is_file():
            rep = json.loads(report.read_text("utf-8"))
            entry["synthetic"] = rep["new"]["synthetic"]
            entry["retrain_held_out"] = rep["new"]["feedback"]
            results.setdefault("base", {})["synthetic"] = rep["old"]["synthetic"]
        results[name] = entry
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return results


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def table(results: dict[str, Any]) -> str:
    """Base vs fine-tuned on the test writers: groups A (seen in real form) and B (not)."""
    cols = ("top1", "verify_accept_correct", "verify_accept_wrong", "unknown_rejected")
    head = "| model | group | mode | images | top-1 | right accepted | wrong accepted | "
    head += "unknown rejected | named as the other group |\n|---|---|---|---|---|---|---|---|---|"
    rows = [head]
    seen = {"fold1": "G1", "fold2": "G2"}
    for run in ("fold1", "fold2", CONTROL, "all"):
        if run not in results:
            continue
        for group in GROUPS:
            role = "A" if seen.get(run) == group else "B" if run in seen else "-"
            if run == "all":
                role = "A"
            for mode in ("alone", "fused"):
                base = results["base"][f"{group}/{mode}"]
                new = results[run][f"{group}/{mode}"]
                cells = [f"{_pct(base[c])} -> {_pct(new[c])}" for c in cols]
                pulled = [r["named_as_other_group"]["share"] for r in (base, new)]
                cells.append(f"{_pct(pulled[0])} -> {_pct(pulled[1])}")
                rows.append(
                    f"| {run} | {role}: {group} | {mode} | {base['images']} + "
                    f"{base['unknown_images']} | " + " | ".join(cells) + " |"
                )
    rows.append("")
    rows.append(
        "| model | synthetic top-1 | right accepted | wrong accepted | unknown rejected "
        "| incomplete flagged |"
    )
    rows.append("|---|---|---|---|---|---|")
    for name in ("base", "fold1", "fold2", CONTROL, "all"):
        s = results.get(name, {}).get("synthetic")
        if s:
            figures = [_pct(s.get(c)) for c in (*cols, "incomplete_flagged")]
            rows.append(f"| {name} | " + " | ".join(figures) + " |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "transfer")
    ap.add_argument("--runs", default="fold1,fold2,control", help="fold1,fold2,control,all")
    ap.add_argument("--steps", default="prepare,finetune,evaluate,table")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=PER_CLASS)
    args = ap.parse_args()
    work: Path = args.work.resolve()
    runs = [r for r in args.runs.split(",") if r]
    unknown_runs = set(runs) - {*RUNS, CONTROL}
    if unknown_runs:
        ap.error(f"unknown runs: {', '.join(sorted(unknown_runs))}")
    steps = set(args.steps.split(","))
    work.mkdir(parents=True, exist_ok=True)
    if "prepare" in steps:
        print(json.dumps(prepare(work, args.per_class), ensure_ascii=False), flush=True)
    if "finetune" in steps:
        for run in runs:
            finetune(work, run, args.epochs)
    results: dict[str, Any] = {}
    if "evaluate" in steps:
        results = evaluate(work, runs)
    if "table" in steps:
        results = results or json.loads((work / "results.json").read_text("utf-8"))
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
