"""Every outbound template renders with all its variables, escapes user text in HTML and never
evaluates it as a template."""

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from gateway.config import REPO_ROOT
from gateway.outbox.queue import InviteResult
from gateway.outbox.render import Renderer

HOSTILE = "<b>Bold</b> & {{ 7*7 }} {% raw %}"
WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(REPO_ROOT / "templates", "Bean Store")


def person(name: str, email: str, staff: bool = False):
    return SimpleNamespace(name=name, email=email, role=SimpleNamespace(is_staff=staff))


def context(kind: str) -> dict:
    ticket = SimpleNamespace(id=12, subject=f"Survey {HOSTILE}")
    author = person(f"Eve {HOSTILE}", "eve@client.test")
    post = SimpleNamespace(author=author, body=f"Body {HOSTILE}\nsecond line", html=None, created_at=WHEN,
                           attachments=[SimpleNamespace(filename=f"{HOSTILE}.pdf", size=10)])
    base = dict(ticket=ticket, recipient=person(f"Dan {HOSTILE}", "dan@client.test"), post=post, delegate=None,
                can_reply=True, invite_address=None)
    extra = {
        "invite": dict(accept_url="http://gw.test/accept/3-abc", inviter=author, expires_at=WHEN),
        "accepted": dict(posts=[post, post]),
        "invite_confirmation": dict(invited=[InviteResult("a@client.test", HOSTILE)],
                                    refused=[InviteResult("b@client.test", refusal=HOSTILE)]),
        "notice": dict(original_subject=HOSTILE, refusals=[("r-1@gw.test", HOSTILE)]),
        "held": dict(held_sender=f"eve@client.test {HOSTILE}", held_reason=HOSTILE),
        "delivery_stopped": dict(stopped_address="dan@client.test", stopped_reason=f"hard bounce: {HOSTILE}"),
    }
    return base | extra.get(kind, {})


KINDS = ["post", "ticket_opened", "new_ticket_alert", "ack", "invite", "accepted", "invite_confirmation", "notice",
         "held", "delivery_stopped"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_message_renders_escaped_and_literal(renderer, kind):
    rendered = renderer.email(kind, **context(kind))
    assert "\n" not in rendered.subject and rendered.subject
    assert "<b>Bold</b>" not in rendered.html and "&lt;b&gt;Bold&lt;/b&gt;" in rendered.html
    assert "{{ 7*7 }}" in rendered.text and "49" not in rendered.text + rendered.html
    assert "<b>Bold</b>" in rendered.text  # the text part is shown as written


def test_the_invitation_text_has_the_accept_link_alone_on_a_line(renderer):
    lines = renderer.email("invite", **context("invite")).text.splitlines()
    assert "http://gw.test/accept/3-abc" in lines


def test_staff_see_their_invite_address_and_clients_do_not(renderer):
    staff_view = renderer.email("post", **(context("post") | {"invite_address": "i-12-1-xyz@gw.test"}))
    client_view = renderer.email("post", **context("post"))
    assert "i-12-1-xyz@gw.test" in staff_view.text and "i-12-1-xyz@gw.test" in staff_view.html
    assert "forward a message" not in client_view.text


def test_a_post_with_html_shows_its_formatting_and_nothing_that_can_act(renderer):
    ctx = context("post")
    ctx["post"].html = ('<p>Loved <b>the beans</b></p><script>alert(1)</script>'
                        '<img src="https://tracker.example/p.gif" onerror="alert(2)">')
    rendered = renderer.email("post", **ctx)
    assert "Loved <b>the beans</b>" in rendered.html
    assert "<script" not in rendered.html and "alert" not in rendered.html and "tracker.example" not in rendered.html
    assert "Body <b>Bold</b>" in rendered.text  # the text part keeps the post's text
