"""GATEWAY_NEW_TICKET_ALERTS: who hears of tickets that clients open by mail.

By default (`staff`, as the SPEC sets it) every staff and admin account gets the first post with
its own reply address; with `admins` only the admins; a reply from one of them posts, and from
then on that person takes part like any other. With `none`, SPEC rule 7 holds as written: a
ticket a client opened reaches no staff until one takes part."""

from __future__ import annotations

from support import account_id, make_mail, reply_to, show


def queued(gw) -> list[tuple[str, str]]:
    """(kind, recipient) of every copy the gateway has queued, oldest first."""
    from storage.models import OutboxMessage

    with gw.gateway.sessions() as session:
        return [(row.kind, row.recipient) for row in session.query(OutboxMessage).order_by(OutboxMessage.id)]


def open_by_mail(gw, sink, people) -> int:
    raw = make_mail(f"Olivia <{people.owner}>", "support@gw.test", "Where is my order?", "Order 1234 has not arrived.")
    assert gw.send(raw, people.owner, "support@gw.test").code == 250
    return gw.gateway.addresses.route(sink.wait_for(1, to=people.owner)[0].header("Reply-To")).ticket


def test_by_default_every_staff_member_hears_of_a_ticket_a_client_opened(gw, sink, people):
    open_by_mail(gw, sink, people)
    assert sorted(queued(gw)) == [("ack", people.owner), ("new_ticket_alert", people.admin),
                                  ("new_ticket_alert", people.staff)]


def test_with_none_no_staff_hears_of_a_ticket_a_client_opened(gateway_with, sink, people):
    running = gateway_with(new_ticket_alerts="none")
    open_by_mail(running, sink, people)
    assert queued(running) == [("ack", people.owner)]


def test_alerts_to_admins_go_to_admins_only(gateway_with, sink, people):
    running = gateway_with(new_ticket_alerts="admins")
    open_by_mail(running, sink, people)
    assert sorted(queued(running)) == [("ack", people.owner), ("new_ticket_alert", people.admin)]


def test_alerted_staff_answer_by_replying_and_then_take_part(gateway_with, sink, people):
    running = gateway_with()  # the default: staff
    ticket = open_by_mail(running, sink, people)
    alerts = {person: sink.wait_for(1, to=person)[0] for person in (people.admin, people.staff)}
    for person, alert in alerts.items():
        assert alert.header("Subject") == f"[#{ticket}] Where is my order?"
        assert alert.header("Auto-Submitted") == "auto-generated"
        assert f"opened ticket #{ticket}" in alert.text and "Order 1234 has not arrived." in alert.text
        route = running.gateway.addresses.route(alert.header("Reply-To"))
        assert route.ticket == ticket and route.account == account_id(running, person)

    raw, address = reply_to(alerts[people.staff], people.staff, "It left our warehouse today.")
    assert running.send(raw, people.staff, address).code == 250
    assert show(ticket)["status"] == "awaiting_client"
    assert "It left our warehouse today." in sink.wait_for(2, to=people.owner)[1].text

    before = len(queued(running))
    client_copy = sink.wait_for(2, to=people.owner)[1]
    raw, address = reply_to(client_copy, people.owner, "Thanks, it came.")
    assert running.send(raw, people.owner, address).code == 250
    # the staff member who answered takes part now; the admin, who did not, hears nothing more
    assert queued(running)[before:] == [("post", people.staff)]
