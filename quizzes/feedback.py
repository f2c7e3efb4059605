"""Corrections: users dispute verdicts, admins review them, and both corrections and confirmed
answers are exported as a dataset in the folder layout `hanzi-bot evaluate chars` reads."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from quizzes.scoring import points_for_correct
from storage.images import ImageStore
from storage.protocols import AttemptRecord, Award, CorrectionRecord, Storage

# Answers the model was this sure of, and nobody disputed, are labelled data too.
CONFIRMED_CONFIDENCE = 0.9
STATUSES = ("pending", "accepted", "rejected")

README = """\
Handwriting feedback exported by hanzi-bot on {time}

Layout: one folder per character (<character>/<id>.png), the layout that
`hanzi-bot evaluate chars DIR` reads, so this folder is also an evaluation set.
manifest.jsonl has one JSON object per image: file, label, source ("correction": a
user said the bot was wrong and gave this label; "confirmed": the model was sure and
nobody disputed it), status of a correction (pending/accepted/rejected), the model's
prediction and scores, the model version, the time, and the chat and user as
pseudonymous ids (the same person has the same id within this installation).

{images} images: {corrections} corrections, {confirmed} confirmed answers.
{skipped} left out (word answers of several characters, or images deleted at a
user's request).

To retrain the character model on it:

    hanzi-bot evaluate chars {folder}        # how the current model does on it
    hanzi-bot retrain --feedback {folder}    # fine-tune; installed only if not worse
    hanzi-bot model rollback                 # if you want the previous model back
"""


@dataclass(frozen=True, slots=True)
class ExportResult:
    folder: Path
    images: int
    corrections: int
    confirmed: int
    skipped: int


@dataclass(frozen=True, slots=True)
class ReviewResult:
    correction: CorrectionRecord
    # Points the accepted correction gave its author (negative: taken back; 0 if none).
    points: int


def pseudonym(key: bytes, kind: str, value: int) -> str:
    """A stable id that cannot be turned back into the platform's user or chat id."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]


async def dispute(
    storage: Storage, attempt: AttemptRecord, label: str, at: datetime
) -> CorrectionRecord:
    """Record that the user says ``attempt``'s image shows ``label``; disputing the same
    answer again with the same label returns the pending correction instead of a copy."""
    for existing in await storage.corrections.list(status="pending", chat_id=attempt.chat_id):
        if existing.attempt_id == attempt.id and existing.label == label:
            return existing
    return await storage.corrections.add(
        user_id=attempt.user_id,
        attempt_id=attempt.id,
        image_ref=attempt.image_ref,
        predicted=attempt.predicted,
        label=label,
        created_at=at,
        chat_id=attempt.chat_id,
        scores_json=attempt.scores_json,
        model_version=attempt.model_version,
    )


async def review(
    storage: Storage, correction_id: int, accept: bool, reviewer: int, at: datetime
) -> ReviewResult | None:
    """Accept or reject a pending correction; None if there is no such pending one.

    Accepting a correction that says a daily answer was the target after all turns that
    answer correct and gives the day's points, as grading would have; the streak follows,
    because streaks are replayed from the days that scored."""
    if not await storage.corrections.review(
        correction_id, "accepted" if accept else "rejected", reviewer, at
    ):
        return None
    correction = await storage.corrections.get(correction_id)
    assert correction is not None
    points = 0
    attempt = await storage.attempts.get(correction.attempt_id) if correction.attempt_id else None
    if (
        accept
        and attempt is not None
        and attempt.kind == "daily"
        and attempt.challenge_id is not None
        and attempt.verdict != "correct"
        and correction.label == attempt.target
    ):
        points = await _regrade_correct(storage, attempt)
    elif (
        accept
        and attempt is not None
        and attempt.kind == "daily"
        and attempt.challenge_id is not None
        and attempt.verdict == "correct"
        and correction.label != attempt.target
    ):
        # The learner says the bot was too kind: the answer was not the target.
        challenge = await storage.challenges.get(attempt.challenge_id)
        if challenge is not None:
            points = -await storage.attempts.revoke(attempt.id, "wrong", challenge.local_date)
    return ReviewResult(correction, points)


async def _regrade_correct(storage: Storage, attempt: AttemptRecord) -> int:
    assert attempt.challenge_id is not None
    challenge = await storage.challenges.get(attempt.challenge_id)
    if challenge is None:
        return await storage.attempts.grant(attempt.id, "correct", None)
    tried = await storage.attempts.for_challenge(challenge.id, attempt.user_id)
    points = points_for_correct(
        earlier_attempts=sum(1 for a in tried if a.id < attempt.id),
        hints_used=attempt.hints,
        answered_at=attempt.received_at,
        posted_at=challenge.posted_at,
    )
    award = Award(attempt.chat_id, attempt.user_id, challenge.local_date, points.total)
    return await storage.attempts.grant(attempt.id, "correct", award)


def _png(source: Path) -> bytes | None:
    """The stored answer as an upright PNG; None if the file is gone or unreadable."""
    try:
        with Image.open(source) as image:
            upright = ImageOps.exif_transpose(image)
            buffer = io.BytesIO()
            upright.convert("RGB").save(buffer, "PNG")
            return buffer.getvalue()
    except (OSError, UnidentifiedImageError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    label: str
    source: str
    status: str
    predicted: str | None
    scores_json: str
    model_version: str
    time: datetime
    chat_id: int | None
    user_id: int
    image_ref: str


def _write_folder(
    folder: Path, rows: list[_Row], images: ImageStore, key: bytes, now: datetime
) -> ExportResult:
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    written = corrections = confirmed = skipped = 0
    with (partial / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
        for row in rows:
            png = _png(images.path(row.image_ref)) if len(row.label) == 1 else None
            if png is None:
                skipped += 1
                continue
            file = f"{row.label}/{row.name}.png"
            (partial / row.label).mkdir(exist_ok=True)
            (partial / file).write_bytes(png)
            record = {
                "file": file,
                "label": row.label,
                "source": row.source,
                "status": row.status,
                "predicted": row.predicted,
                "scores": json.loads(row.scores_json or "{}"),
                "model_version": row.model_version,
                "time": row.time.isoformat(),
                "chat": pseudonym(key, "chat", row.chat_id) if row.chat_id else None,
                "user": pseudonym(key, "user", row.user_id),
            }
            manifest.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
            if row.source == "correction":
                corrections += 1
            else:
                confirmed += 1
    (partial / "README").write_text(
        README.format(
            time=now.isoformat(timespec="seconds"),
            images=written,
            corrections=corrections,
            confirmed=confirmed,
            skipped=skipped,
            folder=folder,
        ),
        encoding="utf-8",
    )
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    return ExportResult(folder, written, corrections, confirmed, skipped)


async def export_feedback(
    storage: Storage,
    images: ImageStore,
    folder: Path,
    *,
    key: bytes,
    now: datetime,
    since: datetime | None = None,
    statuses: tuple[str, ...] = ("pending", "accepted"),
    chat_id: int | None = None,
    confirmed: bool = True,
) -> ExportResult:
    """Write corrections with the given statuses (and, unless told not to, confirmed
    answers) since ``since`` into ``folder``, replacing it as a whole."""
    rows: list[_Row] = []
    for status in statuses:
        for c in await storage.corrections.list(status=status, chat_id=chat_id, since=since):
            rows.append(
                _Row(
                    f"c{c.id:07d}",
                    c.label,
                    "correction",
                    c.status,
                    c.predicted,
                    c.scores_json,
                    c.model_version,
                    c.created_at,
                    c.chat_id,
                    c.user_id,
                    c.image_ref,
                )
            )
    if confirmed:
        for a in await storage.attempts.confirmed(
            since=since, chat_id=chat_id, min_confidence=CONFIRMED_CONFIDENCE
        ):
            assert a.target is not None
            rows.append(
                _Row(
                    f"a{a.id:07d}",
                    a.target,
                    "confirmed",
                    "",
                    a.predicted,
                    a.scores_json,
                    a.model_version,
                    a.received_at,
                    a.chat_id,
                    a.user_id,
                    a.image_ref,
                )
            )
    result = await asyncio.to_thread(_write_folder, folder, rows, images, key, now)
    ids = [int(r.name[1:]) for r in rows if r.source == "correction"]
    await storage.corrections.mark_exported(ids, now)
    return result


def zip_folder(folder: Path) -> bytes:
    """The exported folder as one zip, for sending in a chat."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()
