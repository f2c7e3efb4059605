"""An answer is on disk before it is graded: a crash or a second writer loses nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, time
from pathlib import Path

from storage import ImageStore, open_storage
from tests.conftest import handwriting_png

CRASHING_BOT = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import UTC, datetime, time
    from pathlib import Path
    from storage import ImageStore, open_storage

    async def main():
        root = Path(sys.argv[1])
        store = await open_storage(root / "bot.sqlite3")
        images = ImageStore(root)
        user = await store.users.upsert("console", "me", "Me", "en")
        chat = await store.chats.upsert("console", "c", kind="private", title="",
            default_timezone="UTC", default_daily_time=time(9), default_language="en")
        ref = await images.put(Path(sys.argv[2]).read_bytes(), "png")
        await store.attempts.add(user_id=user.id, chat_id=chat.id, challenge_id=None,
            kind="daily", target="好", image_ref=ref, received_at=datetime.now(UTC))
        # The process dies here, in the middle of grading: no close, no cleanup.
        os._exit(9)

    asyncio.run(main())
    """
)


async def test_answer_survives_a_crash_before_grading(tmp_path: Path) -> None:
    photo = tmp_path / "answer.png"
    photo.write_bytes(handwriting_png())
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_BOT, str(tmp_path), str(photo)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 9, proc.stderr

    store = await open_storage(tmp_path / "bot.sqlite3")
    pending = await store.attempts.pending()
    await store.close()
    assert len(pending) == 1
    assert pending[0].target == "好" and pending[0].status == "pending"
    saved = ImageStore(tmp_path).path(pending[0].image_ref)
    assert saved.read_bytes() == photo.read_bytes()
    # No half-written temporary files are left beside the image.
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".incoming-")]


async def test_concurrent_writers_on_two_connections(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    a, b = await open_storage(path), await open_storage(path)
    chat = await a.chats.upsert(
        "t",
        "c",
        kind="group",
        title="",
        default_timezone="UTC",
        default_daily_time=time(9),
        default_language="en",
    )

    async def writer(store, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for i in range(40):
            user = await store.users.upsert("t", f"{prefix}{i}", f"{prefix}{i}", "")
            await store.attempts.add(
                user_id=user.id,
                chat_id=chat.id,
                challenge_id=None,
                kind="daily",
                target="好",
                image_ref="0" * 64 + ".png",
                received_at=datetime.now(UTC),
            )

    try:
        await asyncio.gather(writer(a, "a"), writer(b, "b"), writer(a, "c"), writer(b, "d"))
        pending = await a.attempts.pending()
    finally:
        await a.close()
        await b.close()
    assert len(pending) == 160


def test_image_store_is_content_addressed(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    data = handwriting_png()
    first = asyncio.run(store.put(data, "PNG"))
    second = asyncio.run(store.put(data, "png"))
    assert first == second and first.endswith(".png")
    assert asyncio.run(store.read(first)) == data
    assert len(list((tmp_path / "images").rglob("*.png"))) == 1
    assert os.path.basename(store.path(first)) == first
