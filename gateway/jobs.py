"""Background jobs on APScheduler: outbox delivery (with retries) and invitation expiry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session, sessionmaker

from gateway.delegates import expire_due
from gateway.outbound import Courier
from storage.db import transaction

log = logging.getLogger(__name__)

EXPIRY_INTERVAL = 60
STOP_GRACE = 10


class Jobs:
    def __init__(self, courier: Courier, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 delivery_interval: int):
        self.courier = courier
        self.sessions = sessions
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        now = datetime.now(timezone.utc)  # the scheduler runs on wall time, whatever clock the rules use
        self.scheduler.add_job(self._deliver, "interval", seconds=delivery_interval, id="deliver",
                               max_instances=1, coalesce=True, next_run_time=now)
        self.scheduler.add_job(self._expire, "interval", seconds=EXPIRY_INTERVAL, id="expire",
                               max_instances=1, coalesce=True, next_run_time=now)
        self._delivering = False
        self._again = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop scheduling; let a delivery under way finish (a copy cut off mid-send goes again later).

        APScheduler's shutdown cancels running coroutine jobs, so pause first and shut down after."""
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=STOP_GRACE)
            except asyncio.TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.scheduler.shutdown(wait=False)

    def wake(self) -> None:
        """New mail is queued: deliver now rather than at the next interval."""
        if self._delivering:
            self._again = True
        elif self.scheduler.running:
            self.scheduler.get_job("deliver").modify(next_run_time=datetime.now(timezone.utc))

    async def _deliver(self) -> None:
        self._task = asyncio.current_task()
        self._delivering = True
        try:
            while True:
                self._again = False
                try:
                    await self.courier.deliver_due()
                except Exception:
                    log.exception("outbox delivery failed; will try again")
                    return
                if not self._again:
                    return
        finally:
            self._delivering = False

    async def _expire(self) -> None:
        try:
            count = await asyncio.to_thread(self._expire_now)
        except Exception:
            log.exception("invitation expiry failed; will try again")
            return
        if count:
            log.info("%d invitation(s) expired", count)

    def _expire_now(self) -> int:
        with transaction(self.sessions) as session:
            return expire_due(session, self.clock())
