"""Issue 4: every message of the public MIME corpora goes through the whole intake (parse,
classify, route, trim, store) to one recorded outcome per recipient, on both databases, and
none of them crashes a step (which would end as `held`)."""

from __future__ import annotations

import json
from pathlib import Path

from support import reply_address

MAIL = Path(__file__).resolve().parents[1] / "mail"
CORPORA = ("mailgun_flanker_messages", "cpython_email_testdata", "spamscope_mail_parser")


def _messages() -> list[tuple[str, bytes]]:
    found = []
    for corpus in CORPORA:
        for case in json.loads((MAIL / corpus / "cases.json").read_text(encoding="utf-8")):
            found.append((f"{corpus}:{case['case_id']}", (MAIL / corpus / case["file"]).read_bytes()))
    return found


def test_every_corpus_message_ends_in_one_recorded_outcome_per_recipient(gw, people, ticket):
    from gateway.intake.arrival import Arrival
    from storage.models import InboundMessage, InboundOutcome, Outcome

    recipients = (reply_address(gw, ticket, people.owner), gw.gateway.addresses.support_address)
    messages = _messages()
    crashed = {}
    for case_id, raw in messages:
        arrival = Arrival("sender@corpus.test", tuple(map(gw.gateway.addresses.served, recipients)), "smtp", True)
        decisions = gw.gateway.intake.process(raw, arrival)
        assert [d.recipient for d in decisions] == list(recipients), case_id
        crashed.update({case_id: d.reason for d in decisions if d.outcome == Outcome.HELD})
    assert crashed == {}
    with gw.gateway.sessions() as session:
        assert session.query(InboundMessage).count() == len(messages)
        assert session.query(InboundOutcome).count() == len(messages) * len(recipients)
