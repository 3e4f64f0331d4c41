"""Attachments (issue 4): stored with the post within the caps, names made safe, sent on with the
copies, or listed by name and size when they are too large to send to everyone."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid

from support import cli, reply_address


def mail_with(sender: str, to: str, files: list[tuple[str, bytes]]) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Re: files"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg.set_content("Here are the files.")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def test_attachments_are_stored_with_safe_names_and_sent_on(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    raw = mail_with(people.owner, address, [("../../etc/receipt.pdf", b"%PDF-1.4 receipt")])
    assert gw.send(raw, people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["attachments"] == [{"filename": "receipt.pdf", "content_type": "application/octet-stream",
                                    "size": 16}]
    copy = [m for m in sink.wait_for(1, to=people.staff) if "Here are the files" in m.text][0]
    assert [(a.get_filename(), a.get_content()) for a in copy.message.iter_attachments()] == [
        ("receipt.pdf", b"%PDF-1.4 receipt")]


def test_over_the_cap_attachments_are_left_out_and_noted_and_big_sets_are_listed_only(gateway_with, sink,
                                                                                       people, ticket):
    running = gateway_with(max_attachment_bytes=1000, max_relay_attachments_bytes=1500)
    address = reply_address(running, ticket, people.owner)
    files = [("small.bin", b"a" * 900), ("medium.bin", b"b" * 900), ("huge.bin", b"c" * 5000)]
    assert running.send(mail_with(people.owner, address, files), people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert [a["filename"] for a in post["attachments"]] == ["small.bin", "medium.bin"]
    with running.gateway.sessions() as session:
        from storage.models import InboundMessage, Post
        stored = session.query(Post).order_by(Post.id.desc()).first()
        assert "[attachment huge.bin (5000 bytes) left out" in stored.trimmed
        kept = email.message_from_bytes(session.query(InboundMessage).one().raw, policy=email.policy.default)
        assert {a.get_filename(): a.get_content() for a in kept.iter_attachments()}["huge.bin"] == b"c" * 5000
    copy = [m for m in sink.wait_for(1, to=people.staff) if "Here are the files" in m.text][0]
    assert list(copy.message.iter_attachments()) == []  # 1800 bytes is over the relay cap of 1500
    assert "small.bin (900 bytes), medium.bin (900 bytes)" in copy.text
