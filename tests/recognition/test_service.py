"""The batching service: batches concurrent callers, answers each its own, refuses when full."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from recognition.service import BatchingService, ServiceBusy, ServiceClosed

# Long enough that a blocked worker thread never hangs the suite if a test goes wrong.
GATE_TIMEOUT = 5.0


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Let the event loop run until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


class Recorder:
    """A process_batch that doubles numbers, remembers its batches and can be held."""

    def __init__(self, *, hold: bool = False, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.batches.append(list(items))
        assert self.gate.wait(GATE_TIMEOUT)
        time.sleep(self.delay)
        return [item * 2 for item in items]


async def test_concurrent_submits_are_batched_and_each_caller_gets_its_own_result() -> None:
    process = Recorder(delay=0.01)
    async with BatchingService(process, max_batch=16, max_wait_ms=5, workers=2) as service:
        results = await asyncio.gather(*(service.submit(i) for i in range(64)))

    assert results == [i * 2 for i in range(64)]
    stats = service.stats
    assert stats.items == 64
    assert stats.largest_batch > 1
    assert stats.batches < 64
    assert stats.largest_batch <= 16
    assert all(len(batch) <= 16 for batch in process.batches)
    assert stats.failed_batches == 0
    assert service.pending == 0


async def test_items_reach_process_batch_in_the_order_they_were_submitted() -> None:
    process = Recorder()
    async with BatchingService(process, max_batch=8, max_wait_ms=5, workers=1) as service:
        results = await asyncio.gather(*(service.submit(i) for i in range(40)))

    assert results == [i * 2 for i in range(40)]
    # One worker runs one batch at a time, so the batches together are the submit order.
    assert [item for batch in process.batches for item in batch] == list(range(40))


async def test_results_go_to_their_own_callers_even_when_process_batch_reorders_work() -> None:
    def label(items: list[str]) -> list[str]:
        # Work in another order internally, answer in the order received.
        done = {item: item.upper() for item in sorted(items, reverse=True)}
        return [done[item] for item in items]

    async with BatchingService(label, max_batch=32, max_wait_ms=5) as service:
        words = [f"w{i}" for i in range(20)]
        results = await asyncio.gather(*(service.submit(word) for word in words))

    assert results == [word.upper() for word in words]


async def test_a_full_service_refuses_at_once_while_earlier_items_still_complete() -> None:
    process = Recorder(hold=True)
    service = BatchingService(process, max_batch=2, max_wait_ms=0, max_pending=4, workers=1)
    async with service:
        earlier = [asyncio.create_task(service.submit(i)) for i in range(4)]
        await until(lambda: service.pending == 4)

        started = time.monotonic()
        with pytest.raises(ServiceBusy) as busy:
            await service.submit(99)
        assert time.monotonic() - started < 0.5
        assert str(busy.value) == "busy, try again in a moment"
        assert busy.value.retry_after > 0
        assert service.stats.rejected == 1

        process.gate.set()
        assert await asyncio.gather(*earlier) == [0, 2, 4, 6]
        # Room again once the earlier items are answered.
        assert await service.submit(5) == 10
    assert 99 not in [item for batch in process.batches for item in batch]


async def test_a_failing_batch_reaches_only_its_callers_and_the_service_keeps_serving() -> None:
    release = threading.Event()

    def process(items: list[str]) -> list[str]:
        if "slow" in items:
            assert release.wait(GATE_TIMEOUT)
        if "bad" in items:
            raise ValueError("cannot read bad")
        return [item + "!" for item in items]

    async with BatchingService(process, max_batch=8, max_wait_ms=0, workers=1) as service:
        first = asyncio.create_task(service.submit("slow"))
        await until(lambda: service.stats.batches == 1)
        # These wait behind the held batch, so they form the next batch together.
        bad = asyncio.create_task(service.submit("bad"))
        same_batch = asyncio.create_task(service.submit("ok"))
        await until(lambda: service.pending == 3)
        release.set()

        assert await first == "slow!"
        for task in (bad, same_batch):
            with pytest.raises(ValueError, match="cannot read bad"):
                await task
        assert await service.submit("next") == "next!"

    assert service.stats.failed_batches == 1
    assert service.stats.batches == 3


async def test_a_wrong_number_of_results_fails_that_batch() -> None:
    def short(items: list[int]) -> list[int]:
        return items[:-1]

    async with BatchingService(short, max_wait_ms=5) as service:
        results = await asyncio.gather(service.submit(1), service.submit(2), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    assert "1 results for 2 items" in str(results[0])


async def test_close_finishes_received_work_and_refuses_new_work() -> None:
    process = Recorder(hold=True)
    service = BatchingService(process, max_batch=1, max_wait_ms=0, workers=1)
    service.start()
    # One batch running, two still waiting in the queue when close begins.
    received = [asyncio.create_task(service.submit(i)) for i in range(3)]
    await until(lambda: service.pending == 3 and service.stats.batches == 1)

    closing = asyncio.create_task(service.close())
    await asyncio.sleep(0.01)
    with pytest.raises(ServiceClosed):
        await service.submit(7)
    assert not closing.done()

    process.gate.set()
    await closing
    assert [task.result() for task in received] == [0, 2, 4]
    assert process.batches == [[0], [1], [2]]
    with pytest.raises(ServiceClosed):
        await service.submit(8)
    with pytest.raises(ServiceClosed):
        service.start()
    await service.close()  # closing twice is harmless


async def test_a_cancelled_caller_does_not_break_the_others() -> None:
    process = Recorder(hold=True)
    async with BatchingService(process, max_batch=8, max_wait_ms=0, workers=1) as service:
        running = asyncio.create_task(service.submit(1))
        await until(lambda: service.stats.batches == 1)
        waiting = [asyncio.create_task(service.submit(i)) for i in (2, 3, 4)]
        await until(lambda: service.pending == 4)

        running.cancel()  # its batch is already in a worker thread
        waiting[1].cancel()  # still queued: it should never be processed
        await asyncio.sleep(0)
        process.gate.set()

        assert await waiting[0] == 4
        assert await waiting[2] == 8
        for task in (running, waiting[1]):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert await service.submit(5) == 10

    assert process.batches == [[1], [2, 4], [5]]
    assert service.pending == 0


async def test_submit_starts_the_service_when_needed() -> None:
    service = BatchingService(Recorder())
    try:
        assert await service.submit(21) == 42
    finally:
        await service.close()


@pytest.mark.parametrize(
    "kwargs",
    [{"max_batch": 0}, {"max_pending": 0}, {"workers": 0}, {"max_wait_ms": -1.0}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BatchingService(Recorder(), **kwargs)  # type: ignore[arg-type]
