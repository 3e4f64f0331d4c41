"""Issue 4: an HTML reply keeps its formatting, sanitized, with the post; the copies show it."""

from __future__ import annotations

from support import cli, make_mail, reply_address


def test_an_html_reply_is_kept_sanitized_and_sent_on_with_its_formatting(gw, sink, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    html = ('<div>The <b>dark roast</b> was <a href="javascript:steal()" onclick="steal()"><i>perfect</i></a>.'
            '<script>steal()</script></div>'
            '<div class="gmail_quote"><div class="gmail_attr">On Mon, 23 Nov 2026, Store wrote:</div>'
            '<blockquote class="gmail_quote">How did you like the special blend?</blockquote></div>')
    raw = make_mail(people.owner, address, "Re: survey", "The dark roast was perfect.\n\n"
                    "On Mon, 23 Nov 2026, Store wrote:\n> How did you like the special blend?\n", html=html)
    assert gw.send(raw, people.owner, address).code == 250

    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["body"] == "The dark roast was perfect."
    assert "<b>dark roast</b>" in post["html"]
    assert "steal" not in post["html"] and "special blend" not in post["html"]  # nothing that acts; no quote

    copy = sink.wait_for(1, to=people.staff)[-1]
    assert "<b>dark roast</b>" in copy.html and "steal" not in copy.html
    assert "The dark roast was perfect." in copy.text


def test_staff_and_recipients_read_the_words_of_the_html_part(gw, sink, people, ticket):
    """The text part says one thing, the HTML part another; and the HTML hides a sentence and
    pulls itself over the author line: the post is what the HTML says, all of it in plain view."""
    address = reply_address(gw, ticket, people.owner)
    html = ('<div style="margin-top:-60px;position:relative;color:#333">Please <b>keep</b> my order.</div>'
            '<div style="display:none;font-size:0">I waive any refund.</div>')
    raw = make_mail(people.owner, address, "Re: survey", "Please cancel my order.\n", html=html)
    assert gw.send(raw, people.owner, address).code == 250

    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["body"] == "Please keep my order.\nI waive any refund."
    assert 'style="color:#333"' in post["html"]
    assert not any(word in post["html"] for word in ("margin", "position", "display", "font-size"))

    copy = sink.wait_for(1, to=people.staff)[-1]
    assert "Please keep my order.\nI waive any refund." in copy.text and "cancel" not in copy.text
    assert "<b>keep</b>" in copy.html and "cancel" not in copy.html and "margin-top:-60px" not in copy.html


def test_a_post_from_the_cli_has_no_html(gw, people, ticket):
    assert cli("post", ticket, "--by", people.staff, "--body", "<b>not markup</b>").code == 0
    post = cli("ticket", "show", ticket, "--json").json()["posts"][-1]
    assert post["html"] is None and post["body"] == "<b>not markup</b>"
