"""Group commit: units of work from many threads share one transaction, and each caller returns only
after the commit that holds its unit.

A thread that finds no commit under way leads: it takes every waiting unit (up to a limit), runs each
in a savepoint of its own, commits once and wakes the others; units that arrive meanwhile wait for the
next leader. A unit that raises is rolled back alone and its caller gets the error; when the commit
itself fails, every caller of that batch gets its error, and nothing of the batch is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction

T = TypeVar("T")


class _Unit(Generic[T]):
    __slots__ = ("work", "finished", "value", "error")

    def __init__(self, work: Callable[[Session], T]):
        self.work = work
        self.finished = False
        self.value: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, sessions: sessionmaker[Session], limit: int = 64):
        self.sessions = sessions
        self.limit = limit
        self._turn = threading.Condition()
        self._waiting: list[_Unit] = []
        self._leading = False

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
                while self._leading and not unit.finished:
                    self._turn.wait()
                if unit.finished:
                    break
                self._leading = True
                batch = self._waiting[:self.limit]
                del self._waiting[:self.limit]
            try:
                self._commit(batch)
            finally:
                with self._turn:
                    for done in batch:
                        done.finished = True
                    self._leading = False
                    self._turn.notify_all()
        if unit.error is not None:
            raise unit.error
        return unit.value

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
