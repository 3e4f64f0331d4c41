"""Accept pages, health and the HTTP API (gateway/api.py), over aiohttp.

GET on an accept link only shows a confirmation (mail scanners open every link); the page's
one POST form, carrying a nonce only that page has, accepts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.channels.api import StaffApi
from gateway.domain.delegates import LinkState, accept, link_state
from gateway.domain.events import Events
from gateway.outbox.render import Renderer
from parsers.addresses import LinkSigner
from storage.db import transaction
from storage.models import Delegate, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}

_DEAD_LINKS = {
    LinkState.UNKNOWN: (404, "This link is not valid",
                        "The link is incomplete or was changed. Open it again from the invitation email."),
    LinkState.USED: (410, "This invitation was already accepted",
                     "The link works only once, and it has been used. You receive the ticket's messages by email."),
    LinkState.EXPIRED: (410, "This invitation has expired",
                        "Ask the store's staff to invite you again; they can send a new link."),
    LinkState.REVOKED: (410, "This invitation was withdrawn",
                        "The store's staff withdrew this invitation, so the link no longer works."),
}


@dataclass(frozen=True)
class Invitation:
    state: LinkState
    context: dict


class AcceptPages:
    def __init__(self, sessions: sessionmaker[Session], events: Events, links: LinkSigner, renderer: Renderer,
                 clock: Callable[[], datetime], after_commit: Callable[[], None]):
        self.sessions = sessions
        self.events = events
        self.links = links
        self.renderer = renderer
        self.clock = clock
        self.after_commit = after_commit

    def _page(self, status: int, name: str, **context) -> web.Response:
        return web.Response(status=status, text=self.renderer.page(name, **context),
                            content_type="text/html", charset="utf-8", headers=_HEADERS)

    def _dead(self, state: LinkState) -> web.Response:
        status, title, message = _DEAD_LINKS[state]
        return self._page(status, "accept_error", title=title, message=message)

    def _look_up(self, delegate_id: int) -> Invitation:
        with transaction(self.sessions) as session:
            delegate = session.get(Delegate, delegate_id)
            state = link_state(delegate, self.clock())
            if delegate is None or state != LinkState.VALID:
                return Invitation(state, {})
            return Invitation(state, {"ticket": delegate.ticket, "inviter": delegate.invited_by,
                                      "recipient": delegate.account})

    def _accept(self, delegate_id: int) -> Invitation:
        with transaction(self.sessions) as session:
            delegate, state = accept(session, self.events, delegate_id, self.clock())
            if delegate is None or state != LinkState.VALID:
                return Invitation(state, {})
            return Invitation(state, {"ticket": delegate.ticket})

    async def show(self, request: web.Request) -> web.Response:
        delegate_id = self.links.read_accept_token(request.match_info["token"])
        if delegate_id is None:
            return self._dead(LinkState.UNKNOWN)
        invitation = await asyncio.to_thread(self._look_up, delegate_id)
        if invitation.state != LinkState.VALID:
            return self._dead(invitation.state)
        return self._page(200, "accept_confirm", nonce=self.links.form_nonce(delegate_id), **invitation.context)

    async def confirm(self, request: web.Request) -> web.Response:
        delegate_id = self.links.read_accept_token(request.match_info["token"])
        if delegate_id is None:
            return self._dead(LinkState.UNKNOWN)
        form = await request.post()
        nonce = form.get("nonce")
        if not self.links.check_form_nonce(delegate_id, nonce if isinstance(nonce, str) else None):
            return self._page(403, "accept_error", title="Please use the button on the invitation page",
                              message="Open the link from your invitation email again and press Accept.")
        invitation = await asyncio.to_thread(self._accept, delegate_id)
        if invitation.state != LinkState.VALID:
            return self._dead(invitation.state)
        self.after_commit()
        return self._page(200, "accept_done", **invitation.context)


class Health:
    def __init__(self, sessions: sessionmaker[Session], mailboxes: Callable[[], list[dict]] | None = None):
        self.sessions = sessions
        self.mailboxes = mailboxes  # the IMAP folders' states, when IMAP intake runs

    def _read(self) -> dict:
        with self.sessions() as session:
            counts = dict(session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        return {"pending": counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0),
                "failed": counts.get(OutboxStatus.FAILED, 0)}

    async def check(self, request: web.Request) -> web.Response:
        try:
            outbox = await asyncio.to_thread(self._read)
        except Exception as exc:  # any storage failure is reported, not raised
            log.warning("health check: database unavailable: %s", type(exc).__name__)
            return web.json_response({"status": "unavailable", "database": "unavailable"}, status=503)
        body = {"status": "ok", "database": "ok", "outbox": outbox}
        if self.mailboxes is not None:
            body["mailboxes"] = self.mailboxes()
        return web.json_response(body)


def make_http_app(pages: AcceptPages, health: Health, api: StaffApi) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)  # larger bodies get 413
    app.add_routes([
        web.get("/healthz", health.check),
        web.get("/accept/{token}", pages.show),
        web.post("/accept/{token}", pages.confirm),
        *api.routes(),
    ])
    return app
