"""SPEC "Interfaces for people and scripts": every command, --json, and the exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import cli, make_mail

# what a terminal acts on (clear screen, set the title, CSI in C1 form) or what reorders a line
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\x9d", "\r", "\u202e", "\u2066")


def test_account_add_and_list(env):
    result = cli("account", "add", "Ada@Store.test", "--name", "Ada Admin", "--role", "admin", "--json")
    assert result.code == 0 and result.json() == {"email": "ada@store.test", "name": "Ada Admin", "role": "admin"}
    assert cli("account", "list", "--json").json() == [{"email": "ada@store.test", "name": "Ada Admin", "role": "admin",
                                                      "delivery": "ok"}]
    plain = cli("account", "list").out
    assert "ada@store.test" in plain and "admin" in plain


def test_emails_are_unique_whatever_their_case(env):
    assert cli("account", "add", "ada@store.test", "--name", "Ada", "--role", "admin").code == 0
    result = cli("account", "add", "ADA@store.TEST", "--name", "Ada 2", "--role", "staff")
    assert result.code == 1 and result.err == "error: ada@store.test already has an account.\n"


def test_ticket_create_prints_the_number_and_show_gives_the_spec_fields(people):
    result = cli("ticket", "create", "--owner", people.owner, "--by", people.staff, "--subject", "Beans",
                 "--body", "Hello")
    assert result.code == 0 and result.out.strip().isdigit()
    number = int(result.out)
    data = cli("ticket", "show", number, "--json").json()
    assert {"number", "subject", "status", "owner", "delegates", "posts"} <= set(data)
    assert (data["number"], data["subject"], data["status"], data["owner"]) == (number, "Beans", "open", people.owner)
    assert data["delegates"] == []
    assert [{k: p[k] for k in ("author", "body", "source")} for p in data["posts"]] == [
        {"author": people.staff, "body": "Hello", "source": "cli"}]
    assert data["posts"][0]["created_at"]
    assert cli("ticket", "list", "--json").json() == [
        {"number": number, "subject": "Beans", "status": "open", "owner": people.owner}]


def test_ticket_addresses_for_staff_and_clients(people, ticket):
    staff = cli("ticket", "addresses", ticket, "--for", people.staff, "--json").json()
    assert staff["reply_address"].startswith("r-") and staff["invite_address"].startswith("i-")
    owner = cli("ticket", "addresses", ticket, "--for", people.owner, "--json").json()
    assert owner["reply_address"] != staff["reply_address"] and owner["invite_address"] is None
    refused = cli("ticket", "addresses", ticket, "--for", people.other)
    assert refused.code == 1 and "has no access" in refused.err


def test_close_post_and_statuses(people, ticket):
    result = cli("post", ticket, "--by", people.owner, "--body", "From the owner", "--json")
    assert result.code == 0 and result.json()["status"] == "client_replied"
    assert cli("post", ticket, "--by", people.staff, "--body", "From staff", "--json").json()["status"] == "awaiting_client"
    assert cli("ticket", "close", ticket, "--by", people.staff, "--json").json()["status"] == "closed"
    assert cli("post", ticket, "--by", people.owner, "--body", "Reopen", "--json").json()["status"] == "client_replied"
    denied = cli("post", ticket, "--by", people.other, "--body", "Let me in")
    assert denied.code == 1 and "has no access to ticket" in denied.err


def test_refusals_exit_1_with_one_line_on_stderr(people, ticket):
    for args in (("ticket", "show", 999), ("delegate", "revoke", ticket, people.delegate, "--by", people.staff),
                 ("post", ticket, "--by", "nobody@x.test", "--body", "hi"),
                 ("account", "add", "not-an-address", "--name", "X", "--role", "client")):
        result = cli(*args)
        assert result.code == 1, args
        assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
        assert result.out == ""


@pytest.mark.parametrize("args", [
    (), ("ticket",), ("ticket", "show"), ("ticket", "show", "abc"),
    ("account", "add", "x@y.test", "--name", "X", "--role", "king"), ("delegate", "invite", "1", "x@y.test"),
])
def test_usage_errors_exit_2(env, args):
    assert cli(*args).code == 2


def test_bad_configuration_exits_2(monkeypatch, env):
    monkeypatch.setenv("GATEWAY_INVITE_TTL", "soon")
    result = cli("account", "list")
    assert result.code == 2 and "not a duration" in result.err


def test_unreachable_database_exits_3(monkeypatch, env, tmp_path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path}/blocked/db/gateway.db")
    result = cli("account", "list")
    assert result.code == 3 and "database" in result.err


def test_db_upgrade_is_idempotent(monkeypatch, env, tmp_path):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path}/fresh/gateway.db")
    assert cli("db", "upgrade").code == 0
    assert cli("db", "upgrade").code == 0
    assert cli("account", "list", "--json").json() == []


def test_delegate_list_all_keeps_history(people, ticket, sink):
    for _ in range(2):
        assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
        assert cli("delegate", "revoke", ticket, people.delegate, "--by", people.staff).code == 0
    assert cli("delegate", "list", ticket, "--json").json() == []
    history = cli("delegate", "list", ticket, "--all", "--json").json()
    assert [(d["email"], d["status"], d["invited_by"]) for d in history] == [
        (people.delegate, "revoked", people.staff)] * 2


def test_console_script_and_module_are_the_same_command(env):
    gateway = os.path.join(os.path.dirname(sys.executable), "gateway")
    for command in ([gateway], [sys.executable, "-m", "gateway"]):
        done = subprocess.run([*command, "account", "list", "--json"], capture_output=True, text=True,
                              timeout=60, env=os.environ.copy())
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == []


def test_serve_with_its_port_taken_says_so_and_exits_3(env):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "gateway", "serve"], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "GATEWAY_SMTP_PORT": str(port)})
    assert done.returncode == 3
    assert f"error: cannot listen (SMTP 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def test_control_characters_from_mail_are_printed_as_visible_escapes(gw, people):
    support = gw.gateway.addresses.support_address
    subject = "Refund \x1b]0;owned\x07 now\x1b[2J \u202eelif.exe"
    body = "Line one\tcolumn\nClear \x1b[2J\x9b31m red\roverwritten \u2066isolated\u2069"
    assert gw.send(make_mail(people.owner, support, subject, body), people.owner, support).code == 250
    number = cli("ticket", "list", "--json").json()[-1]["number"]

    for args in (("ticket", "show", number), ("ticket", "list"), ("inbound", "list")):
        out = cli(*args).out
        assert not any(c in out for c in RAW_CONTROLS), (args, out)
    shown = cli("ticket", "show", number).out
    # a subject is one line of text: its controls were dropped when it was stored, its bidi override is shown
    assert "Refund ]0;owned now[2J \\u202eelif.exe" in shown
    assert "  Line one\tcolumn\n  Clear \\x1b[2J\\x9b31m red\n  overwritten \\u2066isolated\\u2069" in shown

    printed = cli("ticket", "show", number, "--json")
    assert not any(c in printed.out for c in RAW_CONTROLS)
    data = printed.json()  # the same text, escaped the JSON way
    assert data["subject"] == "Refund ]0;owned now[2J \u202eelif.exe" and "\x9b31m" in data["posts"][0]["body"]


def test_an_account_address_needs_an_ascii_local_part_and_keeps_its_domain_as_a_labels(env):
    refused = cli("account", "add", "zoë@client.test", "--name", "Zoë", "--role", "client")
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert "zoë@client.test cannot receive the gateway's mail: the part before the @ must be ASCII" in refused.err
    assert cli("account", "add", "zoë@bücher.test", "--name", "Zoë", "--role", "client").code == 1
    added = cli("account", "add", "Zoe@Bücher.test", "--name", "Zoë", "--role", "client", "--json")
    assert added.code == 0 and added.json()["email"] == "zoe@xn--bcher-kva.test"
    assert cli("account", "show", "zoe@bücher.test", "--json").json()["email"] == "zoe@xn--bcher-kva.test"
    assert [a["email"] for a in cli("account", "list", "--json").json()] == ["zoe@xn--bcher-kva.test"]


def test_an_address_the_gateway_cannot_mail_is_never_invited(env, people, ticket):
    from support import delegates, store_account_as_is

    store_account_as_is(env["GATEWAY_DATABASE_URL"], "zoë@client.test", "client")  # from before the rule
    for address in ("zoë@client.test", "jürgen@client.test"):
        result = cli("delegate", "invite", ticket, address, "--by", people.staff)
        assert result.code == 1 and result.err.count("\n") == 1, result.err
        assert f"{address} cannot receive the gateway's mail" in result.err
    assert delegates(ticket) == {}
