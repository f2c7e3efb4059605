"""How often a written word is accepted when it is the word asked for, and when it is not.

Usage: python tools/word_rates.py [MODEL_DIR] [--real DIR] [--words 600] [--length 2]
                                  [--spaces 0.2,0,-0.05] [--hand 3] [--fast] [--json]

Real words: ``--words`` picks (seeded) of ``--length`` characters from the real sample
(``DIR/<character>/*.png`` or ``DIR/<sample>/<character>/*.png``, HSK 1 characters only;
default ``../shared/data/real-handwriting``), each scan's ink written side by side
at a height of 40-72 px (``linesynth.real_word``), ``space`` times the height apart for
each of ``--spaces`` (0: touching boxes; below 0: overlapping). Each word is judged as the
bot judges a photo answering it, against itself and against the word with one character
changed (``wrong accepted``); and each of its characters, on the same paper alone,
against itself: ``singles accepted`` is the share of words whose every character was
accepted alone, what the word's cut and reading could at best give.

Handwritten words: every HSK 1 word of two characters or more in the generator's hand
(``linesynth.render_line``, ``render_columns``), ``--hand`` seeds, in a row and in a
column.

At the thorough operating point (a photo when the bot is not busy), ``--fast`` at the fast
one. Prints one line per set, or with ``--json`` one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recognition.charmodel import DEFAULT_DIR, CharModel, Job, load_char_model  # noqa: E402
from recognition.evaluate import judge_in_batches  # noqa: E402
from recognition.linesynth import real_word, render_columns, render_line  # noqa: E402
from recognition.verifier import Outcome  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "real-handwriting"


def jpeg(gray: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(gray).save(out, "JPEG", quality=90)
    return out.getvalue()


def another(word: str, charset: str, i: int) -> str:
    """``word`` with its ``i % len(word)``-th character changed to another of the set."""
    k = i % len(word)
    j = (charset.index(word[k]) + 1 + 7 * i) % len(charset)
    if charset[j] == word[k]:
        j = (j + 1) % len(charset)
    return word[:k] + charset[j] + word[k + 1 :]


def scans(root: Path, charset: str) -> list[tuple[str, Path]]:
    """Every scan of an HSK 1 character under ``root``: ``root/<character>/*`` or, for
    several samples, ``root/<sample>/<character>/*``."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    chars = [f for f in folders if f.name in charset] + [
        c for f in folders if f.name not in charset for c in sorted(f.iterdir()) if c.is_dir()
    ]
    return [
        (char.name, path)
        for char in chars
        if char.name in charset
        for path in sorted(char.iterdir())
        if path.suffix.lower() in {".png", ".jpg", ".jpeg"}
    ]


def real_words(
    pool: Sequence[tuple[str, Path]], n: int, length: int, space: float, seed: int = 5
) -> list[tuple[str, bytes, list[bytes]]]:
    """``n`` words of ``length`` scans: (the word, its photo, each character alone)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        picks = [pool[int(rng.integers(len(pool)))] for _ in range(length)]
        grays = [np.asarray(Image.open(path).convert("L")) for _, path in picks]
        height = int(rng.integers(40, 72))
        word = real_word(grays, height=height, space=space)
        alone = [jpeg(real_word([g], height=height)) for g in grays]
        out.append(("".join(c for c, _ in picks), jpeg(word), alone))
    return out


def hand_words(seeds: int, *, column: bool) -> list[tuple[str, bytes]]:
    from quizzes.hsk import load_vocabulary
    from recognition.training.synth import Generator

    words = [w.hanzi for w in load_vocabulary().words if len(w.hanzi) > 1]
    out = []
    for seed in range(seeds):
        generator = Generator(seed=101 + seed, size=64)
        for i, word in enumerate(words):
            rng = generator.rng_for(7_000_003, i)
            image = (
                render_columns(generator, [word], rng)
                if column
                else render_line(generator, word, rng)
            )
            out.append((word, jpeg(image)))
    return out


def judged(model: CharModel, words: Sequence[tuple[str, bytes]], thorough: bool) -> dict[str, Any]:
    own = judge_in_batches(model, [Job(data, w) for w, data in words], thorough=thorough)
    wrong = judge_in_batches(
        model,
        [Job(data, another(w, model.charset, i)) for i, (w, data) in enumerate(words)],
        thorough=thorough,
    )
    counts = Counter(d.outcome.value + (f" ({d.reason})" if d.reason else "") for d in own)
    n = max(1, len(words))
    return {
        "words": len(words),
        "accepted": sum(d.outcome is Outcome.CORRECT for d in own) / n,
        "wrong_accepted": sum(d.outcome is Outcome.CORRECT for d in wrong) / n,
        "verdicts": dict(counts.most_common()),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--length", type=int, default=2)
    parser.add_argument("--spaces", default="0.2,0,-0.05")
    parser.add_argument("--hand", type=int, default=3)
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    thorough = not args.fast

    model = load_char_model(args.model, processes=2)
    model.warm_up()
    results: dict[str, Any] = {"operating_point": "fast" if args.fast else "thorough"}
    try:
        pool = scans(args.real, model.charset) if args.words and args.real.is_dir() else []
        for space in [float(s) for s in args.spaces.split(",")] if pool else []:
            made = real_words(pool, args.words, args.length, space)
            result = judged(model, [(w, data) for w, data, _ in made], thorough)
            alone = judge_in_batches(
                model,
                [Job(data, w[k]) for w, _, each in made for k, data in enumerate(each)],
                thorough=thorough,
            )
            ok = iter(d.outcome is Outcome.CORRECT for d in alone)
            result["singles_accepted"] = float(
                np.mean([all([next(ok) for _ in each]) for _, _, each in made])
            )
            results[f"real, {args.length} characters, space {space:g}"] = result
        for column in (False, True) if args.hand else ():
            name = "handwritten HSK 1 words, " + ("a column" if column else "a row")
            results[name] = judged(model, hand_words(args.hand, column=column), thorough)
    finally:
        model.close()
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for name, r in results.items():
            if isinstance(r, dict):
                singles = r.get("singles_accepted")
                alone = f", each alone {singles:.1%}" if singles is not None else ""
                print(
                    f"{name}: {r['words']} words, accepted {r['accepted']:.1%}{alone}, "
                    f"wrong accepted {r['wrong_accepted']:.2%}; {r['verdicts']}"
                )
    return results


if __name__ == "__main__":
    main()
