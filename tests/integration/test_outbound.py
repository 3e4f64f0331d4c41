"""SPEC "Outbound": relay delivery with retries, the outbox folder, access re-checked at send time."""

from __future__ import annotations

import email
import email.policy

from support import cli, inbound, make_mail, outbox_errors, outbox_status, reply_to, store_account_as_is, wait_until


def outbox_rows(gw) -> list[tuple[str, str, int]]:
    from storage.models import OutboxMessage

    with gw.gateway.sessions() as session:
        return [(r.recipient, r.status.value, r.attempts)
                for r in session.query(OutboxMessage).order_by(OutboxMessage.id)]


def test_temporary_relay_failures_are_retried_until_delivered_once(gw, sink, people):
    sink.fail_next("451 4.3.0 try again", "421 4.3.2 shutting down")
    number = int(cli("ticket", "create", "--owner", people.owner, "--by", people.staff, "--subject", "Retry",
                     "--body", "Hello after retries").out)
    received = sink.wait_for(1, to=people.owner, timeout=30)
    assert len(received) == 1 and f"[#{number}]" in received[0].header("Subject")
    wait_until(lambda: outbox_rows(gw)[0][1] == "sent", what="the relay's 250 to be recorded")
    assert outbox_rows(gw) == [(people.owner, "sent", 3)]


def test_a_permanent_refusal_is_not_retried(gw, sink, people):
    sink.fail_next("550 5.1.1 no such user")
    cli("ticket", "create", "--owner", people.owner, "--by", people.staff, "--subject", "Nope", "--body", "Hi")
    wait_until(lambda: outbox_rows(gw)[0][1] == "failed", what="the copy to fail")
    assert outbox_rows(gw) == [(people.owner, "failed", 1)]
    cli("post", 1, "--by", people.staff, "--body", "Second")
    assert len(sink.wait_for(1, to=people.owner)) == 1  # the next message is delivered normally


def test_without_a_relay_messages_are_written_to_the_outbox_folder(gateway_with, people, tmp_path):
    running = gateway_with(relay_host=None)
    cli("ticket", "create", "--owner", people.owner, "--by", people.staff, "--subject", "Folder",
        "--body", "Written to disk")
    folder = tmp_path / "outbox"
    wait_until(lambda: list(folder.glob("*.eml")), what="an .eml file")
    running.stop()
    files = list(folder.glob("*.eml"))
    assert len(files) == 1 and not list(folder.glob("*.tmp"))
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == f"Olivia Owner <{people.owner}>"
    assert message["Return-Path"].startswith("<b-")
    assert "Written to disk" in message.get_body(("plain",)).get_content()


def test_a_copy_claimed_before_a_revoke_is_not_sent(gateway_with, clock, sink, people, ticket):
    """Access is checked again just before each copy leaves, not only when it was queued: a copy
    claimed by a courier that then died (lease run out) is cancelled if access was revoked since."""
    from sqlalchemy import update

    from storage.models import OutboxMessage, OutboxStatus
    from support import accept_link, http, nonce_of

    running = gateway_with()
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    link = accept_link(sink.wait_for(1, to=people.delegate)[0])
    assert http("POST", link, {"nonce": nonce_of(http("GET", link).body)}).status == 200
    sink.wait_for(2, to=people.delegate)
    running.stop()  # no courier runs while the scene is set

    assert cli("post", ticket, "--by", people.owner, "--body", "Secret plans").code == 0
    with running.gateway.sessions.begin() as session:  # claimed by a courier that died mid-send
        session.execute(update(OutboxMessage)
                        .where(OutboxMessage.recipient == people.delegate, OutboxMessage.status == OutboxStatus.PENDING)
                        .values(status=OutboxStatus.SENDING, claimed_until=clock()))
    assert cli("delegate", "revoke", ticket, people.delegate, "--by", people.staff).code == 0

    running = gateway_with()
    sink.wait_for(1, to=people.staff)
    wait_until(lambda: [s for r, s, _ in outbox_rows(running) if r == people.delegate][-1] == "cancelled",
               what="the claimed copy to be cancelled")
    assert [s for r, s, _ in outbox_rows(running) if r == people.delegate] == ["sent", "sent", "cancelled"]
    assert not any("Secret plans" in m.text for m in sink.to(people.delegate))


def test_an_address_the_relay_cannot_take_fails_alone_and_the_ticket_goes_on(gw, env, sink, people, ticket):
    """Accounts stored before an account's address had to be ASCII: their own copies fail, each with why;
    everyone else's copies go, the CLI does not break, and replies by mail still post."""
    store_account_as_is(env["GATEWAY_DATABASE_URL"], "jürgen@store.test", "staff")
    store_account_as_is(env["GATEWAY_DATABASE_URL"], "zoë@client.test", "client", delegate_on=ticket)
    posted = cli("post", ticket, "--by", "jürgen@store.test", "--body", "Jürgen here")
    assert posted.code == 0, posted.err
    copy = sink.wait_for(2, to=people.owner)[-1]
    assert "Jürgen here" in copy.text
    wait_until(lambda: outbox_status(gw, "zoë@client.test") == ["failed"], what="her copy to fail")
    assert "the part before the @ is not ASCII" in outbox_errors(gw, "zoë@client.test")[0]

    raw, address = reply_to(copy, people.owner, "Thank you, Jürgen")
    assert gw.send(raw, people.owner, address).code == 250
    assert inbound()[0]["outcome"] == "posted"
    wait_until(lambda: outbox_status(gw, "jürgen@store.test") == ["failed"], what="his copy to fail")
    wait_until(lambda: outbox_status(gw, "zoë@client.test") == ["failed", "failed"], what="her second copy to fail")
    wait_until(lambda: any("Thank you, Jürgen" in m.text for m in sink.to(people.staff)),
               what="the ticket's creator to have the reply")

    to_support = make_mail("zoe@client.test", "support@gw.test", "From Zoë", "A new question").replace(
        b"zoe@client.test", "zoë@client.test".encode(), 1)
    assert gw.send(to_support, "zoe@client.test", "support@gw.test").code == 250
    assert inbound()[0]["outcome"] == "ticket_created"
    wait_until(lambda: outbox_status(gw, "zoë@client.test") == ["failed"] * 3, what="her acknowledgement to fail")
    assert not [m for m in sink.received if not "".join(m.rcpt_tos).isascii()]
