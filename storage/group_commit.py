"""Group commit: units of work from many threads share one transaction, and each caller returns only
after the commit that holds its unit.

A thread that finds a commit slot free leads: it takes every waiting unit (up to a limit), runs each
in a savepoint of its own, commits once and wakes the others; units that arrive meanwhile wait for the
next leader. SQLite has one writer, so one slot; PostgreSQL takes several transactions at once (and
groups their WAL flushes itself), so there several batches may be under way. A unit that raises is rolled back alone and its caller gets the error; when the commit
itself fails, every caller of that batch gets its error, and nothing of the batch is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction

T = TypeVar("T")


class _Unit(Generic[T]):
    __slots__ = ("work", "taken", "finished", "value", "error")

    def __init__(self, work: Callable[[Session], T]):
        self.work = work
        self.taken = False  # in a batch under way
        self.finished = False
        self.value: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, sessions: sessionmaker[Session], slots: int = 1, limit: int = 64):
        self.sessions = sessions
        self.slots = slots
        self.limit = limit
        self._turn = threading.Condition()
        self._waiting: list[_Unit] = []
        self._leading = 0

    @property
    def queued(self) -> int:
        """Units waiting for the next commit."""
        with self._turn:
            return len(self._waiting)

    def run(self, work: Callable[[Session], T]) -> T:
        """Run work(session) in a shared transaction; returns its value once that transaction committed."""
        unit = _Unit(work)
        with self._turn:
            self._waiting.append(unit)
        while True:
            with self._turn:
                while self._must_wait(unit):
                    self._turn.wait()
                if unit.finished:
                    break
                self._leading += 1
                batch = self._waiting[:self.limit]
                del self._waiting[:self.limit]
                for taken in batch:
                    taken.taken = True
            try:
                self._commit(batch)
            finally:
                with self._turn:
                    for done in batch:
                        done.finished = True
                    self._leading -= 1
                    self._turn.notify_all()
        if unit.error is not None:
            raise unit.error
        return cast(T, unit.value)

    def _must_wait(self, unit: _Unit) -> bool:
        if unit.taken:  # in another thread's batch
            return not unit.finished
        return self._leading >= self.slots

    def _commit(self, batch: list[_Unit]) -> None:
        try:
            with transaction(self.sessions) as session:
                if len(batch) == 1:  # alone, its error rolls back the transaction: no savepoint needed
                    batch[0].value = batch[0].work(session)
                    return
                for unit in batch:
                    try:
                        with session.begin_nested():
                            unit.value = unit.work(session)
                    except Exception as exc:  # noqa: BLE001 - handed to the unit's caller
                        unit.error = exc
        except BaseException as exc:  # the commit (or the connection) failed: none of the batch is stored
            for unit in batch:
                unit.error = unit.error or exc
                unit.value = None
            if not isinstance(exc, Exception):
                raise
