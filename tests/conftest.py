"""Fixtures: both databases, the recording sink, the gateway on loopback, seeded accounts."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from storage.db import upgrade
from storage.models import Base
from support import Clock, RunningGateway, Sink, cli, free_port, scratch_database

pytest_plugins = ["dovecot"]  # the IMAP tests' fixtures: a real Dovecot, its certificate, gateways using it

PG_SERVER = os.environ.get("GATEWAY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "gateway.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test run, migrated once."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(PG_SERVER, "gw_test"))
        except OperationalError as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required in CI and is not reachable: {exc.orig}")
            pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}")
        upgrade(url)
        yield url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "gateway.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sink():
    sink = Sink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def env(monkeypatch, tmp_path, db_url, sink) -> dict[str, str]:
    """The GATEWAY_* settings every test process part reads (the gateway and the CLI alike)."""
    http_port = free_port()
    values = {
        "GATEWAY_DATABASE_URL": db_url,
        "GATEWAY_MAIL_DOMAIN": "gw.test",
        "GATEWAY_STORE_NAME": "Bean Store",
        "GATEWAY_SMTP_PORT": str(free_port()),
        "GATEWAY_HTTP_PORT": str(http_port),
        "GATEWAY_BASE_URL": f"http://127.0.0.1:{http_port}",
        "GATEWAY_RELAY_HOST": "127.0.0.1",
        "GATEWAY_RELAY_PORT": str(sink.port),
        "GATEWAY_OUTBOX_DIR": str(tmp_path / "outbox"),
        "GATEWAY_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "GATEWAY_DELIVERY_INTERVAL": "1",
        "GATEWAY_RETRY_SCHEDULE": "1s,1s,2s",
    }
    for name in [n for n in os.environ if n.startswith("GATEWAY_") and n != "GATEWAY_TEST_POSTGRES"]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _start_gateway(monkeypatch, clock, settings: dict) -> RunningGateway:
    """A gateway on fresh loopback ports; tried again if a port was taken before it could bind."""
    from gateway.app import Gateway
    from gateway.config import load_settings

    for name, value in settings.items():
        if value is None:
            monkeypatch.delenv(f"GATEWAY_{name.upper()}", raising=False)
        else:
            monkeypatch.setenv(f"GATEWAY_{name.upper()}", str(value))
    for attempt in range(5):
        http_port = free_port()
        monkeypatch.setenv("GATEWAY_SMTP_PORT", str(free_port()))
        monkeypatch.setenv("GATEWAY_HTTP_PORT", str(http_port))
        monkeypatch.setenv("GATEWAY_BASE_URL", f"http://127.0.0.1:{http_port}")
        running = RunningGateway(Gateway(load_settings(), clock=clock))
        try:
            running.start()
            return running
        except OSError as exc:  # a port free_port() chose was taken meanwhile: choose again
            if exc.errno != errno.EADDRINUSE or attempt == 4:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def gw(monkeypatch, env, clock):
    running = _start_gateway(monkeypatch, clock, {})
    yield running
    running.stop()


@pytest.fixture
def gateway_with(monkeypatch, env, clock):
    """Starts a gateway with some settings changed: gateway_with(max_message_bytes=2000)."""
    started: list[RunningGateway] = []

    def start(**settings) -> RunningGateway:
        started.append(_start_gateway(monkeypatch, clock, settings))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@dataclass(frozen=True)
class People:
    admin: str = "ada@store.test"
    staff: str = "sam@store.test"
    owner: str = "olivia@client.test"
    delegate: str = "dan@client.test"
    other: str = "carol@client.test"


@pytest.fixture
def people(env) -> People:
    p = People()
    for email_, name, role in ((p.admin, "Ada Admin", "admin"), (p.staff, "Sam Staff", "staff"),
                               (p.owner, "Olivia Owner", "client"), (p.delegate, "Dan Delegate", "client"),
                               (p.other, "Carol Client", "client")):
        result = cli("account", "add", email_, "--name", name, "--role", role)
        assert result.code == 0, result.err
    return p


@pytest.fixture
def ticket(people) -> int:
    """Ticket opened by staff for the owner; returns its number."""
    result = cli("ticket", "create", "--owner", people.owner, "--by", people.staff,
                 "--subject", "Special blend survey", "--body", "How did you like the special blend?")
    assert result.code == 0, result.err
    return int(result.out.strip())
