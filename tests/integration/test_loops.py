"""Issue 5 "Auto-replies and loops": our own mail coming back, and the circuit breaker."""

from __future__ import annotations

import time

import pytest

from support import accept_link, cli, http, inbound, nonce_of, outbox_count, reply_to


def test_our_own_message_coming_back_is_a_loop_not_a_post(gw, sink, people, ticket):
    copy = sink.wait_for(1, to=people.owner)[0]
    # a forwarding rule somewhere sends our notification straight back to the support address
    assert gw.send(copy.raw, "bounce-forwarder@client.test", "support@gw.test").code == 250
    record = inbound(limit=500)[0]
    assert record["outcome"] == "auto_reply" and "mail loop" in record["reason"]
    assert cli("ticket", "list", "--json").json()[-1]["number"] == ticket  # no ticket opened from it


def test_a_person_mentioning_out_of_office_still_posts(gw, sink, people, ticket):
    copy = sink.wait_for(1, to=people.owner)[0]
    raw, address = reply_to(copy, people.owner, "I was out of office last week; the beans were great.")
    assert gw.send(raw, people.owner, address).code == 250
    assert inbound(limit=500)[0]["outcome"] == "posted"


@pytest.mark.timeout(180)
def test_two_naive_responders_answering_each_other_are_stopped(gateway_with, sink, people, ticket):
    running = gateway_with(loop_sender_limit=5)
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    link = accept_link(sink.wait_for(1, to=people.delegate)[0])
    assert http("POST", link, {"nonce": nonce_of(http("GET", link).body)}).status == 200
    sink.wait_for(2, to=people.delegate)

    responders = {people.owner, people.delegate}
    answered: set[str] = set()
    # both answer every post they receive, with no automatic-mail headers at all
    assert cli("post", ticket, "--by", people.staff, "--body", "Anyone there?").code == 0
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 4:
        fresh = [m for m in list(sink.received) if m.to in responders and m.header("Message-ID") not in answered
                 and "wrote on" in m.text]
        for message in fresh:
            answered.add(message.header("Message-ID"))
            raw, address = reply_to(message, message.to, f"I am away until Monday. ({len(answered)})")
            assert running.send(raw, message.to, address).code == 250
            quiet_since = time.monotonic()
        time.sleep(0.1)

    posts = cli("ticket", "show", ticket, "--json").json()["posts"]
    by_author = {who: sum(p["author"] == who for p in posts) for who in responders}
    assert by_author == {people.owner: 5, people.delegate: 5}
    held = [r for r in inbound(limit=500) if r["outcome"] == "held"]
    assert held and all("loop breaker" in r["reason"] for r in held)
    notices = [m for m in sink.to(people.staff) if "Messages held from" in (m.header("Subject") or "")]
    assert sorted(n.header("Subject").rsplit(" ", 1)[1] for n in notices) == sorted(responders)  # once each
    settled = outbox_count(running)
    time.sleep(2)
    assert outbox_count(running) == settled  # the outbox stays flat once the breaker has tripped
