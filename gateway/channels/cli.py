"""The `gateway` commands and their parser; gateway.main runs them with what each needs.
Exit status: 0 done, 1 refused by a rule, 2 usage, 3 storage unavailable."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.access import require_post_access
from gateway.domain.accounts import add_account, get_account, list_accounts
from gateway.config import Settings, secret_key_bytes
from gateway.domain.api_tokens import create_token, list_tokens, revoke_token
from gateway.domain.errors import Reason, Refused
from gateway.domain.delegates import delegates_of, invite, revoke
from gateway.channels.terminal import shown, shown_json
from gateway.domain.tickets import NewPost, add_post, close_ticket, get_ticket, list_tickets, open_ticket, posts_of
from gateway.channels.views import delegate_view, inbound_view, outbox_view, ticket_view, when
from gateway.config import parse_duration
from gateway.intake.replay import replay, stored_message
from gateway.intake.retention import purge_raw
from gateway.outbox.requeue import copies, retry_copy, retry_failed
from gateway.services import Services
from storage.db import upgrade
from storage.models import InboundMessage, InboundOutcome, OutboxStatus, PostSource, Role

if TYPE_CHECKING:  # built only for `inbound replay` (gateway.services.intake_of)
    from gateway.intake.pipeline import Intake

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


class Output:
    """Prints either JSON or the given plain lines, never a control character from mail raw
    (gateway.channels.terminal); the plain lines show each one-line field from mail through shown()."""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def show(self, data, plain: Callable[[], str]) -> None:
        if self.as_json:
            print(shown_json(json.dumps(data, indent=2, default=str, ensure_ascii=False)))
        else:
            text = plain()
            if text:
                print(shown(text, lines=True))


def _table(rows: Sequence[Sequence[object]], header: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[shown(str(c)) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


# --- commands; each gets (services, session, args, out) ---------------------------------------

def account_add(services: Services, session: Session, args, out: Output) -> None:
    account = add_account(session, args.email, args.name, Role(args.role))
    out.show({"email": account.email, "name": account.name, "role": account.role.value},
             lambda: f"added {account.role.value} {shown(account.name)} <{shown(account.email)}>")


def account_list(services: Services, session: Session, args, out: Output) -> None:
    labels = services.deliverability.labels(session, services.clock())
    rows = [(a, labels.get(a.email, "ok")) for a in list_accounts(session)]
    out.show([{"email": a.email, "name": a.name, "role": a.role.value, "delivery": label} for a, label in rows],
             lambda: _table([[a.email, a.name, a.role.value, label] for a, label in rows],
                            ["EMAIL", "NAME", "ROLE", "DELIVERY"]))


def account_show(services: Services, session: Session, args, out: Output) -> None:
    account = get_account(session, args.email)
    state = services.deliverability.state(session, account.email, services.clock())
    data = {
        "email": account.email, "name": account.name, "role": account.role.value,
        "delivery": {
            "state": "stopped" if state.stopped_at else "ok", "stopped_at": when(state.stopped_at),
            "reason": state.reason, "soft_bounces": state.soft_bounces,
            "bounces": [{"at": when(b.at), "severity": b.severity.value, "status": b.status, "reason": b.reason,
                         "ticket": b.ticket_id, "outbox": b.outbox_id} for b in state.bounces],
        },
    }

    def plain() -> str:
        lines = [f"{shown(account.name)} <{shown(account.email)}>", f"role: {account.role.value}",
                 f"delivery: {state.label}"]
        if state.stopped_at:
            lines.append(f"  stopped {when(state.stopped_at)}: {shown(state.reason)}")
        if state.bounces:
            lines.append("recent bounces:")
            lines += [f"  {when(b.at)}  {b.severity.value}  {b.status or '-'}  "
                      f"{f'#{b.ticket_id}' if b.ticket_id else '-'}  {shown(b.reason)}" for b in state.bounces]
        return "\n".join(lines)

    out.show(data, plain)


def account_resume(services: Services, session: Session, args, out: Output) -> None:
    account = get_account(session, args.email)
    services.deliverability.resume(session, account, get_account(session, args.by), services.clock())
    out.show({"email": account.email, "delivery": "ok"}, lambda: f"delivery to {shown(account.email)} resumed")


def token_create(services: Services, session: Session, args, out: Output) -> None:
    row, token = create_token(session, get_account(session, args.for_), args.label)
    out.show({"id": row.id, "account": row.account.email, "label": row.label, "token": token},
             lambda: token)  # the token alone on stdout, for scripts (TOKEN=$(gateway api-token create ...))
    print(f"(API token {row.id} for {shown(row.account.email)}: shown only now; "
          f"send it as 'Authorization: Bearer <token>')", file=sys.stderr)


def token_list(services: Services, session: Session, args, out: Output) -> None:
    tokens = list_tokens(session)
    data = [{"id": t.id, "account": t.account.email, "label": t.label, "created_at": when(t.created_at),
             "revoked_at": when(t.revoked_at)} for t in tokens]
    out.show(data, lambda: _table([[d["id"], d["account"], d["label"] or "-", d["created_at"],
                                    d["revoked_at"] or "-"] for d in data],
                                  ["ID", "ACCOUNT", "LABEL", "CREATED", "REVOKED"]))


def token_revoke(services: Services, session: Session, args, out: Output) -> None:
    row = revoke_token(session, args.id, services.clock())
    out.show({"id": row.id, "revoked_at": when(row.revoked_at)}, lambda: f"API token {row.id} revoked")


def ticket_create(services: Services, session: Session, args, out: Output) -> None:
    owner, creator = get_account(session, args.owner), get_account(session, args.by)
    ticket, _ = open_ticket(session, services.outbox, owner=owner, creator=creator, subject=args.subject,
                            first_post=NewPost(body=args.body, source=PostSource.CLI))
    out.show({"number": ticket.id, "subject": ticket.subject, "status": ticket.status.value},
             lambda: str(ticket.id))


def ticket_list(services: Services, session: Session, args, out: Output) -> None:
    tickets = list_tickets(session)
    out.show([{"number": t.id, "subject": t.subject, "status": t.status.value, "owner": t.owner.email}
              for t in tickets],
             lambda: _table([[f"#{t.id}", t.status.value, t.owner.email, t.subject] for t in tickets],
                            ["TICKET", "STATUS", "OWNER", "SUBJECT"]))


def ticket_show(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    data = ticket_view(session, ticket, services.clock())

    def plain() -> str:
        lines = [f"#{ticket.id} {shown(ticket.subject)}", f"status: {ticket.status.value}",
                 f"owner: {shown(ticket.owner.name)} <{shown(ticket.owner.email)}>", "delegates:"]
        lines += [f"  {shown(d['name'])} <{shown(d['email'])}>: {d['status']}" for d in data["delegates"]] \
            or ["  (none)"]
        lines.append("posts:")
        for p in posts_of(session, ticket):
            lines.append(f"  --- {shown(p.author.name)} <{shown(p.author.email)}>, {when(p.created_at)} "
                         f"({p.source.value})")
            lines += [f"  {line}" for line in p.body.split("\n")]  # Output.show escapes what is in them
        return "\n".join(lines)

    out.show(data, plain)


def ticket_addresses(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    account = get_account(session, args.for_)
    require_post_access(session, ticket, account, services.clock())
    data = {"ticket": ticket.id, "email": account.email,
            "reply_address": services.addresses.reply_address(ticket.id, account.id),
            "invite_address": services.addresses.invite_address(ticket.id, account.id) if account.role.is_staff else None}
    out.show(data, lambda: "\n".join(f"{k}: {shown(v)}" for k, v in data.items() if k.endswith("address") and v))


def ticket_close(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    close_ticket(session, ticket, get_account(session, args.by))
    out.show({"number": ticket.id, "status": ticket.status.value}, lambda: f"ticket #{ticket.id} closed")


def delegate_invite(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    delegate = invite(session, services.outbox, ticket, args.email, get_account(session, args.by), now=services.clock(),
                      policy=services.invites)
    out.show({"ticket": ticket.id, "email": delegate.account.email, "name": delegate.account.name,
              "status": delegate.status.value, "expires_at": when(delegate.expires_at)},
             lambda: f"invited {shown(delegate.account.name)} <{shown(delegate.account.email)}> to #{ticket.id}; "
                     f"the accept link expires {when(delegate.expires_at)}")


def delegate_list(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    now = services.clock()
    data = [delegate_view(d, now) for d in delegates_of(session, ticket, now, include_ended=args.all)]
    out.show(data, lambda: _table([[d["email"], d["name"], d["status"], d["invited_at"]] for d in data],
                                  ["EMAIL", "NAME", "STATUS", "INVITED"]))


def delegate_revoke(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    delegate = revoke(session, services.outbox, ticket, args.email, get_account(session, args.by), services.clock())
    out.show({"ticket": ticket.id, "email": delegate.account.email, "status": delegate.status.value},
             lambda: f"revoked {shown(delegate.account.email)} on #{ticket.id}")


def post(services: Services, session: Session, args, out: Output) -> None:
    ticket = get_ticket(session, args.number)
    new = add_post(session, services.outbox, ticket, get_account(session, args.by),
                   NewPost(body=args.body, source=PostSource.CLI), services.clock())
    out.show({"ticket": ticket.id, "post": new.id, "status": ticket.status.value},
             lambda: f"posted to #{ticket.id}; status {ticket.status.value}")


def inbound_list(services: Services, session: Session, args, out: Output) -> None:
    rows = session.execute(
        select(InboundOutcome, InboundMessage).join(InboundMessage, InboundOutcome.message_id == InboundMessage.id)
        .order_by(InboundOutcome.id.desc()).limit(args.limit)
    ).all()
    data = [{"id": m.id, "received_at": when(m.received_at), "channel": m.channel, "message_id": m.message_id,
             "sender": m.sender, "recipient": o.recipient, "outcome": o.outcome.value, "reason": o.reason,
             "ticket": o.ticket_id} for o, m in rows]
    out.show(data, lambda: _table(
        [[d["received_at"], d["sender"] or "-", d["outcome"], f"#{d['ticket']}" if d["ticket"] else "-", d["reason"]]
         for d in data], ["RECEIVED", "SENDER", "OUTCOME", "TICKET", "REASON"]))


def inbound_show(services: Services, session: Session, args, out: Output) -> None:
    inbound = stored_message(session, args.id)
    if args.raw:
        if not inbound.raw:
            raise Refused(Reason.RAW_PURGED, f"the raw bytes of inbound message {inbound.id} were purged")
        print(shown(inbound.raw.decode("utf-8", "replace"), lines=True))
        return
    data = inbound_view(session, inbound)

    def plain() -> str:
        lines = [f"inbound message {inbound.id}, received {data['received_at']} by {inbound.channel}",
                 f"envelope sender: {shown(inbound.envelope_sender or '-')}"]
        lines += [f"{name}: {shown(value)}" for name, value in data["headers"].items() if value is not None]
        lines.append("raw: purged" if data["raw_purged"] else f"raw: {data['raw_bytes']} bytes")
        lines.append("outcomes:")
        lines += [f"  {shown(o['recipient'])}: {o['outcome']} {_ticket(o['ticket'])} ({shown(o['reason'])})"
                  for o in data["outcomes"]]
        for p in data["posts"]:
            lines.append(f"post {p['post']} to #{p['ticket']}:")
            lines += [f"  {line}" for line in p["body"].split("\n")]  # Output.show escapes what is in them
            lines.append("trimmed:" if p["trimmed"] else "trimmed: (nothing)")
            lines += [f"  {line}" for line in p["trimmed"].split("\n") if p["trimmed"]]
        return "\n".join(lines)

    out.show(data, plain)


def _ticket(number: object) -> str:
    return f"#{number}" if number else "-"


def inbound_replay(services: Services, intake: Intake, args, out: Output) -> None:
    """Runs in the intake's own transactions (gateway.main gives it no session)."""
    decisions = replay(intake, services.sessions, services.addresses, args.id)
    data = [{"recipient": d.recipient, "outcome": d.outcome.value, "reason": d.reason, "ticket": d.ticket_id}
            for d in decisions]
    out.show(data, lambda: _table([[d["recipient"], d["outcome"], _ticket(d["ticket"]),
                                    d["reason"]] for d in data], ["RECIPIENT", "OUTCOME", "TICKET", "REASON"]))


def outbox_list(services: Services, session: Session, args, out: Output) -> None:
    data = [outbox_view(c) for c in copies(session, OutboxStatus(args.status) if args.status else None, args.limit)]
    out.show(data, lambda: _table([[d["id"], d["status"], d["kind"], d["recipient"], d["attempts"],
                                    d["last_error"] or "-"] for d in data],
                                  ["ID", "STATUS", "KIND", "RECIPIENT", "ATTEMPTS", "LAST ERROR"]))


def outbox_retry(services: Services, session: Session, args, out: Output) -> None:
    if (args.id is None) == (not args.failed):
        raise Refused(Reason.INVALID_INPUT, "give one copy's ID or --failed, not both")
    now = services.clock()
    retried = retry_failed(session, now) if args.failed else [retry_copy(session, args.id, now)]
    out.show([outbox_view(c) for c in retried], lambda: f"{len(retried)} failed copies queued again")


def purge(services: Services, session: Session, args, out: Output) -> None:
    older_than = parse_duration(args.raw_older_than)
    purged = purge_raw(session, services.clock() - timedelta(seconds=older_than))
    out.show({"raw_purged": purged}, lambda: f"raw bytes dropped from {purged} inbound messages")


# --- commands that manage the process rather than data ----------------------------------------

class Server(Protocol):
    """What `gateway serve` runs: gateway.app.Gateway, built by gateway.main."""
    settings: Settings

    async def serve_forever(self) -> None: ...


def db_upgrade(settings: Settings, args, out: Output) -> int:
    upgrade(settings.database_url)
    secret_key_bytes(settings)  # made once, here (or by serve); the other commands only read it
    out.show({"database": "up to date"}, lambda: "database schema is up to date")
    return EXIT_OK


def serve(server: Server) -> int:
    settings = server.settings
    try:
        asyncio.run(server.serve_forever())
    except OSError as exc:  # a listener could not be opened (address in use, no permission, ...)
        print(f"error: cannot listen (SMTP {settings.smtp_host}:{settings.smtp_port}, "
              f"HTTP {settings.http_host}:{settings.http_port}): {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_OK


# --- parsing --------------------------------------------------------------------------------

class _Version(argparse.Action):
    """--version: the installed package's version, looked up only when asked for."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import version

        print(f"gateway {version('ticket-gateway')}")
        parser.exit()


def argument_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON")
    common.add_argument("--config", default=argparse.SUPPRESS, help="TOML settings file")
    parser = argparse.ArgumentParser(prog="gateway", parents=[common],
                                     description="Email-driven ticket gateway with delegates.")
    parser.add_argument("--version", action=_Version)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def command(sub, name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text)
        p.set_defaults(func=func)
        return p

    db = groups.add_parser("db", help="database schema").add_subparsers(dest="cmd", required=True)
    command(db, "upgrade", db_upgrade, "create or migrate the schema (idempotent)")
    command(groups, "serve", serve, "run SMTP, HTTP and the scheduler")

    account = groups.add_parser("account", help="store accounts").add_subparsers(dest="cmd", required=True)
    p = command(account, "add", account_add, "add an account")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    command(account, "list", account_list, "list accounts, with their delivery state")
    command(account, "show", account_show, "an account, its delivery state and recent bounces").add_argument("email")
    p = command(account, "resume", account_resume, "send to an address again after bounces stopped it")
    p.add_argument("email")
    p.add_argument("--by", required=True)

    token = groups.add_parser("api-token", help="tokens for the HTTP API").add_subparsers(dest="cmd", required=True)
    p = command(token, "create", token_create, "a token that acts as an account (shown once)")
    p.add_argument("--for", dest="for_", required=True, metavar="EMAIL")
    p.add_argument("--label", default="")
    command(token, "list", token_list, "API tokens (never the tokens themselves)")
    command(token, "revoke", token_revoke, "revoke a token, at once").add_argument("id", type=int)

    ticket = groups.add_parser("ticket", help="tickets").add_subparsers(dest="cmd", required=True)
    p = command(ticket, "create", ticket_create, "open a ticket for a client; prints its number")
    for flag in ("--owner", "--by", "--subject", "--body"):
        p.add_argument(flag, required=True)
    command(ticket, "list", ticket_list, "list tickets")
    command(ticket, "show", ticket_show, "status, delegates and posts").add_argument("number", type=int)
    p = command(ticket, "addresses", ticket_addresses, "an account's reply and invite addresses")
    p.add_argument("number", type=int)
    p.add_argument("--for", dest="for_", required=True, metavar="EMAIL")
    p = command(ticket, "close", ticket_close, "close a ticket")
    p.add_argument("number", type=int)
    p.add_argument("--by", required=True)

    delegate = groups.add_parser("delegate", help="ticket delegates").add_subparsers(dest="cmd", required=True)
    for name, func, help_text in (("invite", delegate_invite, "invite a delegate (sends the accept link)"),
                                  ("revoke", delegate_revoke, "revoke a delegate, at once")):
        p = command(delegate, name, func, help_text)
        p.add_argument("number", type=int)
        p.add_argument("email")
        p.add_argument("--by", required=True)
    p = command(delegate, "list", delegate_list, "the delegate list")
    p.add_argument("number", type=int)
    p.add_argument("--all", action="store_true", help="include revoked and expired invitations")

    p = command(groups, "post", post, "post to a ticket")
    p.add_argument("number", type=int)
    p.add_argument("--by", required=True)
    p.add_argument("--body", required=True)

    inbound = groups.add_parser("inbound", help="inbound messages").add_subparsers(dest="cmd", required=True)
    command(inbound, "list", inbound_list, "recent inbound messages and their outcome").add_argument(
        "--limit", type=int, default=50)
    p = command(inbound, "show", inbound_show, "one message: headers, outcomes, what was trimmed")
    p.add_argument("id", type=int)
    p.add_argument("--raw", action="store_true", help="print the stored raw bytes")
    p = command(inbound, "replay", inbound_replay, "run a held or refused message through the intake again")
    p.add_argument("id", type=int)
    p.set_defaults(needs_intake=True)

    outbox = groups.add_parser("outbox", help="outgoing copies").add_subparsers(dest="cmd", required=True)
    p = command(outbox, "list", outbox_list, "recent outbox copies")
    p.add_argument("--status", choices=[s.value for s in OutboxStatus])
    p.add_argument("--limit", type=int, default=50)
    p = command(outbox, "retry", outbox_retry, "send failed copies again")
    p.add_argument("id", type=int, nargs="?")
    p.add_argument("--failed", action="store_true", help="every failed copy")

    p = command(groups, "purge", purge, "drop old raw bytes; outcomes and posts stay")
    p.add_argument("--raw-older-than", required=True, metavar="DURATION", help="e.g. 90d")
    return parser

