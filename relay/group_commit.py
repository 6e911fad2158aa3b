"""Group commit: what concurrent tasks ask to write goes to the database in one statement per round."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`await add(items)` returns once `write` has stored them, together with whatever other tasks added
    meanwhile: under load one round trip serves many callers, with one caller it costs nothing extra.

    `write` gets every waiting item in arrival order and returns one result per item. When it raises for a
    round of several callers, each caller's items are written again on their own, so one bad item fails
    only its own caller, never the others it happened to share a round with.
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[list[R]]], max_batch: int = 500) -> None:
        self._write = write
        self._max = max_batch
        self._waiting: deque[tuple[list[T], asyncio.Future[list[R]]]] = deque()
        self._flusher: asyncio.Task | None = None

    async def add(self, items: list[T]) -> list[R]:
        if not items:
            return []
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # tasks made ready by the same event join this round
        while self._waiting:
            batch, size = [], 0
            while self._waiting and (not batch or size + len(self._waiting[0][0]) <= self._max):
                items, future = self._waiting.popleft()
                batch.append((items, future))
                size += len(items)
            try:
                results = await self._write([i for items, _ in batch for i in items])
            except Exception as e:
                if len(batch) == 1:
                    _settle(batch[0][1], error=e)
                else:
                    for items, future in batch:  # each on its own, so only the bad one's caller fails
                        try:
                            _settle(future, await self._write(items))
                        except Exception as own:
                            _settle(future, error=own)
                continue
            at = 0
            for items, future in batch:
                _settle(future, results[at:at + len(items)])
                at += len(items)

    async def idle(self) -> None:
        """Wait until nothing is waiting to be written (tests and shutdown)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)


def _settle(future: asyncio.Future, result: object = None, *, error: BaseException | None = None) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
