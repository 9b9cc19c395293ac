"""Group commit: work that arrives while a transaction is under way waits and goes together in the next one.

A commit (a write lock and a WAL append on SQLite, a round trip on PostgreSQL) and the statements around it
cost about as much for one item as for fifty, so under load many items share one transaction; alone, an
item goes at once. Each caller is answered only after its transaction committed (an answered web form is
stored). Cancelling a caller (the client hung up) does not cancel the batch others wait on.

Intake stores new messages this way (and routes the inquiries they opened in the same transaction), the
notifier stores the notices that follow; routing groups what it routes on its own (catch-up, an
inquiry whose routing inside intake failed or found routing busy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Alone:
    def __repr__(self) -> str:
        return "ALONE"


ALONE = _Alone()
"""What ``run_batch`` answers for an item the shared transaction could not take: it is done again alone."""


class GroupCommit(Generic[Item, Result]):
    """``run_batch(items)`` answers each item in order: its result, an exception (that item failed, the
    others stand), or ``ALONE`` (do it again alone with ``run_alone``, e.g. after a unique-key clash). If
    ``run_batch`` raises, every item of the batch fails with that error."""

    def __init__(self, run_batch: Callable[[list[Item]], Awaitable[Sequence[Result | BaseException | _Alone]]],
                 run_alone: Callable[[Item], Awaitable[Result]], *, max_batch: int = 64,
                 name: str = "group-commit") -> None:
        self._run_batch = run_batch
        self._run_alone = run_alone
        self._max_batch = max_batch
        self._name = name
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0
        self.largest = 0

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=self._name)
        return await asyncio.shield(future)

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
            try:
                results = await self._run_batch([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the transaction failed: each caller hears why
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.commits += 1
            self.largest = max(self.largest, len(batch))
            for (item, future), result in zip(batch, results, strict=True):
                if result is ALONE:
                    try:
                        result = await self._run_alone(item)
                    except Exception as exc:  # noqa: BLE001 - handed to the caller
                        result = exc
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)  # type: ignore[arg-type] - ALONE was replaced above
