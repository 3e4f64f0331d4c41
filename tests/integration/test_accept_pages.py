"""SPEC rule 6 and "HTTP": the accept link over real HTTP."""

from __future__ import annotations

import json
import urllib.request

import pytest

from support import accept_link, cli, http, nonce_of

pytestmark = pytest.mark.usefixtures("gw")


@pytest.fixture
def link(sink, people, ticket) -> str:
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    return accept_link(sink.wait_for(1, to=people.delegate)[0])


def status_of(ticket: int, clock=None) -> list[str]:
    return [d["status"] for d in cli("delegate", "list", ticket, "--all", "--json", clock=clock).json()]


def test_get_shows_who_invited_to_what_and_changes_nothing(link, ticket, sink, people):
    for _ in range(3):  # a mail scanner may open the link several times
        page = http("GET", link)
        assert page.status == 200
        assert "Special blend survey" in page.body and "Sam Staff" in page.body
        assert page.body.count("<form") == 1 and 'method="post"' in page.body
    assert page.headers["Cache-Control"] == "no-store"
    assert status_of(ticket) == ["invited"]
    assert len(sink.to(people.delegate)) == 1


def test_post_accepts_once(link, ticket, sink, people):
    nonce = nonce_of(http("GET", link).body)
    done = http("POST", link, {"nonce": nonce})
    assert done.status == 200 and "You're in" in done.body
    assert status_of(ticket) == ["accepted"]
    again = http("POST", link, {"nonce": nonce})
    assert again.status == 410 and "already accepted" in again.body
    assert http("GET", link).status == 410
    sink.wait_for(2, to=people.delegate)
    assert len(sink.to(people.delegate)) == 2  # invitation + thread so far, once


def test_post_without_the_pages_nonce_is_forbidden(link, ticket):
    assert http("POST", link, {}).status == 403
    assert http("POST", link, {"nonce": "0" * 20}).status == 403
    assert status_of(ticket) == ["invited"]


@pytest.mark.parametrize("tamper", [
    lambda url: url[:-1] + ("a" if url[-1] != "a" else "b"),   # the MAC changed
    lambda url: url.replace("/accept/1-", "/accept/2-"),       # another invitation's number
    lambda url: url.rsplit("/", 1)[0] + "/garbage",
])
def test_tampered_links_get_404_and_change_nothing(link, ticket, tamper):
    bad = tamper(link)
    page = http("GET", bad)
    assert page.status == 404 and "not valid" in page.body
    assert http("POST", bad, {"nonce": nonce_of(http("GET", link).body)}).status == 404
    assert status_of(ticket) == ["invited"]


def test_links_expire_after_seven_days(link, ticket, clock):
    nonce = nonce_of(http("GET", link).body)
    clock.advance(days=6, hours=23)
    assert http("GET", link).status == 200
    clock.advance(hours=2)
    page = http("GET", link)
    assert page.status == 410 and "expired" in page.body
    assert http("POST", link, {"nonce": nonce}).status == 410
    assert cli("delegate", "list", ticket, "--json", clock=clock).json() == []
    assert status_of(ticket, clock) == ["expired"]
    assert status_of(ticket) == ["invited"]  # on today's clock the same invitation is still open


def test_health_reports_database_and_outbox(gw):
    with urllib.request.urlopen(gw.url("/healthz"), timeout=10) as response:
        body = json.loads(response.read())
    assert response.status == 200
    assert body["status"] == "ok" and body["database"] == "ok" and "pending" in body["outbox"]


def test_concurrent_posts_accept_exactly_once(gw, link, ticket, sink, people):
    from concurrent.futures import ThreadPoolExecutor

    nonce = nonce_of(http("GET", link).body)
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(lambda _: http("POST", link, {"nonce": nonce}).status, range(10)))
    assert statuses == [200] + [410] * 9
    assert status_of(ticket) == ["accepted"]
    from storage.models import OutboxMessage

    with gw.gateway.sessions() as session:
        assert session.query(OutboxMessage).filter_by(kind="accepted").count() == 1  # one thread-so-far mail


def test_no_page_redirects(link):
    for method, form in (("GET", None), ("POST", {"nonce": nonce_of(http("GET", link).body)}), ("POST", {})):
        for url in (link, link + "x", link.replace("/accept/", "/accept//")):
            status = http(method, url, form).status
            assert not 300 <= status < 400, (method, url, status)
