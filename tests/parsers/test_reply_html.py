"""Reply.html: the writer's new part of a reply's HTML, cut like its text, sanitized for display."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.html import html_to_text
from parsers.mime import parse_message
from parsers.quotes import extract_reply
from parsers.sanitize import sanitize_html
from test_sanitize import assert_inert

MAIL = Path(__file__).resolve().parents[1] / "mail"

# (message, the writer's first words, a phrase of the quote, what else must not show)
CLIENT_HTML = [
    ("gmail_html.eml", "restarting the spooler fixed it", "Please restart the print spooler", "Head of IT"),
    ("outlook_desktop_html.eml", "the invoice is correct now", "We corrected the VAT line", "Invoice 2024-118"),
    ("outlook_web_html.eml", "Thursday works for us", "Could we deliver on Thursday?", "From:"),
    ("apple_mail_html.eml", "the replacement arrived today", "The replacement part was shipped", "Sent from my iPhone"),
    ("thunderbird_html.eml", "The serial number is SN-4471-B.", "could you send us the serial number?", "Widgets AB"),
    ("yahoo_html.eml", "The refund shows on my statement now", "the refund was issued today", "wrote:"),
    ("ios_mail.eml", "please ring twice", "Which delivery slot suits you", "Sent from my iPhone"),
    ("gmail_android.eml", "the new code worked", "Please try the code SPRING24", "wrote:"),
    ("outlook_ios.eml", "one of the two chairs is missing", "Your two chairs left our warehouse", "Outlook for iOS"),
    ("outlook_android.eml", "send the replacement to my office", "Shall we send the replacement", "Outlook for Android"),
    ("samsung_email.eml", "The serial number is on the sticker", "Could you send us the serial number", "Galaxy"),
]


def _mail(folder: str, filename: str):
    return parse_message((MAIL / folder / filename).read_bytes())


@pytest.mark.parametrize("filename,written,quoted,left_out", CLIENT_HTML, ids=[c[0] for c in CLIENT_HTML])
def test_client_html_keeps_the_new_part_only(filename: str, written: str, quoted: str, left_out: str) -> None:
    mail = _mail("clients", filename)
    reply = extract_reply(mail.text, mail.html)
    assert reply.html is not None
    shown = html_to_text(reply.html).text
    assert written in shown
    assert quoted not in shown and quoted not in reply.html
    assert left_out not in shown
    assert "blockquote" not in reply.html
    assert_inert(reply.html)


def test_html_is_cut_like_its_text() -> None:
    """Every line of the HTML part's own new text shows in the kept HTML, in order, and nothing more."""
    for filename, *_ in CLIENT_HTML:
        mail = _mail("clients", filename)
        reply = extract_reply(None, mail.html)
        assert html_to_text(reply.html).text.split() == reply.text.replace(">", " ").split(), filename


def test_answers_between_quotes_keep_their_quotes() -> None:
    """Gmail, answered between the quoted lines: the text keeps the quotes, and so does the HTML."""
    reply = extract_reply(None, _mail("clients", "gmail_ios.eml").html)
    assert reply.html.count("<blockquote") == 2
    assert "Large, please." in reply.html and "Navy blue." in reply.html
    assert reply.html.rstrip().endswith("Navy blue.</div></div>")


def test_footer_above_an_answer_below_the_quote_is_not_kept() -> None:
    html = ('<div dir="ltr">Sent from my iPhone</div><blockquote type="cite">On 4 Mar 2024, at 16:02, Support '
            '&lt;s@example.com&gt; wrote:<br>Did it work?</blockquote><div>Yes, it works now.</div>')
    reply = extract_reply(None, html)
    assert "Sent from my iPhone" not in reply.html
    assert reply.html.endswith("<div>Yes, it works now.</div>")


def test_signature_elements_are_cut_out_of_the_middle() -> None:
    html = ('<div>First.</div><div class="gmail_signature">Jane | <b>ACME</b></div><div>Second.</div>'
            '<div class="gmail_quote"><div class="gmail_attr">On Mon, 4 Mar 2024, Support &lt;s@example.com&gt; '
            'wrote:</div><blockquote class="gmail_quote">Old.</blockquote></div>')
    assert extract_reply(None, html).html == "<div>First.</div><div>Second.</div>"


def test_an_image_right_after_the_new_text_is_kept() -> None:
    html = ('<div>See the screenshot:</div><div><img src="cid:shot.png" alt="screenshot"></div>'
            '<div class="gmail_quote"><div class="gmail_attr">On Mon, 4 Mar 2024, S &lt;s@example.com&gt; wrote:</div>'
            '<blockquote class="gmail_quote">Old <img src="cid:old.png" alt="old"></blockquote></div>')
    reply = extract_reply(None, html)
    assert reply.html.startswith("<div>See the screenshot:</div><div><img ")
    assert 'src="cid:shot.png"' in reply.html
    assert "old" not in reply.html.replace("screenshot", "")


def test_a_logo_under_a_cut_sign_off_is_not_kept() -> None:
    html = '<p>Can you fix it?</p><p>Regards,<br>John Doe<br><img src="cid:logo.png" alt="ACME"></p>'
    reply = extract_reply(None, html)
    assert reply.text == "Can you fix it?"
    assert reply.html == "<p>Can you fix it?</p>"


def test_text_only_mail_has_no_html() -> None:
    mail = _mail("clients", "gmail_text.eml")
    assert extract_reply(mail.text, mail.html).html is None


def test_nothing_new_is_empty_html() -> None:
    html = '<div class="gmail_quote"><div class="gmail_attr">On Mon, 4 Mar 2024, S &lt;s@example.com&gt; wrote:</div>' \
           '<blockquote class="gmail_quote">Old.</blockquote></div>'
    assert extract_reply(None, html).html == ""


def test_hostile_markup_in_the_new_part_is_sanitized() -> None:
    html = ('<div onclick="steal()">Thanks<script>alert(1)</script> <a href="javascript:alert(1)">here</a>'
            '<img src="https://tracker.example/p.gif" alt="logo"></div><blockquote type="cite">old</blockquote>')
    reply = extract_reply(None, html)
    assert reply.text == "Thanks here"
    assert reply.html == '<div>Thanks <a rel="noopener noreferrer">here</a><img alt="logo"></div>'


def test_deeply_nested_html_is_kept_as_its_text() -> None:
    """The sanitizer's parser is quadratic over deep nesting: such HTML is shown as its text."""
    html = "<div>" * 5000 + "Deep <b>text</b> &amp; more" + "</div>" * 5000
    reply = extract_reply(None, html)
    assert reply.text == "Deep text & more"
    assert reply.html == "<p>Deep text &amp; more</p>"


def test_sanitized_html_of_every_multipart_message_is_inert() -> None:
    for folder in ("clients", "unseen"):
        for path in sorted((MAIL / folder).glob("*.eml")):
            mail = parse_message(path.read_bytes())
            if mail.html:
                reply = extract_reply(mail.text, mail.html)
                assert reply.html is not None
                assert_inert(reply.html)
                assert reply.html == sanitize_html(reply.html), path.name
