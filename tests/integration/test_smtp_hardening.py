"""SMTP hardening (issue 5): smuggling, connection cap, command limits, long lines, timeouts, STARTTLS."""

from __future__ import annotations

import datetime
import itertools
import smtplib
import socket
import ssl
import time

import pytest

from support import cli, inbound_count, make_mail, reply_address, wait_until


def talk(port: int, payload: bytes, timeout: float = 15) -> list[str]:
    """Sends everything at once (pipelined, as an attacker would) and returns the reply lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(payload)
        received = b""
        while not received.endswith(b"221 Bye\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.decode().splitlines()


SMUGGLING_ENDINGS = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n\x00.\r\n", b"\r.\r\n", b"\r\n.\r",
                     b"\n.\r", b"\r\n.\x00\r\n"]


@pytest.mark.parametrize("ending", SMUGGLING_ENDINGS, ids=[repr(e) for e in SMUGGLING_ENDINGS])
def test_smtp_smuggling_variants_make_exactly_one_message(gw, people, ticket, ending):
    address = reply_address(gw, ticket, people.owner)
    envelope = f"MAIL FROM:<{people.owner}>\r\nRCPT TO:<{address}>\r\nDATA\r\n".encode()
    first = f"From: {people.owner}\r\nTo: {address}\r\nSubject: one\r\nMessage-ID: <one@client.test>\r\n\r\nFirst".encode()
    smuggled = (f"From: {people.owner}\r\nTo: {address}\r\nSubject: two\r\nMessage-ID: <two@client.test>\r\n\r\n"
                "Smuggled").encode()
    payload = (b"EHLO attacker.test\r\n" + envelope + first + ending + envelope + smuggled + b"\r\n.\r\nQUIT\r\n")
    replies = talk(gw.settings.smtp_port, payload)
    assert sum(1 for line in replies if line.startswith("250 2.0.0 OK")) == 1, replies
    assert inbound_count(gw) == 1
    bodies = [p["body"] for p in cli("ticket", "show", ticket, "--json").json()["posts"]]
    assert len(bodies) == 2 and bodies[1].startswith("First")  # the rest stayed inside the one message


def test_connections_over_the_cap_get_421_and_room_frees_up(gateway_with):
    running = gateway_with(max_connections=3)
    port = running.settings.smtp_port
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    for conn in held:
        assert conn.recv(1024).startswith(b"220 ")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
        assert extra.recv(1024).startswith(b"421 4.7.0 Too many connections")
    held.pop().close()

    def admitted() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            return conn.recv(1024).startswith(b"220 ")
    wait_until(admitted, what="a freed connection slot")
    for conn in held:
        conn.close()


def test_a_command_repeated_too_often_ends_the_session(gw):
    with gw.smtp() as client:
        client.ehlo("client.test")
        codes = [client.noop()[0] for _ in range(30)]
        code, message = client.noop()
    assert codes == [250] * 30
    assert code == 421 and b"NOOP sent too many times" in message


def test_many_messages_over_one_connection_are_not_limited(gateway_with, people, ticket):
    gw = gateway_with(loop_sender_limit=1000)  # this is about SMTP limits, not the loop breaker
    address = reply_address(gw, ticket, people.owner)
    with gw.smtp() as client:
        for i in range(40):
            raw = make_mail(people.owner, address, "Re: many", f"Message number {i}")
            client.sendmail(people.owner, [address], raw)
    assert len(cli("ticket", "show", ticket, "--json").json()["posts"]) == 41


def test_long_lines_up_to_64_kib_are_taken_and_longer_ones_refused(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    long_line = "word " * 1000  # 5000 characters on one line: over RFC 5322's 998, common in real mail
    raw = make_mail(people.owner, address, "Re: long", "x").replace(b"x\r\n", long_line.encode() + b"\r\n")
    assert gw.send(raw, people.owner, address).code == 250
    assert cli("ticket", "show", ticket, "--json").json()["posts"][-1]["body"] == long_line.strip()
    too_long = make_mail(people.owner, address, "Re: longer", "x").replace(b"x\r\n", b"y" * 70_000 + b"\r\n")
    result = gw.send(too_long, people.owner, address)
    assert result.code == 500 and "Line too long" in result.message
    assert len(cli("ticket", "show", ticket, "--json").json()["posts"]) == 2


def test_an_idle_connection_is_closed(gateway_with):
    running = gateway_with(smtp_timeout="1s")
    with socket.create_connection(("127.0.0.1", running.settings.smtp_port), timeout=10) as conn:
        assert conn.recv(1024).startswith(b"220 ")
        closed = b""
        while chunk := conn.recv(1024):  # returns b"" once the server closes
            closed += chunk
    assert b"250" not in closed


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_starttls_is_offered_when_a_certificate_is_configured(gateway_with, certificate, people, ticket):
    running = gateway_with(smtp_tls_cert=certificate[0], smtp_tls_key=certificate[1])
    address = reply_address(running, ticket, people.owner)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", running.settings.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.has_extn("starttls")
        client.starttls(context=context)
        client.ehlo("client.test")
        client.sendmail(people.owner, [address], make_mail(people.owner, address, "Re: tls", "Over TLS"))
    assert cli("ticket", "show", ticket, "--json").json()["posts"][-1]["body"] == "Over TLS"


def test_no_starttls_without_a_certificate(gw):
    with gw.smtp() as client:
        client.ehlo("client.test")
        assert not client.has_extn("starttls")


def test_bare_cr_and_lf_never_reach_the_relay(gw, sink, people, ticket):
    """Posts carrying every bare CR/LF variant are relayed with CRLF only, and nothing is lost."""
    import re

    body = "one\rtwo\nthree\r\n.\r\nfour\n.\nfive\r.\rsix"
    assert cli("post", ticket, "--by", people.staff, "--body", body).code == 0
    address = reply_address(gw, ticket, people.owner)
    raw = (f"From: {people.owner}\nTo: {address}\nSubject: Re: bare\nMessage-ID: <bare@client.test>\n\n"
           "seven\neight\r.\rnine\n").encode()
    assert gw.send(raw, people.owner, address).code == 250
    staff_copy = sink.wait_for(1, to=people.staff)[0].text
    relayed = [m.raw for m in sink.received]
    assert relayed and all(re.search(rb"\r(?!\n)|(?<!\r)\n", message) is None for message in relayed)
    assert all(word in staff_copy for word in ("seven", "eight", "nine"))
    owner_copy = sink.wait_for(2, to=people.owner)[-1].text
    assert all(word in owner_copy for word in ("one", "two", "three", "four", "five", "six"))


def greeting_from(port: int, source: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as conn:
        return conn.recv(1024)


def test_one_client_cannot_take_every_connection(gateway_with, people, ticket):
    running = gateway_with(max_connections=10, max_connections_per_client=3)
    port = running.settings.smtp_port
    held = [socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0))
            for _ in range(3)]
    for conn in held:
        assert conn.recv(1024).startswith(b"220 ")
    assert greeting_from(port, "127.0.0.2").startswith(b"421 4.7.0 Too many connections from your address")
    address = reply_address(running, ticket, people.owner)
    assert running.send(make_mail(people.owner, address, "Re: slots", "Still room for me"),
                        people.owner, address).code == 250  # another client is served meanwhile
    held.pop().close()
    wait_until(lambda: greeting_from(port, "127.0.0.2").startswith(b"220 "), what="the client's freed slot")
    for conn in held:
        conn.close()


def seconds_until_closed(conn: socket.socket, commands: list[bytes], pause: float, limit: float) -> float:
    """Sends the commands in turn, one every `pause` seconds, until the server closes (or `limit`)."""
    started = time.monotonic()
    assert conn.recv(1024).startswith(b"220 ")
    for command in itertools.cycle(commands):
        if time.monotonic() - started > limit:
            break
        time.sleep(pause)
        try:
            conn.sendall(command)
            if not conn.recv(65536):
                break  # the server closed the connection
        except OSError:
            break
    return time.monotonic() - started


def test_no_op_commands_do_not_keep_a_connection_open(gateway_with):
    running = gateway_with(smtp_timeout="2s")
    no_ops = [b"EHLO idle.test\r\n", b"NOOP\r\n", b"RSET\r\n", b"HELP\r\n", b"VRFY <olivia@client.test>\r\n",
              b"HELO idle.test\r\n"]
    with socket.create_connection(("127.0.0.1", running.settings.smtp_port), timeout=10) as conn:
        lasted = seconds_until_closed(conn, no_ops, pause=0.3, limit=10)
    assert lasted < 4


def test_a_transaction_moving_on_keeps_its_connection(gateway_with, people, ticket):
    running = gateway_with(smtp_timeout="3s")
    address = reply_address(running, ticket, people.owner)
    with running.smtp() as client:
        client.ehlo("client.test")
        for n in range(2):
            time.sleep(1)
            assert client.mail(people.owner)[0] == 250
            time.sleep(1)
            assert client.rcpt(address)[0] == 250
            time.sleep(1)
            assert client.data(make_mail(people.owner, address, "Re: slow", f"Slow sender {n}"))[0] == 250
    bodies = [p["body"] for p in cli("ticket", "show", ticket, "--json").json()["posts"]]
    assert bodies[-2:] == ["Slow sender 0", "Slow sender 1"]
