"""Edge input (issue 16): a malformed envelope is refused at MAIL, over-long header values are stored
shortened, on both databases; neither ends in a 451 the sender retries for days, nor in `held`."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from support import cli, inbound_count, make_mail, reply_address
from storage.models import InboundMessage


def mail_from(gw, argument: bytes) -> tuple[int, str]:
    """The reply to `MAIL FROM:<argument>`, sent as these bytes."""
    with gw.smtp() as client:
        client.ehlo("client.test")
        client.send(b"MAIL FROM:" + argument + b"\r\n")
        code, message = client.getreply()
        assert client.noop()[0] == 250  # the session goes on
    return code, message.decode()


BAD_SENDERS = {
    "NUL": (b"<oli\x00via@client.test>", 553, "control characters"),
    "control character": (b"<oli\x1bvia@client.test>", 553, "control characters"),
    "DEL": (b"<oli\x7fvia@client.test>", 553, "control characters"),
    "non-ASCII without SMTPUTF8": ("<zoë@client.test>".encode(), 553, "SMTPUTF8"),
    "not UTF-8": (b"<zo\xebe@client.test> SMTPUTF8", 553, "not valid UTF-8"),
    "longer than the column": (b"<" + b"a" * 400 + b"@client.test>", 501, "longer than 254 octets"),
    "longer than RFC 5321's path": (b"<" + b"a" * 243 + b"@client.test>", 501, "longer than 254 octets"),
}


@pytest.mark.parametrize("argument, code, says", BAD_SENDERS.values(), ids=BAD_SENDERS.keys())
def test_a_malformed_sender_is_refused_at_mail(gw, argument, code, says):
    reply = mail_from(gw, argument)
    assert reply[0] == code and says in reply[1], reply
    assert inbound_count(gw) == 0


@pytest.mark.parametrize("argument", ["<zoë@client.test> SMTPUTF8".encode(), b"<>",
                                      b"<" + b"a" * 242 + b"@client.test>"],
                         ids=["non-ASCII with SMTPUTF8", "null sender", "254 octets"])
def test_a_well_formed_sender_is_taken(gw, argument):
    assert mail_from(gw, argument)[0] == 250


def stored(gw) -> InboundMessage:
    with gw.gateway.sessions() as session:
        return session.query(InboundMessage).one()


def test_a_1200_character_message_id_is_stored_shortened(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    message_id = "<" + "m" * 1188 + "@client.test>"
    raw = make_mail(people.owner, address, "Re: long id", "A reply with a long Message-ID",
                    message_id=message_id)
    assert gw.send(raw, people.owner, address).code == 250
    assert cli("ticket", "show", ticket, "--json").json()["posts"][-1]["body"] == "A reply with a long Message-ID"
    inbound = stored(gw)
    assert inbound.message_id == message_id.strip("<>")[:998]
    assert message_id.encode() in inbound.raw
    again = gw.send(raw, people.owner, address)  # the shortened value still finds the first delivery
    assert again.code == 250 and "duplicate" in again.message
    assert len(cli("ticket", "show", ticket, "--json").json()["posts"]) == 2


def test_a_314_character_attachment_type_is_stored_shortened(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    content_type = "application/x-" + "t" * 300
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = people.owner, address, "Re: odd type"
    msg["Message-ID"] = "<odd-type@client.test>"
    msg.set_content("See the attached file")
    msg.add_attachment(b"attached bytes", maintype="application", subtype=content_type.split("/")[1],
                       filename="data.bin")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    assert gw.send(raw, people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["body"] == "See the attached file"
    assert [(a["filename"], a["content_type"]) for a in post["attachments"]] == [("data.bin", content_type[:255])]
    assert content_type.encode() in stored(gw).raw
    staff_copy = sink.wait_for(1, to=people.staff)[0].message
    assert [part.get_content() for part in staff_copy.iter_attachments()] == [b"attached bytes"]


LONG_ADDRESS = "o" * 330 + "@client.test"


def test_a_from_address_longer_than_rfc_5321_allows_is_refused_not_held(gateway_with, people, ticket):
    gw = gateway_with(create_sender_accounts=True)
    address = reply_address(gw, ticket, people.owner)
    for to in (address, gw.settings.support):
        result = gw.send(make_mail(LONG_ADDRESS, to, "Long sender", "Who am I"), people.owner, to)
        assert result.code == 550 and "no valid From address" in result.message, result
    outcomes = cli("inbound", "list", "--json").json()
    assert [o["outcome"] for o in outcomes] == ["refused", "refused"]


def test_an_account_address_longer_than_rfc_5321_allows_is_refused(env):
    result = cli("account", "add", LONG_ADDRESS, "--name", "Long", "--role", "client")
    assert result.code != 0 and "not an email address" in result.err
