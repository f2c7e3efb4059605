"""Copy the HSK 1 characters' stroke data from hanzi-writer-data into models/strokes/.

Usage: python tools/extract_stroke_data.py [SOURCE] [--output PATH] [--check]

SOURCE is the unpacked npm package (default .cache/hanzi-writer-data, filled by
tools/fetch_stroke_data.sh). The output keeps ``strokes``, ``medians`` and, where the package has
it, ``radStrokes`` (which strokes form the radical: the hint ladder draws them, and
tools/build_hsk_data.py names radicals from them); it is committed, and travels with the Arphic
Public License it is derived under. ``--check`` exits non-zero if
the committed file is out of date.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from quizzes.hsk import load_vocabulary  # noqa: E402
from recognition.training.strokes import StrokeData, parse_char  # noqa: E402

DEFAULT_SOURCE = REPO / ".cache" / "hanzi-writer-data"
DEFAULT_OUTPUT = REPO / "models" / "strokes" / "hsk1-strokes.json"
LICENCE_NAME = "LICENSE-ARPHIC.txt"


def extract(source: Path, charset: str) -> str:
    """The compact JSON text: char -> {"strokes", "medians"[, "radStrokes"]}, in charset order."""
    data = StrokeData(source)
    missing = [ch for ch in charset if ch not in data]
    if missing:
        raise SystemExit(f"{source}: no stroke data for {''.join(missing)}")
    out: dict[str, dict[str, object]] = {}
    for ch in charset:
        raw = data.raw(ch)
        # Refuse to commit data the generator cannot read: every stroke needs an outline.
        if not all(parse_char(ch, raw).outlines):
            raise SystemExit(f"{source}: {ch} has a stroke without a usable outline")
        entry: dict[str, object] = {"strokes": raw["strokes"], "medians": raw["medians"]}
        radical = [int(i) for i in raw.get("radStrokes", ())]
        if radical:
            # The runtime drops indices it cannot use, which would draw the wrong part: refuse.
            if radical != sorted(set(radical)) or not 0 <= radical[0] <= radical[-1] < len(
                raw["medians"]
            ):
                raise SystemExit(f"{source}: {ch} has radStrokes {radical} out of order or range")
            entry["radStrokes"] = radical
        out[ch] = entry
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args(argv)

    source: Path = args.source
    if (source / "package").is_dir() and not (source / "ARPHICPL.TXT").exists():
        source = source / "package"
    licence = source / "ARPHICPL.TXT"
    if not licence.exists():
        print(f"{source}: not an unpacked hanzi-writer-data package", file=sys.stderr)
        return 2
    text = extract(source, load_vocabulary().charset)
    output: Path = args.output
    licence_out = output.parent / LICENCE_NAME
    if args.check:
        stale = [
            p
            for p, want in ((output, text), (licence_out, licence.read_text("utf-8")))
            if not p.exists() or p.read_text("utf-8") != want
        ]
        for p in stale:
            print(f"{p} is out of date: run tools/extract_stroke_data.py", file=sys.stderr)
        return 1 if stale else 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, "utf-8")
    shutil.copyfile(licence, licence_out)
    print(f"wrote {output} ({len(text.encode()) // 1024} KiB) and {licence_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
