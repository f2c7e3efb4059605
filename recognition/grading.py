"""The bot's Grader: photos judged by the character model through one batching service."""

from __future__ import annotations

from recognition.api import Grade, Verdict
from recognition.charmodel import CharModel, Job
from recognition.service import BatchingService
from recognition.verifier import Decision, Outcome

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


class CharacterGrader:
    """Concurrent ``grade`` calls are gathered into batches for one shared compiled model.

    A full queue raises ``ServiceBusy`` (the caller answers "busy, try again") rather
    than letting a backlog grow without bound.
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
        self.service: BatchingService[Job, Decision] = BatchingService(
            model.judge,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_pending=max_pending,
            workers=workers,
        )

    async def judge(self, image: bytes, target: str) -> Decision:
        return await self.service.submit(Job(image, target))

    async def grade(self, image: bytes, target: str) -> Grade:
        return to_grade(await self.judge(image, target), self.model.version)

    async def close(self) -> None:
        """Finish what was received, then stop the model's worker processes."""
        await self.service.close()
        self.model.close()
