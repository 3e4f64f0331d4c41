"""SPEC "Email interfaces": reply addresses, forward-to-invite, outbound form, automatic mail,
duplicates, and one transaction for several gateway recipients."""

from __future__ import annotations

import pytest

from support import account_id, cli, forward, inbound, invite_address, make_mail, posts, reply_to

pytestmark = pytest.mark.usefixtures("gw")


# --- reply addresses: only from the account they were made for -----------------------------

@pytest.mark.parametrize("from_header", [
    '"olivia@client.test" <carol@client.test>',      # the display name never decides
    "olivia@client.test, carol@client.test",          # two mailboxes in From
    "carol@client.test",
])
def test_replies_from_anyone_but_the_addressee_are_refused(gw, people, ticket, from_header):
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    raw = make_mail(from_header, address, "Re: survey", "spoofed text")
    result = gw.send(raw, people.owner, address)
    assert result.code == 550
    assert [p["body"] for p in posts(ticket)] == ["How did you like the special blend?"]
    assert inbound()[0]["outcome"] == "refused"



def _outlook_reply(from_header: str, to: str, body: str) -> bytes:
    """A reply as Outlook desktop sends it: the From display name as an unquoted encoded word."""
    return (f"From: {from_header}\r\nTo: {to}\r\nSubject: RE: survey\r\n"
            "Date: Tue, 24 Nov 2026 09:12:03 +0100\r\n"
            "Message-ID: <AM0PR07MB4401C1E5@AM0PR07MB4401.eurprd07.prod.outlook.com>\r\n"
            "Thread-Index: AQHZ1n2xk0m3J5c8bU2O8ul4pqxKcg==\r\nContent-Language: de-DE\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode()


def test_a_last_first_name_in_an_encoded_word_replies_and_opens_tickets(gw, people, ticket):
    """Outlook writes a non-ASCII "Last, First" name as one encoded word: "Owner, Olivia" with a ü."""
    name = "=?utf-8?B?w5x3bmVyLCBPbGl2aWE=?="  # "Üwner, Olivia"
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    assert gw.send(_outlook_reply(f"{name} <{people.owner}>", address, "Danke, passt."), people.owner,
                   address).code == 250
    post = posts(ticket)[-1]
    assert (post["author"], post["body"]) == (people.owner, "Danke, passt.")
    support = gw.gateway.addresses.support_address
    assert gw.send(_outlook_reply(f"{name} <{people.owner}>", support, "Neue Frage"), people.owner,
                   support).code == 250
    assert inbound()[0]["outcome"] == "ticket_created" and inbound()[0]["sender"] == people.owner


@pytest.mark.parametrize("from_header", [
    "=?utf-8?B?b2xpdmlhQGNsaWVudC50ZXN0?= <carol@client.test>",  # the name decodes to the owner's address
    "=?utf-8?B?b2xpdmlhQGNsaWVudC50ZXN0?=",                       # ... and there is no other address
    "Olivia [Client] <olivia@client.test> <carol@client.test>",    # two addresses in angle brackets
])
def test_an_address_in_an_encoded_name_or_two_angle_addresses_never_post(gw, people, ticket, from_header):
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    result = gw.send(_outlook_reply(from_header, address, "spoofed text"), people.owner, address)
    assert result.code == 550
    assert [p["body"] for p in posts(ticket)] == ["How did you like the special blend?"]


def test_unquoted_specials_in_the_name_of_one_address_post(gw, people, ticket):
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    raw = _outlook_reply(f"Olivia Owner [Client Shop] <{people.owner}>", address, "Works for me")
    assert gw.send(raw, people.owner, address).code == 250
    assert posts(ticket)[-1]["body"] == "Works for me"

# --- the staff invite address ------------------------------------------------------------------

def test_forwarding_invites_the_addresses_written_above_the_forward(gw, sink, people, ticket):
    address = invite_address(gw, people, ticket)
    note = (f"Please add {people.delegate} and ghost@nowhere.test, thanks; cc {people.staff} {address}\n\n"
            "-- \nSam Staff\nsam.private@store.test")
    result = gw.send(forward(people.staff, address, note), people.staff, address)
    assert result.code == 250
    listed = {d["email"]: d["status"] for d in cli("delegate", "list", ticket, "--json").json()}
    assert listed == {people.delegate: "invited"}  # not the staff's own, signature, or forwarded addresses
    sink.wait_for(1, to=people.delegate)
    confirmation = sink.wait_for(1, to=people.staff)[-1]
    assert "Delegates invited: 1, refused: 1" in confirmation.header("Subject")
    assert people.delegate in confirmation.text
    assert "ghost@nowhere.test: ghost@nowhere.test has no store account" in confirmation.text
    assert inbound()[0]["outcome"] == "invited"


def test_forwarding_with_no_addresses_invites_the_original_sender(gw, sink, people, ticket):
    address = invite_address(gw, people, ticket)
    result = gw.send(forward(people.staff, address, "FYI, see below."), people.staff, address)
    assert result.code == 250
    assert [d["email"] for d in cli("delegate", "list", ticket, "--json").json()] == [people.other]


def test_a_forward_that_invites_nobody_is_refused_with_the_reasons(gw, sink, people, ticket):
    address = invite_address(gw, people, ticket)
    raw = forward(people.staff, address, "Add ghost@nowhere.test please")
    result = gw.send(raw, people.staff, address)
    assert result.code == 550 and "ghost@nowhere.test has no store account" in result.message
    assert cli("delegate", "list", ticket, "--json").json() == []


# --- outbound messages -----------------------------------------------------------------------

def test_outbound_mail_threads_marks_itself_automatic_and_has_text_and_html(gw, sink, people, ticket):
    assert cli("post", ticket, "--by", people.staff, "--body", "<script>alert(1)</script> {{ 7*7 }}").code == 0
    first, second = sink.wait_for(2, to=people.owner)
    root = f"<ticket-{ticket}@gw.test>"
    for message in (first, second):
        assert message.header("Subject") == f"[#{ticket}] Special blend survey"
        assert message.header("In-Reply-To") == root and message.header("References") == root
        assert message.header("Auto-Submitted") == "auto-generated"
        assert message.header("List-Id") == "Bean Store tickets <tickets.gw.test>"
        assert message.header("X-Auto-Response-Suppress") == "All"
        assert message.mail_from.startswith("b-")  # VERP: a bounce is tied to this copy
    assert first.header("Message-ID") != second.header("Message-ID")
    assert "<script>" not in second.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in second.html
    written = second.text.split("\n\n")[1]  # the paragraph after the attribution line
    assert written == "<script>alert(1)</script> {{ 7*7 }}"  # literal, never evaluated as a template
    assert "{{ 7*7 }}" in second.html


def test_staff_notifications_show_their_invite_address(gw, sink, people, ticket):
    assert cli("post", ticket, "--by", people.owner, "--body", "Hi staff").code == 0
    message = sink.wait_for(1, to=people.staff)[0]
    assert invite_address(gw, people, ticket) in message.text
    owner_copy = sink.wait_for(1, to=people.owner)[0]
    assert "To invite delegates" not in owner_copy.text


# --- never a post, never a loop ----------------------------------------------------------

def test_an_out_of_office_reply_is_recorded_and_never_posted(gw, sink, people, ticket):
    notification = sink.wait_for(1, to=people.owner)[0]
    raw, address = reply_to(notification, people.owner, "I am out of the office until Monday.",
                            headers={"Auto-Submitted": "auto-replied"})
    assert gw.send(raw, people.owner, address).code == 250
    assert inbound()[0]["outcome"] == "auto_reply"
    assert len(posts(ticket)) == 1
    assert cli("ticket", "show", ticket, "--json").json()["status"] == "open"
    with gw.gateway.sessions() as session:
        from storage.models import OutboxMessage
        assert session.query(OutboxMessage).count() == 1  # only the first post: nothing answers the auto-reply


def test_a_bounce_is_tied_to_the_recipient_whose_copy_bounced(gw, sink, people, ticket):
    copy = sink.wait_for(1, to=people.owner)[0]
    verp = copy.mail_from
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.client.test>\r\n"
        f"To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.client.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.test\r\n\r\n"
        f"Final-Recipient: rfc822; {people.owner}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B--\r\n"
    ).encode()
    assert gw.send(dsn, "", verp).code == 250
    record = inbound()[0]
    assert record["outcome"] == "bounce" and people.owner in record["reason"] and record["ticket"] == ticket
    assert len(posts(ticket)) == 1


# --- duplicates and several recipients -------------------------------------------------------

def test_the_same_message_delivered_twice_posts_once(gw, people, ticket):
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    raw = make_mail(people.owner, address, "Re: survey", "Only once please", message_id="<same@client.test>")
    assert gw.send(raw, people.owner, address).code == 250
    assert gw.send(raw, people.owner, address).code == 250
    assert [p["body"] for p in posts(ticket)].count("Only once please") == 1
    assert [r["outcome"] for r in inbound()[:2]] == ["duplicate", "posted"]


def _written_once(owner: str, address: str, body: str, date: str, message_id: str | None) -> bytes:
    head = f"From: {owner}\r\nTo: {address}\r\nSubject: Re: survey\r\nDate: {date}\r\n"
    if message_id:
        head += f"Message-ID: {message_id}\r\n"
    return f"{head}\r\n{body}\r\n".encode()


def test_one_message_relayed_twice_posts_once_whatever_the_servers_added(gw, people, ticket):
    """No Message-ID from the client; each path added its own trace headers, one server even
    gave the message a Message-ID of its own: the content and the Date it was written match."""
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    written = _written_once(people.owner, address, "Sent from a broken client", "Tue, 24 Nov 2026 09:00:00 +0000",
                            None)
    first = b"Received: from mx1.client.test by gw.test; Tue, 24 Nov 2026 09:00:01 +0000\r\n" + written
    second = (b"Received: from mx2.client.test by gw.test; Tue, 24 Nov 2026 09:07:00 +0000\r\n"
              b"Message-ID: <added-by-mx2@client.test>\r\n" + written)
    assert gw.send(first, people.owner, address).code == 250
    assert gw.send(second, people.owner, address).code == 250
    assert [p["body"] for p in posts(ticket)].count("Sent from a broken client") == 1
    assert [r["outcome"] for r in inbound()[:2]] == ["duplicate", "posted"]


def test_the_same_words_written_twice_post_twice(gw, people, ticket):
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    for n, date in enumerate(("Tue, 24 Nov 2026 09:00:00 +0000", "Tue, 24 Nov 2026 15:30:00 +0000")):
        raw = _written_once(people.owner, address, "Thanks!", date, f"<thanks-{n}@client.test>")
        assert gw.send(raw, people.owner, address).code == 250
    assert [p["body"] for p in posts(ticket)].count("Thanks!") == 2


def test_one_transaction_with_an_accepted_and_a_refused_recipient(gw, sink, people, ticket):
    other = cli("ticket", "create", "--owner", people.other, "--by", people.staff, "--subject", "Other",
                "--body", "Another ticket")
    other_ticket = int(other.out)
    mine = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    not_mine = gw.gateway.addresses.reply_address(other_ticket, account_id(gw, people.owner))
    raw = make_mail(people.owner, f"{mine}, {not_mine}", "Re: both", "Posted where I may")
    result = gw.send(raw, people.owner, [mine, not_mine])
    assert result.code == 250
    assert posts(ticket)[-1]["body"] == "Posted where I may"
    assert len(posts(other_ticket)) == 1
    outcomes = {r["ticket"]: r["outcome"] for r in inbound()[:2]}
    assert outcomes == {ticket: "posted", other_ticket: "refused"}
    notice = [m for m in sink.wait_for(2, to=people.owner) if m.header("Subject").startswith("Not delivered")]
    assert len(notice) == 1 and "has no access to ticket" in notice[0].text
