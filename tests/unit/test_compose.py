"""Outbound MIME assembly: valid, encoded, and immune to header injection."""

import email
import email.policy
from datetime import datetime, timezone

from gateway.outbox.compose import Head, OutboundAttachment, build_message


def sample_head(**overrides) -> Head:
    values = dict(from_name="Sam via Bean Store", from_address="support@gw.test", to_name="Dan",
                  to_address="dan@client.test", subject="[#1] Survey", message_id="post.1@gw.test",
                  date=datetime(2026, 11, 24, tzinfo=timezone.utc), reply_to="r-1-2-abc@gw.test",
                  in_reply_to="ticket-1@gw.test", references=("ticket-1@gw.test",),
                  extra_headers=(("Auto-Submitted", "auto-generated"),))
    values.update(overrides)
    return Head(**values)


def parse(raw: bytes):
    return email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)


def test_text_and_html_parts_with_threading_headers():
    msg = parse(build_message(sample_head(), "Hello\nWorld", "<p>Hello</p>"))
    assert msg["Message-ID"] == "<post.1@gw.test>"
    assert msg["In-Reply-To"] == "<ticket-1@gw.test>" and msg["References"] == "<ticket-1@gw.test>"
    assert msg["Reply-To"] == "r-1-2-abc@gw.test"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_body(("plain",)).get_content() == "Hello\nWorld\n"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Hello</p>"
    assert not msg.defects


def test_crlf_in_user_text_never_makes_a_header():
    raw = build_message(sample_head(subject="Hi\r\nBcc: victim@evil.test", from_name="Eve\nX-Evil: 1"), "t", "h")
    msg = parse(raw)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "victim@evil.test" in msg["Subject"]


def test_control_characters_never_reach_a_header():
    raw = build_message(sample_head(subject="[#1] Or\x00der\x1b[31m 12\x85\x9b", to_name="D\x07an\tLee"), "t", "h")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(byte < 32 and byte not in b"\r\n" or byte == 127 for byte in head)
    msg = parse(raw)
    assert msg["Subject"] == "[#1] Order[31m 12" and msg["To"] == "Dan Lee <dan@client.test>"


def test_non_ascii_names_subjects_and_bodies_round_trip():
    raw = build_message(sample_head(subject="[#1] Café crème ☕", to_name="Zoë Ñúñez"), "Grüße ☕", "<p>Grüße</p>")
    raw.decode("ascii")  # 7-bit clean on the wire
    msg = parse(raw)
    assert msg["Subject"] == "[#1] Café crème ☕"
    assert "Zoë Ñúñez" in msg["To"]
    assert msg.get_body(("plain",)).get_content() == "Grüße ☕\n"


def test_attachments_are_carried():
    raw = build_message(sample_head(), "see file", "<p>see file</p>",
                        (OutboundAttachment("beans.pdf", "application/pdf", b"%PDF-1.4 data"),))
    attachments = list(parse(raw).iter_attachments())
    assert [(a.get_filename(), a.get_content()) for a in attachments] == [("beans.pdf", b"%PDF-1.4 data")]


def test_inline_images_go_in_multipart_related_beside_the_html_and_files_after_it():
    photo = OutboundAttachment("photo.png", "image/png", b"PNGDATA", content_id="photo.1@client.test")
    hostile = OutboundAttachment("x.png", "image/png", b"X", content_id="x@y>\r\nBcc: victim@evil.test")
    raw = build_message(sample_head(), "t", '<img src="cid:photo.1@client.test">',
                        (OutboundAttachment("beans.pdf", "application/pdf", b"%PDF"), photo, hostile))
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/mixed" and msg["Bcc"] is None
    related, pdf = msg.get_payload()
    assert related.get_content_type() == "multipart/related" and pdf.get_filename() == "beans.pdf"
    alternative, image, _ = related.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert image["Content-ID"] == "<photo.1@client.test>" and image.get_content_disposition() == "inline"
    assert image.get_content() == b"PNGDATA"
    assert not msg.defects and all(not part.defects for part in msg.walk())
