"""Issue 16, classes 2 and 4: who sent a message is what the message proves, never what a forger
writes. A second From hidden in obsolete syntax makes two senders; forged mail in a customer's
name to the support address cannot silence that customer's replies, and held messages never
extend a hold."""

from __future__ import annotations

from support import inbound, make_mail, posts, reply_address


def _reply(gw, people, ticket: int, body: str) -> int:
    address = reply_address(gw, ticket, people.owner)
    return gw.send(make_mail(people.owner, address, "Re: Special blend survey", body), people.owner, address).code


def test_a_second_from_in_obsolete_syntax_is_a_second_sender(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    raw = make_mail(people.owner, address, "Re: Special blend survey", "I am who the first From says.")
    raw = raw.replace(b"\r\nTo:", b"\r\nFrom : Mallory <mallory@evil.test>\r\nTo:", 1)
    result = gw.send(raw, people.owner, address)
    assert result.code == 550 and "more than one From" in result.message
    assert len(posts(ticket)) == 1  # only the staff member's first post


def test_forgeries_to_the_support_address_cannot_silence_a_customers_replies(gateway_with, people, ticket):
    gw = gateway_with(loop_sender_limit=3)
    for n in range(8):  # anyone can write the customer's From to the support address
        forged = make_mail(people.owner, "support@gw.test", f"Forged {n}", f"Not really Olivia, number {n}")
        assert gw.send(forged, "mallory@evil.test", "support@gw.test").code == 250
    outcomes = [r["outcome"] for r in inbound(limit=500)]
    assert outcomes.count("ticket_created") == 3 and outcomes.count("held") == 5

    for n in range(3):  # her replies come to her own reply address: she proves who she is
        assert _reply(gw, people, ticket, f"The real Olivia, reply {n}") == 250
    assert [p["body"] for p in posts(ticket)[1:]] == [f"The real Olivia, reply {n}" for n in range(3)]


def test_held_messages_do_not_extend_a_hold(gateway_with, clock, sink, people, ticket):
    gw = gateway_with(loop_sender_limit=2)
    assert _reply(gw, people, ticket, "first") == 250 and _reply(gw, people, ticket, "second") == 250
    for minutes in (3, 3, 3):  # a message every three minutes, each held
        clock.advance(minutes=minutes)
        assert _reply(gw, people, ticket, f"held at +{minutes}") == 250
    assert [r["outcome"] for r in inbound(limit=3)] == ["held"] * 3
    clock.advance(minutes=1, seconds=30)  # the two posts are now older than the 10-minute window
    assert _reply(gw, people, ticket, "after the window") == 250
    assert inbound(limit=1)[0]["outcome"] == "posted"
    assert [p["body"] for p in posts(ticket)[1:]] == ["first", "second", "after the window"]
    # the sender is told nothing of the hold; staff get one notice for it
    assert not [m for m in sink.to(people.owner) if "held" in (m.header("Subject") or "").lower()]
    # (a copy in flight while the test clock jumps past its lease may be sent twice: the same message)
    assert len({m.header("Message-ID") for m in sink.to(people.staff)
                if "Messages held from" in (m.header("Subject") or "")}) == 1
