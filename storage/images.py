"""Content-addressed file store for answer images, which later become training data."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

_REF = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{2,5}$")


class ImageStore:
    """Keeps each distinct image once, named by the SHA-256 of its bytes.

    A reference looks like ``<sha256>.<ext>``; the file lives in ``images/<first two hex>/``
    so no directory grows past a few thousand entries.
    """

    def __init__(self, root: Path) -> None:
        self.root = root / "images"

    def path(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError(f"not an image reference: {ref!r}")
        return self.root / ref[:2] / ref

    def _put_sync(self, data: bytes, ext: str) -> str:
        ref = f"{hashlib.sha256(data).hexdigest()}.{ext.lower().lstrip('.')}"
        target = self.path(ref)
        if target.exists():
            return ref
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, flush to disk, then rename: a crash leaves either no
        # file or the whole file, never a truncated image under a valid name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    async def put(self, data: bytes, ext: str) -> str:
        return await asyncio.to_thread(self._put_sync, data, ext)

    async def read(self, ref: str) -> bytes:
        return await asyncio.to_thread(self.path(ref).read_bytes)

    def exists(self, ref: str) -> bool:
        return self.path(ref).exists()

    async def delete(self, ref: str) -> None:
        await asyncio.to_thread(self.path(ref).unlink, True)
