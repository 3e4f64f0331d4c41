"""SPEC "Rules" 1-10, each through the real interfaces: CLI, SMTP in, the relay sink, HTTP."""

from __future__ import annotations

import pytest

from support import (accept_link, account_id, cli, delegates, http, inbound, invite_and_accept, make_mail, nonce_of,
                     reply_address, reply_to, show)

pytestmark = pytest.mark.usefixtures("gw")


# --- rule 1: only staff invite or revoke, by every channel ----------------------------------

def test_client_cannot_invite_or_revoke_from_the_cli(people, ticket):
    result = cli("delegate", "invite", ticket, people.delegate, "--by", people.owner)
    assert result.code == 1
    assert result.err.count("\n") == 1 and "Only staff and admins can invite" in result.err
    assert delegates(ticket) == {}
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    result = cli("delegate", "revoke", ticket, people.delegate, "--by", people.owner)
    assert result.code == 1 and "Only staff and admins can revoke" in result.err
    assert delegates(ticket) == {people.delegate: "invited"}


def test_client_cannot_invite_by_forwarding_mail(gw, people, ticket):
    address = gw.gateway.addresses.invite_address(ticket, account_id(gw, people.owner))
    raw = make_mail(people.owner, address, "Fwd: hi", f"please add {people.other}")
    result = gw.send(raw, people.owner, address)
    assert result.code == 550 and "Only staff and admins can invite" in result.message
    assert delegates(ticket) == {}


# --- rule 2: delegates have a store account -------------------------------------------------

def test_inviting_an_address_without_account_is_refused_naming_it(people, ticket):
    result = cli("delegate", "invite", ticket, "nobody@nowhere.test", "--by", people.staff)
    assert result.code == 1 and "nobody@nowhere.test" in result.err and "no store account" in result.err
    assert delegates(ticket) == {}


def test_operator_can_let_invitations_create_client_accounts(monkeypatch, people, ticket, sink):
    monkeypatch.setenv("GATEWAY_CREATE_INVITEE_ACCOUNTS", "yes")
    result = cli("delegate", "invite", ticket, "new.person@client.test", "--by", people.staff, "--json")
    assert result.code == 0, result.err
    assert result.json()["name"] == "New Person"
    roles = {a["email"]: a["role"] for a in cli("account", "list", "--json").json()}
    assert roles["new.person@client.test"] == "client"
    sink.wait_for(1, to="new.person@client.test")


# --- rule 3: any active ticket, never a closed one ----------------------------------------

def test_any_active_ticket_can_have_delegates_whoever_opened_it(gw, sink, people):
    raw = make_mail(people.owner, "support@gw.test", "My grinder is broken", "It makes a noise.")
    assert gw.send(raw, people.owner, "support@gw.test").code == 250
    number = cli("ticket", "list", "--json").json()[-1]["number"]
    assert cli("delegate", "invite", number, people.delegate, "--by", people.admin).code == 0
    assert delegates(number) == {people.delegate: "invited"}


def test_inviting_to_a_closed_ticket_is_refused(people, ticket):
    assert cli("ticket", "close", ticket, "--by", people.staff).code == 0
    result = cli("delegate", "invite", ticket, people.delegate, "--by", people.staff)
    assert result.code == 1 and "closed" in result.err
    assert delegates(ticket) == {}


# --- rule 4: the invitation -------------------------------------------------------------------

def test_invitation_mails_an_accept_link_and_lists_the_invitee(sink, people, ticket):
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    invite = sink.wait_for(1, to=people.delegate)[0]
    assert invite.header("Subject") == f'[#{ticket}] Sam Staff invited you to "Special blend survey"'
    assert accept_link(invite).startswith("http://127.0.0.1:")
    listed = cli("delegate", "list", ticket, "--json").json()
    assert [(d["email"], d["name"], d["status"]) for d in listed] == [(people.delegate, "Dan Delegate", "invited")]
    assert show(ticket)["delegates"] == [{"email": people.delegate, "name": "Dan Delegate", "status": "invited"}]


# --- rule 5: nothing happens until the invitee accepts -----------------------------------

def test_invitee_gets_no_posts_and_their_reply_points_to_the_accept_link(gw, sink, people, ticket):
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    sink.wait_for(1, to=people.delegate)
    assert cli("post", ticket, "--by", people.staff, "--body", "Second question").code == 0
    sink.wait_for(2, to=people.owner)  # the first post and this one reached the owner
    assert len(sink.to(people.delegate)) == 1  # the invitation only

    invitation = sink.to(people.delegate)[0]
    raw, address = reply_to(invitation, people.delegate, "I love it")  # replying to the invitation itself
    assert address == reply_address(gw, ticket, people.delegate)
    result = gw.send(raw, people.delegate, address)
    assert result.code == 550
    assert "not accepted your invitation" in result.message and "accept link" in result.message
    assert cli("ticket", "list", "--json").json()[-1]["number"] == ticket  # and no new ticket was opened
    assert [p["body"] for p in show(ticket)["posts"]] == ["How did you like the special blend?", "Second question"]


# --- rule 6: accepting ------------------------------------------------------------------------

def test_accepting_sends_the_thread_so_far_oldest_first(gw, sink, people, ticket):
    assert cli("post", ticket, "--by", people.owner, "--body", "It was great!").code == 0
    invite_and_accept(sink, people, ticket)
    assert delegates(ticket) == {people.delegate: "accepted"}
    thread = sink.wait_for(2, to=people.delegate)[1]
    text = thread.text
    first, second = text.index("How did you like the special blend?"), text.index("It was great!")
    assert first < second
    assert gw.gateway.addresses.route(thread.header("Reply-To")).account == account_id(gw, people.delegate)


# --- rule 7: fan-out ----------------------------------------------------------------------------

def test_a_post_reaches_everyone_with_access_except_its_author(gw, sink, people, ticket):
    invite_and_accept(sink, people, ticket)
    assert cli("delegate", "invite", ticket, people.other, "--by", people.admin).code == 0  # invited only
    sink.wait_for(1, to=people.other)
    sink.clear()
    assert cli("post", ticket, "--by", people.owner, "--body", "Could be stronger.").code == 0
    sink.wait_for(1, to=people.admin)
    sink.wait_for(1, to=people.delegate)
    sink.wait_for(1, to=people.staff)
    got = {m.to: m for m in sink.received}
    assert set(got) == {people.admin, people.delegate, people.staff}  # not the author, not the invitee
    reply_addresses = {m.header("Reply-To") for m in got.values()}
    assert len(reply_addresses) == 3
    for recipient, message in got.items():
        assert gw.gateway.addresses.route(message.header("Reply-To")).account == account_id(gw, recipient)
        assert "Could be stronger." in message.text


# --- rule 8: replies become posts ------------------------------------------------------------

def test_a_delegate_reply_is_trimmed_posted_and_sets_client_replied(gw, sink, people, ticket):
    invite_and_accept(sink, people, ticket)
    thread = sink.wait_for(2, to=people.delegate)[1]
    raw, address = reply_to(thread, people.delegate, "The blend was fruity and bright.")
    result = gw.send(raw, people.delegate, address)
    assert result.code == 250, result.message
    ticket_data = show(ticket)
    assert ticket_data["status"] == "client_replied"
    last = ticket_data["posts"][-1]
    assert (last["author"], last["body"], last["source"]) == (
        people.delegate, "The blend was fruity and bright.", "email")
    with gw.gateway.sessions() as session:
        from storage.models import Post
        stored = session.query(Post).order_by(Post.id.desc()).first()
        assert "How did you like the special blend?" in stored.trimmed  # the quote, kept for audit


def test_staff_reply_by_mail_sets_awaiting_client_and_reopens_closed_tickets(gw, sink, people, ticket):
    assert cli("post", ticket, "--by", people.owner, "--body", "Any news?").code == 0
    notification = sink.wait_for(1, to=people.staff)[0]
    assert cli("ticket", "close", ticket, "--by", people.staff).code == 0
    raw, address = reply_to(notification, people.staff, "Yes, shipping tomorrow.")
    assert gw.send(raw, people.staff, address).code == 250
    assert show(ticket)["status"] == "awaiting_client"


def test_a_reply_with_nothing_new_is_refused(gw, sink, people, ticket):
    notification = sink.wait_for(1, to=people.owner)[0]
    raw, address = reply_to(notification, people.owner, "")
    result = gw.send(raw, people.owner, address)
    assert result.code == 550 and "Nothing new in your reply" in result.message
    assert len(show(ticket)["posts"]) == 1


# --- rule 9: revoking -----------------------------------------------------------------------------

def test_revoke_is_immediate_mail_replies_and_link(gw, sink, people, ticket):
    invite_and_accept(sink, people, ticket)
    thread = sink.wait_for(2, to=people.delegate)[1]
    sink.fail_next("451 4.3.0 relay busy", "451 4.3.0 relay busy")  # what is queued now waits in the outbox
    assert cli("post", ticket, "--by", people.staff, "--body", "For the eyes of all").code == 0
    assert cli("delegate", "revoke", ticket, people.delegate, "--by", people.staff).code == 0
    sink.wait_for(2, to=people.owner)  # the owner still gets the post once the relay recovers
    assert len(sink.to(people.delegate)) == 2  # invitation + thread; never the post after the revoke
    raw, address = reply_to(thread, people.delegate, "Still here?")
    result = gw.send(raw, people.delegate, address)
    assert result.code == 550 and "revoked" in result.message
    assert delegates(ticket) == {}
    assert delegates(ticket, "--all") == {people.delegate: "revoked"}


def test_a_revoked_invitation_link_is_dead(sink, people, ticket):
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    link = accept_link(sink.wait_for(1, to=people.delegate)[0])
    nonce = nonce_of(http("GET", link).body)
    assert cli("delegate", "revoke", ticket, people.delegate, "--by", people.staff).code == 0
    assert http("GET", link).status == 410
    assert http("POST", link, {"nonce": nonce}).status == 410
    assert delegates(ticket, "--all") == {people.delegate: "revoked"}


def test_revoked_people_can_be_invited_again_with_a_new_link(sink, people, ticket):
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    old = accept_link(sink.wait_for(1, to=people.delegate)[0])
    assert cli("delegate", "revoke", ticket, people.delegate, "--by", people.staff).code == 0
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    new = accept_link(sink.wait_for(2, to=people.delegate)[1])
    assert new != old and http("GET", old).status == 410
    assert http("POST", new, {"nonce": nonce_of(http("GET", new).body)}).status == 200
    assert delegates(ticket) == {people.delegate: "accepted"}


# --- rule 10: the support address -------------------------------------------------------------

def test_a_client_writing_to_support_opens_a_ticket_and_gets_an_acknowledgement(gw, sink, people):
    raw = make_mail(f"Olivia <{people.owner}>", "support@gw.test", "Re: Where is my order?",
                    "Order 1234 has not arrived.\n\n-- \nOlivia\nSent from my phone")
    result = gw.send(raw, people.owner, "support@gw.test")
    assert result.code == 250
    tickets = cli("ticket", "list", "--json").json()
    assert [(t["subject"], t["owner"], t["status"]) for t in tickets] == [("Where is my order?", people.owner, "open")]
    assert show(tickets[0]["number"])["posts"][0]["body"] == "Order 1234 has not arrived."
    ack = sink.wait_for(1, to=people.owner)[0]
    assert ack.header("Auto-Submitted") == "auto-generated"
    assert gw.gateway.addresses.route(ack.header("Reply-To")).ticket == tickets[0]["number"]


def test_staff_and_unknown_senders_cannot_open_tickets_by_mail_and_a_stranger_cannot_tell_which(gw, people):
    replies = [gw.send(make_mail(sender, "support@gw.test", "Help", "Please help"), sender, "support@gw.test")
               for sender in (people.staff, "stranger@else.test")]
    assert replies[0].code == replies[1].code == 550 and replies[0].message == replies[1].message
    assert "write from that address" in replies[0].message and "from the CLI or the API" in replies[0].message
    assert people.staff not in replies[0].message and "stranger" not in replies[1].message
    assert cli("ticket", "list", "--json").json() == []
    recorded = {i["sender"]: i["reason"] for i in inbound()}  # staff see the exact reason
    assert "is a staff account" in recorded[people.staff]
    assert "stranger@else.test has no store account" in recorded["stranger@else.test"]


def test_operator_can_let_unknown_senders_open_tickets(gateway_with, sink, people):
    second = gateway_with(create_sender_accounts="true")
    raw = make_mail("new.client@else.test", "support@gw.test", "Hello", "First time here")
    assert second.send(raw, "new.client@else.test", "support@gw.test").code == 250
    assert cli("ticket", "list", "--json").json()[0]["owner"] == "new.client@else.test"
