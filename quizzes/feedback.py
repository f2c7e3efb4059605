"""User corrections as a training dataset: a zip of images with a labels file."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.images import ImageStore
from storage.protocols import CorrectionRecord, Storage


@dataclass(frozen=True, slots=True)
class ExportResult:
    count: int
    path: Path


def _write_zip(path: Path, rows: list[CorrectionRecord], images: ImageStore) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = io.StringIO()
    writer = csv.writer(labels)
    writer.writerow(["file", "label", "predicted", "created_at"])
    written = 0
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            source = images.path(row.image_ref)
            if not source.exists():
                continue  # a user asked us to forget it after the correction was made
            name = f"images/{row.id:07d}_{row.image_ref}"
            archive.write(source, name)
            writer.writerow([name, row.label, row.predicted or "", row.created_at.isoformat()])
            written += 1
        archive.writestr("labels.csv", labels.getvalue())
    partial.replace(path)
    return written


async def export_corrections(
    storage: Storage, images: ImageStore, out_dir: Path, now: datetime
) -> ExportResult | None:
    """Write every correction so far to ``out_dir``; None when there is nothing to export."""
    rows = await storage.corrections.list()
    if not rows:
        return None
    path = out_dir / f"corrections-{now:%Y%m%dT%H%M%SZ}.zip"
    count = await asyncio.to_thread(_write_zip, path, rows, images)
    await storage.corrections.mark_exported([r.id for r in rows], now)
    return ExportResult(count=count, path=path)
