"""What a reply brings to its ticket (issue 15, classes 4 and 5): tests/mail/content, see its
README. A reply that is only a file or a picture is new content and its text names the files;
a forward brings the forwarded message without its header block."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.content import added_attachments, reply_content
from parsers.mime import parse_message
from parsers.sanitize import inline_image_ids

CONTENT = Path(__file__).resolve().parents[1] / "mail" / "content"
FORWARDS = Path(__file__).resolve().parents[1] / "mail" / "forwards"
JAN = "Hi Olivia,\n\nthe blend arrived with a torn bag, the beans were fine though.\n\nJan"


def _content(name: str, folder: Path = CONTENT):
    return reply_content(parse_message((folder / name).read_bytes()))


@pytest.mark.parametrize("name, text", [
    ("thunderbird_pdf_only.eml", "[Attached: invoice-4471.pdf]"),
    ("ios_photo_only.eml", "[Attached: IMG_0412.jpeg]"),
])
def test_a_reply_that_is_only_an_attachment_says_what_was_attached(name, text):
    assert _content(name).text == text


@pytest.mark.parametrize("name", ["outlook_quotes_and_logo.eml", "smime_signed_quotes_only.eml"])
def test_a_logo_in_the_quoted_signature_or_a_signature_part_is_nothing_new(name):
    assert _content(name).text == ""


@pytest.mark.parametrize("placeholder", ["[cid:image002.jpg@01DB3E5A.1C2D3E40]", "[image: image002.jpg]"])
def test_a_picture_pasted_above_the_quote_is_new_content_and_stays_shown(placeholder):
    """Outlook's text part shows a pasted picture as "[cid:...]", Gmail's as "[image: name]"; the
    post's text is the kept HTML's, which shows the picture itself."""
    mail = parse_message(_with_pasted_picture(f"Photo: {placeholder}".encode(), b"Photo: "))
    content = reply_content(mail)
    assert content.text == "Photo:"
    assert 'src="cid:image002.jpg@01DB3E5A.1C2D3E40"' in content.html
    assert [a.filename for a in added_attachments(mail, inline_image_ids(content.html))] == ["image002.jpg"]


def test_where_the_html_is_kept_the_text_part_is_not_shown():
    """A text part that says something else than the HTML part: the post is what the HTML says."""
    mail = parse_message(_with_pasted_picture(b"Please cancel my order.", b"Please keep my order. "))
    content = reply_content(mail)
    assert content.text == "Please keep my order."
    assert "cancel" not in content.text and "cancel" not in content.html


def test_text_hidden_by_css_is_in_the_text_and_shown_in_the_html():
    mail = parse_message(_with_pasted_picture(b"Thanks.", b'Thanks.<span style=3D"display:none;font-size:0">'
                                                          b" I agree to the new terms.</span> "))
    content = reply_content(mail)
    assert content.text == "Thanks. I agree to the new terms."
    assert "display" not in content.html and "font-size" not in content.html


def _with_pasted_picture(text: bytes, html_before_picture: bytes) -> bytes:
    """outlook_quotes_and_logo.eml with `text` above the quote of its text part, and a pasted picture
    after `html_before_picture` above the quote of its HTML part."""
    raw = (CONTENT / "outlook_quotes_and_logo.eml").read_bytes()
    raw = raw.replace(b"quoted-printable\r\n\r\nFrom: Store Support",
                      b"quoted-printable\r\n\r\n" + text + b"\r\n\r\nFrom: Store Support")
    raw = raw.replace(b"<p class=3D\"MsoNormal\"><o:p>&nbsp;<=\r\n/o:p></p>",
                      b"<p class=3D\"MsoNormal\">" + html_before_picture
                      + b"<img src=3D\"cid:image002.jpg@01DB3E5A.1C2D3E40\"></p>")
    return raw.replace(b"--_004_AM0PR07MB4401A1B2_--", (
        "--_004_AM0PR07MB4401A1B2_\r\nContent-Type: image/jpeg; name=\"image002.jpg\"\r\n"
        "Content-Disposition: inline; filename=\"image002.jpg\"\r\n"
        "Content-ID: <image002.jpg@01DB3E5A.1C2D3E40>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==\r\n\r\n--_004_AM0PR07MB4401A1B2_--").encode())


def test_a_forward_without_a_note_posts_the_forwarded_message():
    content = _content("gmail_forward_to_reply_address.eml")
    assert content.text == JAN
    assert "Forwarded message" in content.trimmed


def test_a_forward_with_a_note_posts_both_without_the_header_block():
    assert _content("outlook_forward_with_note.eml").text == f"See what Jan wrote below.\n\nOlivia\n\n{JAN}"


@pytest.mark.parametrize("name, forwarded", [
    ("gmail_inline.eml", "Hi Bob, the printer is still broken. My colleague Sam (sam@example.net) can\nconfirm."),
    ("apple_mail.eml", "The lamp arrived broken."),
    ("thunderbird.eml", "Hello, my kettle stopped working after two weeks."),
    ("outlook_web_html.eml", "Where is my order? Copy my assistant hal@example.org on the answer."),
    ("attached.eml", "Hi Bob, the printer is jammed again. Lee (lee@example.com) saw it too."),
])
def test_each_clients_forward_brings_the_forwarded_text(name, forwarded):
    text = _content(name, FORWARDS).text
    assert forwarded in text
    assert "Forwarded" not in text and "From:" not in text and "Subject:" not in text


def test_a_reply_with_an_outlook_header_block_is_no_forward():
    raw = (CONTENT / "outlook_forward_with_note.eml").read_bytes().replace(b"Subject: FW:", b"Subject: RE:")
    assert reply_content(parse_message(raw)).text == "See what Jan wrote below.\n\nOlivia"
