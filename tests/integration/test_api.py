"""The HTTP API (SPEC: staff invite and revoke "over the API"): the same rules as every other
channel, a bearer token per account, JSON in and out."""

from __future__ import annotations

import pytest

from support import api, api_token, cli, delegates, invite_and_accept, outbox_status, posts, show, wait_until


@pytest.fixture
def staff_token(people) -> str:
    return api_token(people.staff)


def test_staff_open_a_ticket_and_the_owner_is_mailed(gw, sink, people, staff_token):
    result = api(gw, "POST", "/api/tickets", staff_token,
                 {"owner": people.owner, "subject": "Your order", "body": "It ships tomorrow."})
    assert result.status == 201
    number = result.json()["number"]
    assert result.json()["status"] == "open" and result.json()["creator"] == people.staff
    assert "It ships tomorrow." in sink.wait_for(1, to=people.owner)[0].text
    assert posts(number)[0]["source"] == "api"


def test_staff_invite_and_revoke_over_the_api_at_once(gw, sink, people, ticket, staff_token):
    invited = api(gw, "POST", f"/api/tickets/{ticket}/delegates", staff_token, {"email": people.delegate})
    assert invited.status == 201 and invited.json()["status"] == "invited"
    assert "/accept/" in sink.wait_for(1, to=people.delegate)[0].text
    assert delegates(ticket) == {people.delegate: "invited"}
    listed = api(gw, "GET", f"/api/tickets/{ticket}/delegates", staff_token)
    assert [(d["email"], d["status"]) for d in listed.json()] == [(people.delegate, "invited")]

    revoked = api(gw, "DELETE", f"/api/tickets/{ticket}/delegates/{people.delegate}", staff_token)
    assert revoked.status == 200 and revoked.json()["status"] == "revoked"
    assert delegates(ticket) == {}


def test_a_revoke_stops_the_copies_not_yet_sent(gw, sink, people, ticket, staff_token):
    invite_and_accept(sink, people, ticket)
    sink.wait_for(2, to=people.delegate)  # the invitation and the thread so far
    sink.fail_next("451 4.3.0 relay busy", "451 4.3.0 relay busy")  # what is queued now waits in the outbox
    assert api(gw, "POST", f"/api/tickets/{ticket}/posts", staff_token, {"body": "News"}).status == 201
    assert api(gw, "DELETE", f"/api/tickets/{ticket}/delegates/{people.delegate}", staff_token).status == 200
    assert "News" in sink.wait_for(2, to=people.owner)[-1].text  # the owner gets it once the relay recovers
    # cancelled by the revoke, or by the courier's re-check if it had already claimed the copy
    wait_until(lambda: outbox_status(gw, people.delegate)[-1] == "cancelled", what="the delegate's copy cancelled")
    assert not any("News" in m.text for m in sink.to(people.delegate))


@pytest.mark.parametrize("call", [
    ("POST", "/delegates", {"email": "dan@client.test"}),
    ("DELETE", "/delegates/dan@client.test", None),
])
def test_a_client_cannot_invite_or_revoke_over_the_api(gw, people, ticket, call):
    method, path, payload = call
    result = api(gw, method, f"/api/tickets/{ticket}{path}", api_token(people.owner), payload)
    assert result.status == 403
    assert result.json()["error"] == "not_staff" and people.owner in result.json()["message"]
    assert delegates(ticket) == {}


def test_rule_refusals_are_clear_and_change_nothing(gw, people, ticket, staff_token):
    unknown = api(gw, "POST", f"/api/tickets/{ticket}/delegates", staff_token, {"email": "ghost@nowhere.test"})
    assert unknown.status == 422 and "ghost@nowhere.test" in unknown.json()["message"]
    assert api(gw, "POST", f"/api/tickets/{ticket}/close", staff_token).status == 200
    closed = api(gw, "POST", f"/api/tickets/{ticket}/delegates", staff_token, {"email": people.delegate})
    assert (closed.status, closed.json()["error"]) == (409, "ticket_closed")
    missing = api(gw, "GET", "/api/tickets/99999999999999999999", staff_token)
    assert (missing.status, missing.json()["error"]) == (404, "no_such_ticket")
    assert delegates(ticket) == {}


def test_who_may_read_a_ticket(gw, people, ticket):
    assert api(gw, "GET", f"/api/tickets/{ticket}", api_token(people.owner)).json()["number"] == ticket
    stranger = api(gw, "GET", f"/api/tickets/{ticket}", api_token(people.other))
    assert (stranger.status, stranger.json()["error"]) == (403, "no_access")


def test_a_client_posts_and_the_status_follows(gw, sink, people, ticket):
    result = api(gw, "POST", f"/api/tickets/{ticket}/posts", api_token(people.owner), {"body": "Loved it"})
    assert result.status == 201 and result.json()["status"] == "client_replied"
    assert "Loved it" in sink.wait_for(1, to=people.staff)[-1].text


@pytest.mark.parametrize("token", [None, "gwt_not-a-real-token", "Basic abc"])
def test_no_valid_token_no_access(gw, people, ticket, token):
    result = api(gw, "GET", f"/api/tickets/{ticket}", token)
    assert result.status == 401 and result.json()["error"] == "unauthorized"


def test_a_revoked_token_stops_working_at_once(gw, people, ticket, staff_token):
    assert api(gw, "GET", f"/api/tickets/{ticket}", staff_token).status == 200
    token_id = cli("api-token", "list", "--json").json()[0]["id"]
    assert cli("api-token", "revoke", token_id).code == 0
    assert api(gw, "GET", f"/api/tickets/{ticket}", staff_token).status == 401
    assert "gwt_" not in cli("api-token", "list").out  # only hashes are kept


@pytest.mark.parametrize("body, status, error", [
    (b"not json", 400, "bad_json"),
    (b"[1, 2]", 400, "bad_json"),
    (b'{"body": 5}', 422, "invalid_input"),
    (b'{"body": "   "}', 422, "invalid_input"),
])
def test_bad_bodies_get_a_clear_error_and_change_nothing(gw, people, ticket, staff_token, body, status, error):
    result = api(gw, "POST", f"/api/tickets/{ticket}/posts", staff_token, body=body)
    assert (result.status, result.json()["error"]) == (status, error)
    assert len(show(ticket)["posts"]) == 1


def test_deep_json_is_refused_after_the_token_is_checked(gw, people, ticket, staff_token):
    deep = b'{"body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert api(gw, "POST", f"/api/tickets/{ticket}/posts", "gwt_not-a-real-token", body=deep).status == 401
    result = api(gw, "POST", f"/api/tickets/{ticket}/posts", staff_token, body=deep)
    assert (result.status, result.json()["error"]) == (400, "bad_json")
    assert "nested too deeply" in result.json()["message"]
    nested = {"body": "Still fine", "extra": [[[["brackets [[[ in strings do not count"]]]]}
    assert api(gw, "POST", f"/api/tickets/{ticket}/posts", staff_token, nested).status == 201
    assert [p["body"] for p in posts(ticket)][1:] == ["Still fine"]


def test_a_number_too_long_to_read_is_a_bad_body(gw, people, ticket, staff_token):
    result = api(gw, "POST", f"/api/tickets/{ticket}/posts", staff_token, body=b'{"n": ' + b"9" * 5000 + b"}")
    assert (result.status, result.json()["error"]) == (400, "bad_json")


def test_control_characters_leave_a_subject_once_so_stored_and_sent_agree(gw, sink, people, staff_token):
    result = api(gw, "POST", "/api/tickets", staff_token,
                 {"owner": people.owner, "subject": "Your\x00 order\x1b[2J\r\nBcc: eve@evil.test\x9b", "body": "Hi"})
    assert result.status == 201
    stored = show(result.json()["number"])["subject"]
    assert stored == "Your order[2J Bcc: eve@evil.test"
    sent = sink.wait_for(1, to=people.owner)[0].header("Subject")
    assert sent.endswith(stored) and "\x00" not in sent and "\x1b" not in sent


def test_an_invitee_account_made_over_the_api_needs_an_ascii_local_part(gateway_with, sink, people, ticket,
                                                                         staff_token):
    running = gateway_with(create_invitee_accounts=True)
    refused = api(running, "POST", f"/api/tickets/{ticket}/delegates", staff_token, {"email": "zoë@client.test"})
    assert (refused.status, refused.json()["error"]) == (422, "invalid_input")
    assert "the part before the @ must be ASCII" in refused.json()["message"]
    invited = api(running, "POST", f"/api/tickets/{ticket}/delegates", staff_token, {"email": "zoe@Bücher.test"})
    assert invited.status == 201, invited.json()
    assert "/accept/" in sink.wait_for(1, to="zoe@xn--bcher-kva.test")[0].text
    assert delegates(ticket) == {"zoe@xn--bcher-kva.test": "invited"}
    assert "zoë@client.test" not in [a["email"] for a in cli("account", "list", "--json").json()]
