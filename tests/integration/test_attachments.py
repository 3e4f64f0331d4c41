"""Attachments (issue 4): stored with the post within the caps, names made safe, sent on with the
copies, or listed by name and size when they are too large to send to everyone."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

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
                                    "size": 16, "content_id": None}]
    copy = [m for m in sink.wait_for(1, to=people.staff) if "Here are the files" in m.text][0]
    assert [(a.get_filename(), a.get_content()) for a in copy.message.iter_attachments()] == [
        ("receipt.pdf", b"%PDF-1.4 receipt")]


def test_names_that_deceive_are_stored_and_sent_on_plain(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    names = ["invoice\u202egpj.exe", "re\u200bport.pdf", "NUL.tar.gz", "con .txt", "COM\u00b9.txt", "CONIN$",
             "bell\x9b.txt"]
    raw = mail_with(people.owner, address, [(name, b"data") for name in names])
    assert gw.send(raw, people.owner, address).code == 250
    stored = ["invoicegpj.exe", "report.pdf", "_NUL.tar.gz", "_con .txt", "_COM\u00b9.txt", "_CONIN$", "bell_.txt"]
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert [a["filename"] for a in post["attachments"]] == stored
    copy = [m for m in sink.wait_for(1, to=people.staff) if "Here are the files" in m.text][0]
    assert [a.get_filename() for a in copy.message.iter_attachments()] == stored


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


PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40  # the bytes only travel; nothing decodes them


def html_mail_with_photo(sender: str, to: str, text: str, html: str, content_id: str) -> bytes:
    """The way Apple Mail and Outlook send a pasted photo: multipart/related around the HTML."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Re: broken bag"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.get_payload()[1].add_related(PHOTO, maintype="image", subtype="png", cid=f"<{content_id}>",
                                     filename="photo.png")
    return msg.as_bytes()


def test_a_photo_shown_in_the_reply_is_shown_inline_in_the_copies(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    html = ('<div>The bag arrived torn, see the photo.</div>'
            '<div><img src="cid:photo.1@client.test" alt="the torn bag"></div>')
    text = "The bag arrived torn, see the photo.\n\n[the torn bag]"
    assert gw.send(html_mail_with_photo(people.owner, address, text, html, "photo.1@client.test"),
                   people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["attachments"] == [{"filename": "photo.png", "content_type": "image/png", "size": len(PHOTO),
                                    "content_id": "photo.1@client.test"}]
    copy = [m for m in sink.wait_for(1, to=people.staff) if "arrived torn" in m.text][0]
    related = copy.message.get_body(("related",))
    assert related is not None and related.get_content_type() == "multipart/related"
    shown, image = related.get_payload()
    assert shown.get_content_type() == "multipart/alternative"
    assert image["Content-ID"] == "<photo.1@client.test>" and image.get_content_disposition() == "inline"
    assert image.get_content() == PHOTO
    assert 'src="cid:photo.1@client.test"' in copy.html


def test_an_image_only_in_the_quoted_history_is_an_ordinary_attachment(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    html = ('<div>Thanks, that fixed it.</div>'
            '<blockquote type="cite">On Tue, 24 Nov 2026 at 10:00, Sam Staff &lt;sam@store.test&gt; wrote:<br>'
            '<img src="cid:logo@store.test" alt="logo"></blockquote>')
    text = "Thanks, that fixed it.\n\nOn Tue, 24 Nov 2026 at 10:00, Sam Staff <sam@store.test> wrote:\n> [logo]"
    assert gw.send(html_mail_with_photo(people.owner, address, text, html, "logo@store.test"),
                   people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["body"] == "Thanks, that fixed it."
    assert [(a["filename"], a["content_id"]) for a in post["attachments"]] == [("photo.png", None)]
    copy = [m for m in sink.wait_for(1, to=people.staff) if "fixed it" in m.text][0]
    assert copy.message.get_body(("related",)) is None
    assert [a.get_filename() for a in copy.message.iter_attachments()] == ["photo.png"]


def test_copies_without_the_images_drop_their_cid_links_and_keep_the_alt_text(gateway_with, sink, people,
                                                                               ticket):
    running = gateway_with(max_relay_attachments_bytes=10)
    address = reply_address(running, ticket, people.owner)
    html = '<div>See the photo.</div><div><img src="cid:photo.2@client.test" alt="the torn bag"></div>'
    assert running.send(html_mail_with_photo(people.owner, address, "See the photo.", html, "photo.2@client.test"),
                        people.owner, address).code == 250
    copy = [m for m in sink.wait_for(1, to=people.staff) if "See the photo" in m.text][0]
    assert list(copy.message.iter_attachments()) == [] and copy.message.get_body(("related",)) is None
    assert "cid:" not in copy.html and 'alt="the torn bag"' in copy.html
    assert f"photo.png ({len(PHOTO)} bytes)" in copy.text


# Issue 15: a reply that is only a file or a picture, or a forward, brings new content.
CONTENT = Path(__file__).resolve().parents[1] / "mail" / "content"


def test_a_reply_that_is_only_a_file_posts_and_says_what_was_attached(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    assert gw.send((CONTENT / "thunderbird_pdf_only.eml").read_bytes(), people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["body"] == "[Attached: invoice-4471.pdf]"
    assert [a["filename"] for a in post["attachments"]] == ["invoice-4471.pdf"]
    copy = sink.wait_for(1, to=people.staff)[-1]
    assert "[Attached: invoice-4471.pdf]" in copy.text


def test_a_reply_that_only_quotes_next_to_a_signature_logo_is_still_nothing_new(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    result = gw.send((CONTENT / "outlook_quotes_and_logo.eml").read_bytes(), people.owner, address)
    assert result.code == 550 and "Nothing new in your reply" in result.message


def test_a_forward_to_a_reply_address_posts_the_forwarded_message(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    assert gw.send((CONTENT / "gmail_forward_to_reply_address.eml").read_bytes(), people.owner, address).code == 250
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["body"] == "Hi Olivia,\n\nthe blend arrived with a torn bag, the beans were fine though.\n\nJan"
