"""Group commit: many concurrent writers share one transaction, and so one fsync.

Every durable step of the engine (a webhook's Events before its 2xx, an Event's outcome with its
Binding and audit rows) is a small function of a Connection. Instead of one transaction each,
:class:`GroupCommit` runs all the functions queued since the last commit inside one transaction
(if one fails, the batch is rolled back and each runs alone, so one failure never undoes the others),
commits once, and only then resolves each caller's future. A caller therefore still learns
"durably recorded" only after the fsync, so the guarantees are unchanged; the cost of the fsync is
shared by the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from doohickey.engine.store import Store

T = TypeVar("T")
Op = Callable[[Connection], Any]


class GroupCommit:
    """Batches writes from many tasks into shared transactions (see the module docstring)."""

    def __init__(self, store: Store, *, max_batch: int = 500, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self.max_batch = max_batch
        self.queue: list[tuple[Op, asyncio.Future[Any]]] = []
        self.wake: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.ops = 0

    async def run(self, op: Callable[[Connection], T]) -> T:
        """Run ``op`` in the next shared transaction; returns its result once that transaction is committed."""
        if not self.enabled:  # one transaction per write, in the caller's thread
            with self.store.begin() as conn:
                return op(conn)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done():
            self.wake = asyncio.Event()
            self.task = loop.create_task(self._loop())
        future: asyncio.Future[Any] = loop.create_future()
        self.queue.append((op, future))
        assert self.wake is not None
        self.wake.set()
        return await future

    async def _loop(self) -> None:
        assert self.wake is not None
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                batch, self.queue = self.queue[:self.max_batch], self.queue[self.max_batch:]
                try:
                    # Inline, not in a thread: while this fsync blocks the loop, requests queue up in the
                    # kernel and their writes form the next, larger batch (a thread hop measured slower).
                    results = self._commit([op for op, _ in batch])
                except Exception as exc:  # the commit itself failed: nothing of the batch is durable
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), (ok, value) in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    def _commit(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        try:
            with self.store.begin() as conn:
                results: list[tuple[bool, Any]] = [(True, op(conn)) for op in ops]
        except Exception:  # one op failed: the batch rolled back; run each alone so only that one fails
            results = []
            for op in ops:
                try:
                    with self.store.begin() as conn:
                        results.append((True, op(conn)))
                except Exception as exc:  # this op's error goes to its caller
                    results.append((False, exc))
        self.batches += 1
        self.ops += len(ops)
        return results

    async def close(self) -> None:
        """Stop the writer once the queue is empty."""
        while self.queue:
            await asyncio.sleep(0.01)
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
