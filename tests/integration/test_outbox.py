"""Issue 10 "Fan-out at the speed of the wire": the outbox holds what to send, not the messages. A
post and its attachments are stored once; its copies are queued by one statement and rendered when
sent, the same message every time; a copy stays claimed while the process sending it lives."""

from __future__ import annotations

import email.policy
import os
from email.message import EmailMessage

from sqlalchemy import event, text, update

from support import cli, database_size, outbox_status, reply_address, seed_delegates, wait_until


def _reply_with_attachment(sender: str, to: str, data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Re: Special blend survey"
    msg["Message-ID"] = "<photo-reply@store.test>"
    msg.set_content("Here is the label of the next batch.")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename="label.bin")
    return msg.as_bytes(policy=email.policy.SMTP)


def test_a_post_and_its_attachment_are_stored_once_however_many_receive_it(gw, db_url, sink, people, ticket):
    delegates = seed_delegates(db_url, ticket, 40)
    sink.wait_for(1, to=people.owner)
    data = os.urandom(1_000_000)
    before = database_size(db_url)
    address = reply_address(gw, ticket, people.staff)
    assert gw.send(_reply_with_attachment(people.staff, address, data), people.staff, address).code == 250

    def copies() -> dict:
        return {m.to: m for m in sink.received if "next batch" in m.text}
    wait_until(lambda: len(copies()) == 41, timeout=60, what="the post to reach the owner and 40 delegates")
    assert sorted(copies()) == sorted([people.owner, *delegates])
    assert all([a.get_content() for a in m.message.iter_attachments()] == [data] for m in copies().values())
    # the raw message (base64, about 1.35 MB) and the post's attachment; 41 stored copies would be 55 MB
    assert database_size(db_url) - before < 4 * len(data)


def test_all_copies_of_a_post_are_queued_by_one_statement(gw, db_url, sink, people, ticket):
    delegates = seed_delegates(db_url, ticket, 25)
    sink.wait_for(1, to=people.owner)
    inserts: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(statement)

    event.listen(gw.gateway.engine, "before_cursor_execute", count)
    try:
        assert cli("post", ticket, "--by", people.staff, "--body", "Shipping on Monday").code == 0
        owner_address = reply_address(gw, ticket, people.owner)
        raw = (f"From: {people.owner}\nTo: {owner_address}\nSubject: Re: survey\nMessage-ID: <one@client.test>\n\n"
               "Thank you!\n").encode()
        assert gw.send(raw, people.owner, owner_address).code == 250
    finally:
        event.remove(gw.gateway.engine, "before_cursor_execute", count)
    assert len(inserts) == 1  # the reply's copies, made by the gateway itself (the CLI post ran elsewhere)

    def copies() -> list:
        return [m for m in sink.received if "Thank you!" in m.text]
    wait_until(lambda: len(copies()) >= 26, timeout=60, what="the reply to reach the staff member and 25 delegates")
    assert sorted(m.to for m in copies()) == sorted([people.staff, *delegates])


def test_a_copy_sent_again_after_a_crash_is_the_same_message(gw, sink, people, ticket):
    """A crash between the relay's 250 and its record sends the copy again: same bytes, same Message-ID."""
    from storage.models import OutboxMessage, OutboxStatus

    first = sink.wait_for(1, to=people.owner)[0]
    wait_until(lambda: outbox_status(gw, people.owner) == ["sent"], what="the relay's 250 to be recorded")
    with gw.gateway.sessions() as session, session.begin():
        session.execute(update(OutboxMessage).where(OutboxMessage.recipient == people.owner)
                        .values(status=OutboxStatus.PENDING, sent_at=None))
    again = sink.wait_for(2, to=people.owner, timeout=30)[1]
    assert again.raw == first.raw
    assert again.mail_from == first.mail_from  # the same VERP address: a bounce of either finds the copy


def test_a_copy_on_a_slow_relay_keeps_its_claim_while_its_process_lives(gateway_with, sink, people, ticket):
    """The lease (2 s here) is renewed while the relay takes 6 s over the copy: no other connection
    takes the copy as abandoned and sends it a second time."""
    sink.delay_next(6)
    running = gateway_with(delivery_lease=2)
    wait_until(lambda: sink.to(people.owner) and not sink.slow_in_flight, timeout=30,
               what="the slow relay to take the copy")
    with running.gateway.engine.connect() as conn:
        wait_until(lambda: conn.scalars(text("SELECT status FROM outbox")).all() == ["sent"], what="its record")
        assert conn.scalars(text("SELECT attempts FROM outbox")).all() == [1]
    assert len(sink.to(people.owner)) == 1
