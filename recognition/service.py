"""A bounded queue that gathers concurrent requests into batches run on a small thread pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

log = logging.getLogger(__name__)


class ServiceBusy(Exception):
    """Too many requests are waiting: the caller should tell the user to retry shortly."""

    def __init__(self, retry_after: float = 1.0) -> None:
        super().__init__("busy, try again in a moment")
        self.retry_after = retry_after


class ServiceClosed(Exception):
    """The service is shutting down or shut down and takes no new requests."""

    def __init__(self) -> None:
        super().__init__("the recognition service is closed and takes no new requests")


@dataclass(frozen=True, slots=True)
class ServiceStats:
    batches: int  # batches handed to process_batch, failed ones included
    items: int  # items in those batches
    largest_batch: int
    failed_batches: int  # batches whose process_batch raised
    rejected: int  # submits refused with ServiceBusy


@dataclass(slots=True)
class _Job(Generic[In, Out]):
    item: In
    future: asyncio.Future[Out]


class BatchingService(Generic[In, Out]):
    """Callers `await submit(item)`; items arriving together are processed as one batch.

    `process_batch` gets a list of items and must return one result per item, in the
    same order. It runs in worker threads, so it may block (an OpenVINO inference does)
    and up to `workers` batches run at the same time. Use it inside one event loop:
    `start()` (or `async with`) there, `close()` there.
    """

    def __init__(
        self,
        process_batch: Callable[[list[In]], list[Out]],
        *,
        max_batch: int = 32,
        max_wait_ms: float = 2.0,
        max_pending: int = 256,
        workers: int = 2,
        retry_after: float = 1.0,
    ) -> None:
        if max_batch < 1 or max_pending < 1 or workers < 1:
            raise ValueError("max_batch, max_pending and workers must be at least 1")
        if max_wait_ms < 0:
            raise ValueError("max_wait_ms must not be negative")
        self._process_batch = process_batch
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_pending = max_pending
        self.workers = workers
        self.retry_after = retry_after

        self._waiting: deque[_Job[In, Out]] = deque()
        self._pending = 0  # waiting plus running: what max_pending bounds
        self._arrived = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._collector: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closing = False
        self._closed = False

        self._batches = 0
        self._items = 0
        self._largest = 0
        self._failed = 0
        self._rejected = 0

    @property
    def stats(self) -> ServiceStats:
        """A snapshot of the counters, for tests, benchmarks and logs."""
        return ServiceStats(
            batches=self._batches,
            items=self._items,
            largest_batch=self._largest,
            failed_batches=self._failed,
            rejected=self._rejected,
        )

    @property
    def pending(self) -> int:
        """Items received and not answered yet, waiting or running."""
        return self._pending

    def start(self) -> None:
        """Start the collector; must be called from inside the running event loop."""
        if self._closing:
            raise ServiceClosed()
        if self._collector is not None:
            return
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="batching")
        self._slots = asyncio.Semaphore(self.workers)
        self._collector = asyncio.get_running_loop().create_task(
            self._collect(), name="batching-collector"
        )

    async def submit(self, item: In) -> Out:
        """Queue one item and wait for its own result, or the exception its batch raised.

        Raises ServiceBusy at once when `max_pending` items are already in the service,
        and ServiceClosed once `close()` has begun.
        """
        if self._closing:
            raise ServiceClosed()
        if self._pending >= self.max_pending:
            self._rejected += 1
            raise ServiceBusy(self.retry_after)
        self.start()
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Job(item, future))
        self._pending += 1
        self._arrived.set()
        # Awaiting the future directly means a cancelled caller cancels only its future;
        # the batch skips or ignores it and the other callers are unaffected.
        return await future

    async def close(self) -> None:
        """Stop taking items, finish every item already received, then stop the threads."""
        if self._closed:
            return
        self._closing = True
        self._arrived.set()  # wake the collector so it notices and stops waiting for more
        try:
            if self._collector is not None:
                await self._collector
            while self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
        finally:
            if self._executor is not None:
                # Every batch has finished, so the threads are idle and join at once.
                self._executor.shutdown(wait=True)
            self._closed = True

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _take(self, batch: list[_Job[In, Out]]) -> None:
        while self._waiting and len(batch) < self.max_batch:
            job = self._waiting.popleft()
            if job.future.done():
                # Its caller was cancelled while waiting: do not spend work on it.
                self._pending -= 1
                continue
            batch.append(job)

    async def _collect(self) -> None:
        assert self._slots is not None
        loop = asyncio.get_running_loop()
        batch: list[_Job[In, Out]] = []
        try:
            while True:
                while not self._waiting:
                    if self._closing:
                        return
                    self._arrived.clear()
                    await self._arrived.wait()

                # Waiting for a free worker first lets items pile up meanwhile, so a busy
                # service naturally runs larger batches.
                await self._slots.acquire()
                batch = []
                self._take(batch)
                deadline = loop.time() + self.max_wait
                # The first item has been waiting the shortest possible time; give others
                # arriving in the next max_wait a chance to share its batch.
                while len(batch) < self.max_batch and not self._closing:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._arrived.clear()
                    # Waiting on the event, not on a queue get, cannot lose an item when the
                    # timeout and an arrival race.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), remaining)
                    self._take(batch)

                if not batch:  # every caller in it was cancelled
                    self._slots.release()
                    continue
                task = loop.create_task(self._run(batch), name="batching-batch")
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                batch = []  # the task owns these callers now
        except asyncio.CancelledError:
            # Only when the loop is torn down without close(): nobody will answer these
            # callers any more, so let them stop waiting instead of hanging.
            for job in (*batch, *self._waiting):
                job.future.cancel()
            self._waiting.clear()
            raise

    async def _run(self, batch: list[_Job[In, Out]]) -> None:
        assert self._slots is not None
        loop = asyncio.get_running_loop()
        self._batches += 1
        self._items += len(batch)
        self._largest = max(self._largest, len(batch))
        try:
            results = await loop.run_in_executor(
                self._executor, self._process_batch, [job.item for job in batch]
            )
            if len(results) != len(batch):
                raise RuntimeError(
                    f"process_batch returned {len(results)} results for {len(batch)} items"
                )
        except Exception as exc:
            self._failed += 1
            log.warning("event=batch.failed size=%d error=%s", len(batch), type(exc).__name__)
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
        except asyncio.CancelledError:
            for job in batch:
                job.future.cancel()
            raise
        else:
            for job, result in zip(batch, results, strict=True):
                if not job.future.done():  # the caller may have been cancelled meanwhile
                    job.future.set_result(result)
        finally:
            self._pending -= len(batch)
            self._slots.release()
