"""Issue 16, class 5: real people's mail is never taken for automatic mail on its words or names.
For an account that may post where the message went, only the message's structure (report MIME
types, RFC 3834 and vendor headers, a null or daemon envelope) makes it automatic, and what is
then not posted names them for staff in the inbound list."""

from __future__ import annotations

from support import cli, inbound, make_mail, posts, reply_address


def _send(gw, sender: str, to: str, subject: str, body: str, headers: dict | None = None,
          envelope: str | None = None) -> int:
    raw = make_mail(sender, to, subject, body, headers=headers)
    return gw.send(raw, sender if envelope is None else envelope, to).code


def test_a_staff_member_named_system_administrator_writing_of_a_failed_delivery_posts(gw, people, ticket):
    address = reply_address(gw, ticket, people.staff)
    body = "Sorry: your parcel could not be delivered yesterday, delivery failed at the depot. We resend today."
    assert _send(gw, f"System Administrator <{people.staff}>", address, "Re: Special blend survey", body) == 250
    assert inbound(limit=1)[0]["outcome"] == "posted"
    assert posts(ticket)[-1]["body"] == body


def test_a_client_whose_address_looks_like_a_mail_system_opens_a_ticket(gw, people):
    assert cli("account", "add", "pat.smtp@client.test", "--name", "Pat", "--role", "client").code == 0
    body = "My order 1234 was not delivered. Undeliverable, the courier says."
    assert _send(gw, "pat.smtp@client.test", "support@gw.test", "Delivery failure", body) == 250
    assert inbound(limit=1)[0]["outcome"] == "ticket_created"


def test_a_new_ticket_whose_subject_begins_out_of_office_is_a_ticket(gw, people):
    assert _send(gw, people.owner, "support@gw.test", "Out of office: the blend arrived while I was away",
                 "The bag was torn when I came back.") == 250
    assert inbound(limit=1)[0]["outcome"] == "ticket_created"


def test_a_reply_with_list_headers_added_by_a_corporate_mail_system_posts(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    headers = {"List-Unsubscribe": "<mailto:unsubscribe@client.test>", "Precedence": "bulk"}
    assert _send(gw, people.owner, address, "Re: Special blend survey", "Loved it, more please.", headers) == 250
    assert posts(ticket)[-1]["body"] == "Loved it, more please."


def test_declared_automatic_mail_from_someone_with_access_names_them_for_staff(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    headers = {"Auto-Submitted": "auto-replied"}
    assert _send(gw, people.owner, address, "Automatic reply: Special blend survey", "I am away.", headers) == 250
    record = inbound(limit=1)[0]
    assert record["outcome"] == "auto_reply" and record["ticket"] == ticket
    assert "Auto-Submitted" in record["reason"] and f"from {people.owner}, who may post here" in record["reason"]
    assert len(posts(ticket)) == 1


def test_the_same_words_from_a_stranger_are_still_automatic(gw, people):
    # no account, so nothing vouches for a person: the responder's subject is enough, and no 550
    # goes back to a vacation responder
    assert _send(gw, "someone@else.test", "support@gw.test", "Out of office: back Monday", "I am away.") == 250
    assert inbound(limit=1)[0]["outcome"] == "auto_reply"


def test_a_bounce_from_a_mail_daemon_envelope_is_a_bounce_whatever_its_from(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    body = "This is the mail system at host mx.client.test.\n\nI'm sorry to have to inform you that your message could not be delivered."
    assert _send(gw, people.owner, address, "Undelivered Mail Returned to Sender", body,
                 envelope="MAILER-DAEMON@mx.client.test") == 250
    assert inbound(limit=1)[0]["outcome"] == "bounce"
