"""The bot's Grader: photos judged by the character model through one batching service."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from recognition.api import Grade, Verdict
from recognition.charmodel import CharModel, Job
from recognition.service import BatchingService
from recognition.verifier import Decision, Outcome

log = logging.getLogger(__name__)

_VERDICTS = {
    Outcome.CORRECT: Verdict.CORRECT,
    Outcome.WRONG_CHARACTER: Verdict.WRONG,
    Outcome.INCOMPLETE: Verdict.INCOMPLETE,
    Outcome.UNCLEAR: Verdict.UNREADABLE,
    Outcome.INVALID_TARGET: Verdict.INVALID_TARGET,
}


def to_grade(decision: Decision, model_version: str = "") -> Grade:
    scores = {
        "target_probability": decision.target_probability,
        "similarity": decision.similarity,
        "incomplete": decision.incomplete_score,
    }
    return Grade(
        verdict=_VERDICTS[decision.outcome],
        predicted=decision.predicted,
        confidence=round(decision.confidence, 4),
        reason=decision.reason,
        scores=tuple((k, round(float(v), 4)) for k, v in scores.items()),
        model_version=model_version,
    )


# At most this many photos in a batch, and no other photo waiting or being judged: the
# service is not busy, and the photos get the model's thorough reading.
LIGHT_LOAD = 4


class CharacterGrader:
    """Concurrent ``grade`` calls are gathered into batches for one shared compiled model.

    A full queue raises ``ServiceBusy`` (the caller answers "busy, try again") rather
    than letting a backlog grow without bound. When the service is not busy, photos are
    judged at the model's thorough operating point (``CharModel.judge``: the readers read
    every character, better on real handwriting at half the rate); under load, at its fast
    one, so a flood of photos is still answered quickly.
    """

    def __init__(
        self,
        model: CharModel,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 2.0,
        max_pending: int = 256,
        workers: int = 2,
    ) -> None:
        self.model = model
        self.thorough_batches = 0  # batches judged thoroughly (for the benchmark)
        self._count = threading.Lock()  # batches run on the service's worker threads
        self._warming: threading.Thread | None = None
        self._stop_warming = threading.Event()
        self.service: BatchingService[Job, Decision] = BatchingService(
            self._judge_batch,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_pending=max_pending,
            workers=workers,
        )

    def _judge_batch(self, jobs: list[Job]) -> list[Decision]:
        # pending counts this batch too: more means others wait or another batch runs.
        light = len(jobs) <= LIGHT_LOAD and self.service.pending <= len(jobs)
        if light:
            with self._count:
                self.thorough_batches += 1
        return self.model.judge(jobs, thorough=light)

    async def judge(self, image: bytes, target: str) -> Decision:
        return await self.service.submit(Job(image, target))

    async def grade(self, image: bytes, target: str) -> Grade:
        return to_grade(await self.judge(image, target), self.model.version)

    def start_warm_up(self) -> None:
        """Warm the model's kernels (``CharModel.warm_up``) on a thread of its own, so the
        bot answers at once while they are built; ``close`` stops it."""
        if self._warming is not None:
            return
        self._warming = threading.Thread(target=self._warm_up, name="warm-up", daemon=True)
        self._warming.start()

    def _warm_up(self) -> None:
        start = time.perf_counter()
        try:
            sizes = self.model.warm_up(self._stop_warming)
        except Exception:  # a failure here is only a slower first photo
            log.warning("recognition.warm_up_failed", exc_info=True)
            return
        log.info(
            "recognition.warmed_up",
            extra={"fields": {"sizes": sizes, "seconds": round(time.perf_counter() - start, 2)}},
        )

    async def close(self) -> None:
        """Finish what was received, then stop the warm-up and the model's worker processes."""
        if self._warming is not None:
            self._stop_warming.set()
            await asyncio.to_thread(self._warming.join)
        await self.service.close()
        self.model.close()
