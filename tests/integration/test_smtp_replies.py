"""SPEC "Inbound over SMTP": every reply code, compared exactly, from a real SMTP client."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from support import TcpProxy, cli, make_mail, reply_address


def posts(ticket: int) -> list[str]:
    return [p["body"] for p in cli("ticket", "show", ticket, "--json").json()["posts"]]


def owner_reply(gw, people, ticket: int, body: str, message_id: str | None = None) -> tuple[bytes, str]:
    address = reply_address(gw, ticket, people.owner)
    return make_mail(people.owner, address, "Re: survey", body, message_id=message_id), address


@pytest.mark.parametrize("address", [
    "nobody@gw.test",                       # not an address the gateway serves
    "support@other.test",                   # another domain
    "r-1-3-aaaaaaaaaaaaaaaaaaaa@gw.test",   # a reply address with a bad token
])
def test_unserved_addresses_get_550_at_rcpt(gw, people, address):
    with gw.smtp() as client:
        client.ehlo("client.test")
        client.mail(people.owner)
        code, message = client.rcpt(address)
    assert (code, message) == (550, b"5.1.1 No such recipient here")


def test_one_message_to_a_reply_address_and_its_aliases_posts_once(gw, people, ticket):
    raw, address = owner_reply(gw, people, ticket, "Only once, please")
    with gw.smtp() as client:
        client.ehlo("client.test")
        client.mail(people.owner)
        assert client.rcpt(address)[0] == 250
        assert client.rcpt(address.replace(f"r-{ticket}-", f"r-00{ticket}-", 1)) == (550, b"5.1.1 No such recipient here")
        assert client.rcpt(address.upper())[0] == 250  # mail systems change case: the same address
        assert client.data(raw) == (250, b"2.0.0 OK: posted")
    assert posts(ticket).count("Only once, please") == 1
    assert [(o["recipient"], o["outcome"]) for o in cli("inbound", "list", "--json").json()] == [(address, "posted")]
    assert gw.send(raw, people.owner, address.upper()).message == "2.0.0 OK: duplicate"
    assert posts(ticket).count("Only once, please") == 1


def test_a_rule_refusal_gets_550_with_one_readable_line(gw, people, ticket):
    raw, address = owner_reply(gw, people, ticket, "hello")
    result = gw.send(raw.replace(people.owner.encode(), b"carol@client.test", 1), "carol@client.test", address)
    assert result.code == 550
    assert result.message.startswith("5.7.1 This address only takes mail from the person it was sent to")
    assert "\n" not in result.message


def test_250_comes_after_the_commit(gw, people, ticket):
    raw, address = owner_reply(gw, people, ticket, "Committed before the reply")
    result = gw.send(raw, people.owner, address)
    assert (result.code, result.message) == (250, "2.0.0 OK: posted")
    assert posts(ticket)[-1] == "Committed before the reply"
    outcome = cli("inbound", "list", "--json").json()[0]
    assert (outcome["outcome"], outcome["ticket"], outcome["sender"]) == ("posted", ticket, people.owner)


def test_too_large_gets_552(gateway_with, people, ticket):
    running = gateway_with(max_message_bytes=2000)
    raw, address = owner_reply(running, people, ticket, "x" * 5000)
    result = running.send(raw, people.owner, address)
    assert result.code == 552
    assert len(posts(ticket)) == 1


def test_malformed_commands_get_5xx_and_the_session_stays_usable(gw):
    with gw.smtp() as client:
        client.ehlo("client.test")
        assert client.docmd("MAIL FROM:")[0] == 501
        assert client.docmd("MAIL FROM:<a@client.test> SIZE=huge")[0] == 501
        assert client.docmd("RCPT TO:<support@gw.test>")[0] == 503  # no MAIL yet
        assert client.docmd("DATA")[0] == 503
        assert client.docmd("FROBNICATE")[0] == 500
        assert client.noop()[0] == 250
        assert client.mail("someone@client.test")[0] == 250


def test_more_than_the_recipient_cap_gets_452(gw, people, ticket):
    with gw.smtp() as client:
        client.ehlo("client.test")
        client.mail(people.owner)
        codes = [client.rcpt("support@gw.test")[0] for _ in range(101)]
    assert codes[:100] == [250] * 100 and codes[100] == 452


def test_an_unhandled_error_gets_451_without_internals(gw, monkeypatch):
    # a fault that cannot be caused from outside: the handler itself raising
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    from gateway.channels.smtp import GatewayHandler
    monkeypatch.setattr(GatewayHandler, "handle_RCPT", broken)
    with gw.smtp() as client:
        client.ehlo("client.test")
        client.mail("a@client.test")
        code, message = client.rcpt("support@gw.test")
    assert code == 451 and b"secret" not in message and b"RuntimeError" not in message


def test_a_message_that_crashes_processing_is_held_not_lost(gw, people, ticket, monkeypatch):
    # a fault that cannot be caused from outside: a bug in a parsing step
    import gateway.intake.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(gateway.intake.pipeline, "reply_content", broken)
    raw, address = owner_reply(gw, people, ticket, "This must not be lost")
    result = gw.send(raw, people.owner, address)
    assert result.code == 250
    held = cli("inbound", "list", "--json").json()[0]
    assert held["outcome"] == "held" and "RuntimeError" in held["reason"]
    with gw.gateway.sessions() as session:
        from storage.models import InboundMessage
        assert session.query(InboundMessage).one().raw == raw


def _storage_outage(db_url: str, tmp_path: Path, monkeypatch):
    """Point the gateway at its database through something the test can break, for real."""
    if db_url.startswith("sqlite"):
        folder = tmp_path / "dbdir"
        folder.mkdir()
        shutil.copyfile(db_url.split("///", 1)[1], folder / "gateway.db")
        monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{folder / 'gateway.db'}")
        shutil.move(folder, tmp_path / "dbdir-away")
        (tmp_path / "dbdir").write_text("not a folder")  # nothing can open or recreate the database

        def restore():
            (tmp_path / "dbdir").unlink()
            shutil.move(tmp_path / "dbdir-away", folder)
        return (lambda: None), restore
    url = make_url(db_url)
    proxy = TcpProxy(url.host, url.port or 5432)
    proxy.start()
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url.set(port=proxy.port).render_as_string(hide_password=False))

    def restore():
        proxy.start()
    return proxy.cut, restore


def test_storage_down_gets_451_and_the_retry_posts_once(gateway_with, monkeypatch, db_url, tmp_path, people, ticket):
    cut, restore = _storage_outage(db_url, tmp_path, monkeypatch)
    running = gateway_with()
    try:
        from gateway.domain.accounts import find_account
        from storage.db import make_engine, make_sessionmaker
        engine = make_engine(db_url)
        with make_sessionmaker(engine)() as session:
            owner_id = find_account(session, people.owner).id
        engine.dispose()
        address = running.gateway.addresses.reply_address(ticket, owner_id)
        raw = make_mail(people.owner, address, "Re: survey", "Sent during the outage")
        cut()
        result = running.send(raw, people.owner, address)
        assert (result.code, result.message) == (451, "4.3.0 Temporary failure, please try again later")
        restore()
        retry = running.send(raw, people.owner, address)  # the sending server retries the same message
        assert retry.code == 250
        again = running.send(raw, people.owner, address)  # and once more, as a duplicate
        assert again.code == 250
    finally:
        running.stop()
    assert posts(ticket).count("Sent during the outage") == 1


KELVIN = "\u212a"  # KELVIN SIGN: str.lower() and NFKC both make it "k"


@pytest.mark.parametrize("account, look_alike", [
    ("kim@client.test", f"{KELVIN}im@client.test"),
    ("ann@kiosk.test", f"ann@{KELVIN}iosk.test"),
])
def test_a_look_alike_sender_is_not_the_account(gw, people, account, look_alike):
    assert cli("account", "add", account, "--name", "Look", "--role", "client").code == 0
    number = int(cli("ticket", "create", "--owner", account, "--by", people.staff, "--subject", "Kelvin",
                     "--body", "Hello").out)
    address = reply_address(gw, number, account)
    forged = make_mail(account, address, "Re: Kelvin", "Not me").replace(account.encode(), look_alike.encode(), 1)
    result = gw.send(forged, "someone@else.test", address)
    assert result.code == 550, result
    to_support = make_mail(account, "support@gw.test", "New", "Not me either").replace(
        account.encode(), look_alike.encode(), 1)
    assert gw.send(to_support, "someone@else.test", "support@gw.test").code == 550
    assert posts(number) == ["Hello"]
    assert [t["number"] for t in cli("ticket", "list", "--json").json()] == [number]
