"""The ``hanzi-bot`` command line: one entry point with a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from config import Settings, SettingsError, configure_logging, load_settings
from recognition.runtime import ModelLoadError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hanzi-bot",
        description="A chat bot that teaches HSK 1 Chinese handwriting. Settings come from "
        "HANZI_* environment variables or a TOML file named by HANZI_CONFIG.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "run",
        help="start the bot: Telegram and/or Discord when their tokens are set, "
        "otherwise the console chat",
    )
    console = sub.add_parser("console", help="chat with the bot in this terminal")
    console.add_argument("--user", default="me", help="who you are in the chat (default: me)")
    console.add_argument(
        "--chat", default="console", help="which chat you are in (default: console)"
    )
    export = sub.add_parser(
        "export-feedback",
        help="write corrections and confirmed answers as a dataset: <label>/<id>.png, "
        "manifest.jsonl and a README (the layout `evaluate chars` reads)",
    )
    export.add_argument("--out", type=Path, required=True, help="the folder to write")
    export.add_argument(
        "--since", type=_day, default=None, help="only feedback from this date on (YYYY-MM-DD)"
    )
    export.add_argument(
        "--status",
        choices=("pending", "accepted", "rejected", "all"),
        default=None,
        help="only corrections with this review status (default: pending and accepted)",
    )
    export.add_argument(
        "--no-confirmed",
        action="store_true",
        help="leave out answers the model confirmed (only user corrections)",
    )

    verify = sub.add_parser(
        "verify", help="judge a photo against a character or word; prints the verdict as JSON"
    )
    verify.add_argument("image", type=Path)
    verify.add_argument("target", help="the character or word that was asked for")
    classify = sub.add_parser("classify", help="the 5 likeliest characters in a photo, as JSON")
    classify.add_argument("image", type=Path)
    ocr = sub.add_parser("ocr", help="read the text lines in a photo")
    ocr.add_argument("image", type=Path)
    ocr.add_argument("--json", action="store_true", help="lines with boxes and confidences")
    evaluate = sub.add_parser("evaluate", help="measure a model on a folder of labelled images")
    evaluate.add_argument(
        "what",
        choices=["chars", "lines"],
        help="chars: DIR/<character>/*.png; lines: DIR/labels.tsv (file name TAB text)",
    )
    evaluate.add_argument("dir", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--fast",
        action="store_true",
        help="chars: at the model's fast operating point (what the bot uses when busy) "
        "instead of its thorough one (a photo when it is not)",
    )
    sub.add_parser(
        "train",
        help="train the character model (needs the train extra); --help for its options",
        add_help=False,
    )
    sub.add_parser(
        "retrain",
        help="fine-tune the character model on exported feedback, install it if no worse "
        "(needs the train extra); --help for its options",
        add_help=False,
    )
    model = sub.add_parser("model", help="the installed character model: show it or roll back")
    model.add_argument("action", choices=["show", "rollback"])
    model.add_argument("--model-dir", type=Path, default=None, help="default: HANZI_MODEL_DIR/char")
    bench = sub.add_parser("bench", help="speed and memory benchmarks against a baseline")
    bench.add_argument("what", choices=["recognition", "ocr", "leaderboard"])
    bench.add_argument("--lines", type=int, default=50, help="ocr: synthetic lines to read")
    bench.add_argument("--images", type=int, default=512, help="photos per run")
    bench.add_argument("--concurrency", type=int, default=64)
    bench.add_argument(
        "--photos",
        type=Path,
        help="recognition: real photos to read, DIR/<character>/*.png (default: synthetic)",
    )
    bench.add_argument("--attempts", type=int, help="leaderboard: answers (default 1000000)")
    bench.add_argument("--chats", type=int, help="leaderboard: chats (default 2000)")
    bench.add_argument("--users", type=int, help="leaderboard: users (default 50000)")
    bench.add_argument("--days", type=int, help="leaderboard: days of history (default 365)")
    bench.add_argument("--db", type=Path, help="leaderboard: keep the generated file here (new)")
    bench.add_argument("--json", action="store_true", help="leaderboard: one JSON object")
    return parser


def _model_dir(settings: Settings) -> Path:
    return settings.model_dir / "char"


def _load_char_model(settings: Settings) -> Any:
    from recognition.charmodel import load_char_model

    return load_char_model(_model_dir(settings))


def _decision_json(decision: Any) -> dict[str, Any]:
    return {
        "verdict": decision.outcome.value,
        "predicted": decision.predicted,
        "confidence": round(decision.confidence, 4),
        "target_probability": round(decision.target_probability, 4),
        "similarity": round(decision.similarity, 4),
        "incomplete_score": round(decision.incomplete_score, 4),
        "reason": decision.reason,
        "top5": [[c, round(p, 4)] for c, p in decision.top5],
    }


def _read_image(path: Path, max_bytes: int) -> bytes:
    from recognition.images import ImageRejected, inspect_image

    data = path.read_bytes()
    try:
        inspect_image(data, max_bytes=max_bytes)
    except ImageRejected as exc:
        raise SystemExit(f"hanzi-bot: {path}: not a usable image ({exc})") from exc
    return data


def _verify(settings: Settings, image: Path, target: str) -> int:
    from recognition.charmodel import Job

    model = _load_char_model(settings)
    data = _read_image(image, settings.max_photo_bytes)
    decision = model.judge([Job(data, target)], thorough=True)[0]
    print(json.dumps(_decision_json(decision), ensure_ascii=False))
    return 0


def _classify(settings: Settings, image: Path) -> int:
    from recognition.charmodel import Job

    model = _load_char_model(settings)
    data = _read_image(image, settings.max_photo_bytes)
    decision = model.judge([Job(data)], thorough=True)[0]
    out = {
        "top5": [[c, round(p, 4)] for c, p in decision.top5],
        "incomplete_score": round(decision.incomplete_score, 4),
        "reason": decision.reason,
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _evaluate(settings: Settings, what: str, folder: Path, as_json: bool, fast: bool) -> int:
    from recognition.evaluate import evaluate_chars

    model = _load_char_model(settings)
    model.warm_up()  # ms_per_image as the bot reads, its kernels built at start
    try:
        result = evaluate_chars(model, folder, thorough=not fast)
    except FileNotFoundError as exc:
        print(f"hanzi-bot: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for key, value in result.items():
        if key == "per_character_top1":
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"{key:>24}: {shown}")
    return 0


def _line_ocr(settings: Settings) -> Any:
    from recognition.lines import LineOCR
    from recognition.seedline import SeedLineRecognizer

    recognizer = None
    if settings.line_model is not None and settings.line_charset is not None:
        recognizer = SeedLineRecognizer(settings.line_model, settings.line_charset)
    return LineOCR(settings.model_dir / "ppocr", recognizer=recognizer)


def _ocr(settings: Settings, image: Path, as_json: bool) -> int:
    ocr = _line_ocr(settings)
    page = ocr.read(_read_image(image, settings.max_photo_bytes))
    if not as_json:
        print(page.text)
        return 0
    out = {
        "width": page.width,
        "height": page.height,
        "truncated": page.truncated,
        "problem": page.problem.value if page.problem else None,
        "lines": [
            {
                "text": line.text,
                "confidence": round(line.confidence, 4),
                "box": [[round(x, 1), round(y, 1)] for x, y in line.box],
                "char_confidences": [round(c, 4) for c in line.char_confidences],
            }
            for line in page.lines
        ],
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _evaluate_lines(settings: Settings, folder: Path, as_json: bool) -> int:
    from recognition.ocr_eval import evaluate_lines

    ocr = _line_ocr(settings)
    try:
        result = evaluate_lines(ocr.read, folder)
    except (FileNotFoundError, ValueError) as exc:
        print(f"hanzi-bot: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0


def _train(argv: Sequence[str]) -> int:
    try:
        from recognition.training.train import main as train_main
    except ImportError as exc:
        print(
            f"hanzi-bot train needs the train extra ({exc.name} is missing): "
            "pip install -e '.[train]'",
            file=sys.stderr,
        )
        return 2
    return train_main(argv)


def _retrain(argv: Sequence[str]) -> int:
    try:
        from recognition.training.retrain import main as retrain_main
    except ImportError as exc:
        print(
            f"hanzi-bot retrain needs the train extra ({exc.name} is missing): "
            "pip install -e '.[train]'",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"hanzi-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    return retrain_main(argv, default_model_dir=_model_dir(settings))


def _model(settings: Settings, action: str, folder: Path | None) -> int:
    from recognition import modelstore

    folder = folder or _model_dir(settings)
    try:
        if action == "rollback":
            info = modelstore.rollback(folder)
            print(f"Rolled back: {info.version} is active in {folder}. {modelstore.RESTART}")
        else:
            print(modelstore.describe(folder))
    except modelstore.StoreError as exc:
        print(f"hanzi-bot: {exc}", file=sys.stderr)
        return 2
    return 0


def _day(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import pseudonym_key
    from quizzes.feedback import STATUSES, export_feedback
    from storage import ImageStore, open_storage

    if args.status is None:
        statuses: tuple[str, ...] = ("pending", "accepted")
    elif args.status == "all":
        statuses = STATUSES
    else:
        statuses = (args.status,)
    storage = await open_storage(settings.database_path)
    try:
        result = await export_feedback(
            storage,
            ImageStore(settings.data_dir),
            args.out,
            key=pseudonym_key(settings.data_dir),
            now=datetime.now(UTC),
            since=args.since,
            statuses=statuses,
            confirmed=not args.no_confirmed,
        )
    finally:
        await storage.close()
    print(
        f"Exported {result.images} images ({result.corrections} corrections, "
        f"{result.confirmed} confirmed answers; {result.skipped} left out) to {result.folder}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["train"]:
        # Training has its own options; pass them through untouched.
        return _train(raw[1:])
    if raw[:1] == ["retrain"]:
        return _retrain(raw[1:])
    args = _parser().parse_args(raw)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"hanzi-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    secrets = [
        token.get_secret_value()
        for token in (settings.telegram_token, settings.discord_token)
        if token is not None
    ]
    level = settings.log_level
    console_chat = args.command == "console" or (
        args.command == "run" and settings.telegram_token is None and settings.discord_token is None
    )
    if console_chat and "log_level" not in settings.model_fields_set:
        # In a terminal chat, INFO lines would drown the conversation.
        level = "WARNING"
    configure_logging(level, secrets=secrets)

    from bot import app

    try:
        if args.command == "console":
            asyncio.run(app.run_console(settings, user=args.user, chat=args.chat))
            return 0
        if args.command == "run":
            return asyncio.run(app.run_bot(settings))
        if args.command == "export-feedback":
            return asyncio.run(_export(settings, args))
        if args.command == "verify":
            return _verify(settings, args.image, args.target)
        if args.command == "classify":
            return _classify(settings, args.image)
        if args.command == "ocr":
            return _ocr(settings, args.image, args.json)
        if args.command == "evaluate" and args.what == "lines":
            return _evaluate_lines(settings, args.dir, args.json)
        if args.command == "evaluate":
            return _evaluate(settings, args.what, args.dir, args.json, args.fast)
        if args.command == "model":
            return _model(settings, args.action, args.model_dir)
        if args.command == "bench" and args.what == "leaderboard":
            from storage.bench import Shape, run_leaderboard_bench

            knobs = ("attempts", "chats", "users", "days")
            shape = Shape(**{k: getattr(args, k) for k in knobs if getattr(args, k) is not None})
            return run_leaderboard_bench(shape, db=args.db, as_json=args.json)
        if args.command == "bench" and args.what == "ocr":
            from recognition.ocr_eval import bench_ocr, print_bench

            print_bench(bench_ocr(settings.model_dir / "ppocr", lines=args.lines))
            return 0
        if args.command == "bench":
            from recognition.bench import bench_recognition

            return bench_recognition(
                _model_dir(settings),
                images=args.images,
                concurrency=args.concurrency,
                photos_dir=args.photos,
            )
    except ModelLoadError as exc:
        print(f"hanzi-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
