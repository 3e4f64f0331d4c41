"""Operator commands (issue 12): inbound show and replay, outbox list and retry, purge of raw bytes."""

from __future__ import annotations

from support import cli, make_mail, reply_address, wait_until


def _reply(gw, people, ticket: int, body: str) -> tuple[bytes, str]:
    address = reply_address(gw, ticket, people.owner)
    return make_mail(people.owner, address, "Re: survey", body), address


def _posts(ticket: int) -> list[str]:
    return [p["body"] for p in cli("ticket", "show", ticket, "--json").json()["posts"]]


def test_a_held_message_replayed_after_the_fault_posts_once(gw, people, ticket, monkeypatch):
    import gateway.intake.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    fixed = gateway.intake.pipeline.reply_content
    monkeypatch.setattr(gateway.intake.pipeline, "reply_content", broken)
    raw, address = _reply(gw, people, ticket, "This must not be lost\n\n-- \nOlivia")
    assert gw.send(raw, people.owner, address).code == 250
    held = cli("inbound", "list", "--json").json()[0]
    assert held["outcome"] == "held"
    monkeypatch.setattr(gateway.intake.pipeline, "reply_content", fixed)

    replayed = cli("inbound", "replay", held["id"], "--json")
    assert replayed.code == 0, replayed.err
    assert [d["outcome"] for d in replayed.json()] == ["posted"]
    assert _posts(ticket).count("This must not be lost") == 1

    again = cli("inbound", "replay", held["id"])
    assert again.code == 1 and "already acted" in again.err
    assert _posts(ticket).count("This must not be lost") == 1

    shown = cli("inbound", "show", cli("inbound", "list", "--json").json()[0]["id"], "--json").json()
    assert shown["headers"]["Subject"] == "Re: survey" and shown["outcomes"][0]["outcome"] == "posted"
    assert shown["posts"][0]["body"] == "This must not be lost" and "Olivia" in shown["posts"][0]["trimmed"]


def test_a_refused_message_replayed_still_refused_gets_one_new_outcome(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    raw = make_mail(people.other, address, "Re: survey", "Not mine")
    assert gw.send(raw, people.other, address).code == 550
    refused = cli("inbound", "list", "--json").json()
    replayed = cli("inbound", "replay", refused[0]["id"], "--json")
    assert replayed.code == 0, replayed.err
    assert [d["outcome"] for d in replayed.json()] == ["refused"]
    assert len(cli("inbound", "list", "--json").json()) == len(refused) + 1
    plain = cli("inbound", "show", refused[0]["id"])
    assert "refused" in plain.out and "From:" in plain.out


def test_a_failed_copy_is_retried_and_reaches_the_sink(gw, sink, people):
    sink.fail_next("550 5.1.1 no such user")
    cli("ticket", "create", "--owner", people.owner, "--by", people.staff, "--subject", "Nope", "--body", "Hi")
    wait_until(lambda: cli("outbox", "list", "--status", "failed", "--json").json(), what="the copy to fail")
    failed = cli("outbox", "list", "--status", "failed", "--json").json()[0]
    sent = cli("outbox", "list", "--status", "sent", "--json").json()
    if sent:
        not_failed = cli("outbox", "retry", sent[0]["id"])
        assert not_failed.code == 1 and "not failed" in not_failed.err
    assert cli("outbox", "retry", failed["id"]).code == 0
    gw.gateway.wake_delivery()
    assert sink.wait_for(1, to=people.owner)
    assert cli("outbox", "retry", "--failed", "--json").json() == []


def test_purge_drops_the_raw_bytes_of_old_messages_only(gw, people, ticket, clock):
    raw, address = _reply(gw, people, ticket, "An old reply")
    assert gw.send(raw, people.owner, address).code == 250
    old = cli("inbound", "list", "--json").json()[0]["id"]
    clock.advance(days=91)
    raw, address = _reply(gw, people, ticket, "A new reply")
    assert gw.send(raw, people.owner, address).code == 250
    new = cli("inbound", "list", "--json").json()[0]["id"]

    purged = cli("purge", "--raw-older-than", "90d", "--json", clock=clock)
    assert purged.json() == {"raw_purged": 1}
    gone = cli("inbound", "show", old, "--raw")
    assert gone.code == 1 and "purged" in gone.err
    assert "A new reply" in cli("inbound", "show", new, "--raw").out
    assert cli("inbound", "show", old, "--json").json()["outcomes"][0]["outcome"] == "posted"
    assert "An old reply" in _posts(ticket)
