"""Background jobs on APScheduler: outbox delivery (with retries), invitation expiry, pruning of
the loop breaker's old events, the daily purge of old raw bytes (when set), and blocking work run on threads of their own (the IMAP poller's lease
keeping and folder polls)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.delegates import expire_due
from gateway.intake.loop_breaker import LoopBreaker
from gateway.intake.retention import purge_raw
from gateway.outbox.outbound import Courier
from storage.db import transaction

log = logging.getLogger(__name__)

EXPIRY_INTERVAL = 60
PURGE_INTERVAL = 86400
STOP_GRACE = 10


class _OverrunIsExpected(logging.Filter):
    """A run that falls due while the last one still works is skipped on purpose (max_instances=1;
    a long delivery or mailbox drain simply carries on): not worth a warning every interval."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_OVERRUN_IS_EXPECTED = _OverrunIsExpected()


class Jobs:
    def __init__(self, courier: Courier, breaker: LoopBreaker, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime], delivery_interval: int):
        self.courier = courier
        self.breaker = breaker
        self.sessions = sessions
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        logging.getLogger("apscheduler.scheduler").addFilter(_OVERRUN_IS_EXPECTED)  # added once, however often
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

    def every_in_thread(self, job_id: str, seconds: float, work: Callable[[], object], at_once: bool = True) -> None:
        """Run `work`, which blocks (IMAP, the database), every `seconds` (the first time at once, or after
        one interval) on a thread of its own: never on the event loop, never two runs at a time (a run that
        falls due while the last one still works is skipped)."""
        first = datetime.now(timezone.utc) + timedelta(seconds=0 if at_once else seconds)
        self.scheduler.add_executor(ThreadPoolExecutor(max_workers=1), job_id)
        self.scheduler.add_job(work, "interval", seconds=seconds, id=job_id, executor=job_id, max_instances=1,
                               coalesce=True, misfire_grace_time=None, next_run_time=first)

    def run_in(self, job_id: str, seconds: float) -> None:
        """The job's next run `seconds` from now instead of at its interval; any thread may call this."""
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc) + timedelta(seconds=seconds))

    def remove(self, job_id: str) -> None:
        """No more runs of the job; a run under way finishes."""
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

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
        now = self.clock()
        with transaction(self.sessions) as session:
            self.breaker.prune(session, now)
            return expire_due(session, now)

    def purge_raw_daily(self, older_than: int) -> None:
        """Retention (GATEWAY_PURGE_RAW_AFTER): once a day, raw bytes older than `older_than` seconds go."""
        self.every_in_thread("purge-raw", PURGE_INTERVAL, lambda: self._purge_raw_now(older_than))

    def _purge_raw_now(self, older_than: int) -> None:
        with transaction(self.sessions) as session:
            count = purge_raw(session, self.clock() - timedelta(seconds=older_than))
        if count:
            log.info("raw bytes of %d inbound message(s) purged", count)
