"""Composition root of the serving process: the listeners, the intake, the courier and the jobs, over the
services every command shares (gateway.services). No module-level state anywhere."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from gateway.channels.api import StaffApi
from gateway.config import Settings
from gateway.channels.http import AcceptPages, Health, make_http_app
from gateway.channels.imap import MailboxPoller
from gateway.jobs import Jobs
from gateway.outbox.letters import Letters
from gateway.outbox.outbound import Courier
from gateway.outbox.render import Renderer
from gateway.channels.smtp import GatewayHandler, smtp_factory
from gateway.services import Services, intake_of
from storage.models import utcnow

log = logging.getLogger(__name__)


class Gateway(Services):
    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow):
        super().__init__(settings, clock)
        self.renderer = Renderer(settings.templates_dir, settings.store_name)
        self.intake, self.breaker = intake_of(self)
        letters = Letters(settings, self.addresses, self.links, self.renderer)
        self.courier = Courier(self.sessions, settings, self.addresses, letters, clock,
                               locking=self.engine.dialect.name == "postgresql")
        # IMAP intake (issue 6): only when a mailbox is configured
        self.poller = MailboxPoller(settings, self.intake, self.sessions, self.addresses) if settings.imap_host else None
        self._servers: list[asyncio.AbstractServer] = []
        self._http: web.AppRunner | None = None
        self._jobs: Jobs | None = None

    def wake_delivery(self) -> None:
        if self._jobs is not None:
            self._jobs.wake()

    async def start(self) -> None:
        """Open the SMTP and HTTP listeners and start the background jobs."""
        s = self.settings
        self._jobs = Jobs(self.courier, self.breaker, self.sessions, self.clock, s.delivery_interval)
        handler = GatewayHandler(self.intake, self.addresses, s.max_recipients, self.wake_delivery)
        loop = asyncio.get_running_loop()
        smtp = await loop.create_server(smtp_factory(handler, s), host=s.smtp_host, port=s.smtp_port)
        self._servers.append(smtp)
        pages = AcceptPages(self.sessions, self.outbox, self.links, self.renderer, self.clock, self.wake_delivery)
        health = Health(self.sessions, self.poller.status if self.poller is not None else None)
        api = StaffApi(self.sessions, self.outbox, self.invites, self.clock, self.wake_delivery)
        self._http = web.AppRunner(make_http_app(pages, health, api), access_log=None)
        await self._http.setup()
        await web.TCPSite(self._http, s.http_host, s.http_port).start()
        if s.purge_raw_after:
            self._jobs.purge_raw_daily(s.purge_raw_after)
        self._jobs.start()
        if self.poller is not None:
            await self.poller.start(self._jobs, self.wake_delivery)
        log.info("gateway serving SMTP on %s:%s, HTTP on %s:%s, mail %s", s.smtp_host, s.smtp_port,
                 s.http_host, s.http_port,
                 f"via relay {s.relay_host}:{s.relay_port}" if s.relay_configured else f"to folder {s.outbox_dir}")

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self._jobs is not None:
            await self._jobs.stop()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers.clear()
        if self._http is not None:
            await self._http.cleanup()
        self.engine.dispose()

    async def serve_forever(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            await stop.wait()
        finally:
            log.info("gateway stopping")
            await self.stop()
