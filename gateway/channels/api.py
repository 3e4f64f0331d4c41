"""The HTTP API: what staff (and scripts) do from the CLI, as JSON over HTTP.

Every request carries `Authorization: Bearer <token>` (`gateway api-token create`) and acts as
the token's account, under the same rules as every other channel: a client's attempt to invite
is refused here as it is by mail and from the CLI. Each request is one transaction, run on a
thread (never on the event loop that serves SMTP). Errors are JSON: {"error": reason,
"message": one line}.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.access import require_post_access
from gateway.domain.accounts import get_account
from gateway.domain.api_tokens import account_for
from gateway.domain.delegates import InvitePolicy, delegates_of, invite, revoke
from gateway.domain.errors import Reason, Refused, StorageUnavailable
from gateway.domain.events import Events
from gateway.domain.tickets import NewPost, add_post, close_ticket, get_ticket, open_ticket
from gateway.channels.views import delegate_view, ticket_view
from storage.db import STORAGE_DOWN, transaction
from storage.models import Account, PostSource, Ticket

_STATUS = {
    Reason.NOT_STAFF: 403, Reason.NO_ACCESS: 403, Reason.NOT_ACCEPTED: 403, Reason.REVOKED: 403,
    Reason.NO_SUCH_TICKET: 404,
    Reason.TICKET_CLOSED: 409, Reason.ALREADY_DELEGATE: 409, Reason.IS_OWNER: 409,
    Reason.NOT_A_DELEGATE: 409,
}
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

Action = Callable[[Session, Account, dict], tuple[int, object]]

MAX_JSON_DEPTH = 64
_BRACKETS_AND_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


def _error(status: int, reason: str, message: str) -> web.Response:
    return web.json_response({"error": reason, "message": message}, status=status, headers=_HEADERS)


def _ticket(session: Session, data: dict) -> Ticket:
    number = int(data["number"])  # the route lets only digits through
    if number >= 2**63:
        raise Refused(Reason.NO_SUCH_TICKET, f"There is no ticket #{number}.")
    return get_ticket(session, number)


def _json_object(body: bytes) -> dict:
    try:
        text = body.decode("utf-8") or "{}"
    except UnicodeDecodeError:
        raise _BadRequest(400, "bad_json", "The request body is not UTF-8 JSON.") from None
    if _nesting(text) > MAX_JSON_DEPTH:
        raise _BadRequest(400, "bad_json", f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels).")
    try:
        value = json.loads(text)
    except ValueError:  # not JSON, or a number too long for Python to convert
        raise _BadRequest(400, "bad_json", "The request body is not JSON.") from None
    if not isinstance(value, dict):
        raise _BadRequest(400, "bad_json", "The request body must be a JSON object.")
    return value


def _nesting(text: str) -> int:
    """How deep the arrays and objects in `text` go (brackets inside strings do not count), read
    without recursion so that any depth is measured, never a RecursionError."""
    depth = deepest = 0
    for token in _BRACKETS_AND_STRINGS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in "]}":
            depth -= 1
    return deepest


def _field(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _BadRequest(422, "invalid_input", f"'{name}' is required, as a non-empty string.")
    return value


class StaffApi:
    def __init__(self, sessions: sessionmaker[Session], events: Events, invites: InvitePolicy,
                 clock: Callable[[], datetime], after_commit: Callable[[], None]):
        self.sessions = sessions
        self.events = events
        self.invites = invites
        self.clock = clock
        self.after_commit = after_commit

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/tickets", self._handler(self._create_ticket)),
            web.get("/api/tickets/{number:\\d+}", self._handler(self._show_ticket)),
            web.post("/api/tickets/{number:\\d+}/posts", self._handler(self._post)),
            web.post("/api/tickets/{number:\\d+}/close", self._handler(self._close)),
            web.get("/api/tickets/{number:\\d+}/delegates", self._handler(self._delegates)),
            web.post("/api/tickets/{number:\\d+}/delegates", self._handler(self._invite)),
            web.delete("/api/tickets/{number:\\d+}/delegates/{email}", self._handler(self._revoke)),
        ]

    def _handler(self, action: Action):
        async def handle(request: web.Request) -> web.Response:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _error(401, "unauthorized", "Send 'Authorization: Bearer <token>' (gateway api-token create).")
            try:
                body = await request.read() if request.method not in ("GET", "DELETE") else b""
                status, payload = await asyncio.to_thread(self._run, token.strip(), action, request, body)
            except _BadRequest as bad:
                return _error(bad.status, bad.reason, str(bad))
            except Refused as refusal:
                status = _STATUS.get(refusal.reason, 422)
                return _error(status, refusal.reason.value, refusal.text)
            except StorageUnavailable:
                return _error(503, "unavailable", "The database is unavailable; try again later.")
            if request.method != "GET":
                self.after_commit()
            return web.json_response(payload, status=status, headers=_HEADERS)
        return handle

    def _run(self, token: str, action: Action, request: web.Request, body: bytes) -> tuple[int, object]:
        try:
            with transaction(self.sessions) as session:
                account = account_for(session, token)
                if account is None:  # before the body is read: a stranger's body costs nothing to parse
                    raise _BadRequest(401, "unauthorized", "This API token is not valid or was revoked.")
                return action(session, account, {**_json_object(body), **request.match_info})
        except STORAGE_DOWN as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    # --- actions: (session, acting account, path parameters and JSON body) -> (status, JSON) ----

    def _create_ticket(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        owner = get_account(session, _field(data, "owner"))
        ticket, _ = open_ticket(session, self.events, owner=owner, creator=me, subject=_field(data, "subject"),
                                first_post=NewPost(body=_field(data, "body"), source=PostSource.API))
        return 201, ticket_view(session, ticket, self.clock())

    def _show_ticket(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        ticket = _ticket(session, data)
        require_post_access(session, ticket, me, self.clock())
        return 200, ticket_view(session, ticket, self.clock())

    def _post(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        ticket = _ticket(session, data)
        post = add_post(session, self.events, ticket, me, NewPost(body=_field(data, "body"), source=PostSource.API),
                        self.clock())
        return 201, {"ticket": ticket.id, "post": post.id, "status": ticket.status.value}

    def _close(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        ticket = _ticket(session, data)
        close_ticket(session, ticket, me)
        return 200, {"number": ticket.id, "status": ticket.status.value}

    def _delegates(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        ticket = _ticket(session, data)
        require_post_access(session, ticket, me, self.clock())
        return 200, [delegate_view(d, self.clock()) for d in delegates_of(session, ticket, self.clock())]

    def _invite(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        ticket = _ticket(session, data)
        delegate = invite(session, self.events, ticket, _field(data, "email"), me, now=self.clock(),
                          policy=self.invites)
        return 201, delegate_view(delegate, self.clock())

    def _revoke(self, session: Session, me: Account, data: dict) -> tuple[int, object]:
        ticket = _ticket(session, data)
        delegate = revoke(session, self.events, ticket, data["email"], me, self.clock())
        return 200, delegate_view(delegate, self.clock())
