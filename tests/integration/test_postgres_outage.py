"""Issue 5: PostgreSQL itself is stopped during intake: 451, and after it starts again the
sending server's retry posts exactly once.

The test runs its own PostgreSQL server (initdb into a temporary folder, on a free loopback
port) so that stopping it for real disturbs nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from support import cli, free_port, make_mail, reply_address

pytestmark = pytest.mark.postgres


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    if shutil.which("pg_ctl"):
        return Path(shutil.which("pg_ctl")).parent
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL's server programs (pg_ctl, initdb) are required in CI")
    pytest.skip("PostgreSQL's server programs are not installed")


class PrivatePostgres:
    def __init__(self, folder: Path):
        self.bin = _pg_bin()
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres():
    # not under pytest's temporary folder: as root that is closed to the postgres user
    folder = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    server = PrivatePostgres(folder)
    try:
        server.init()
        server.start()
        yield server
        try:
            server.stop()
        except RuntimeError:
            pass  # already stopped
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def db_url(private_postgres) -> str:
    """This module's gateways and CLI use the private server (overrides the conftest fixture)."""
    from storage.db import upgrade

    upgrade(private_postgres.url)
    return private_postgres.url


def test_postgres_stopped_during_intake_gets_451_and_the_retry_posts_once(private_postgres, gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    raw = make_mail(people.owner, address, "Re: survey", "Sent while the database was down")
    private_postgres.stop()
    result = gw.send(raw, people.owner, address)
    assert (result.code, result.message) == (451, "4.3.0 Temporary failure, please try again later")

    private_postgres.start()
    assert gw.send(raw, people.owner, address).code == 250  # the sending server's retry
    assert gw.send(raw, people.owner, address).code == 250  # and once more: a duplicate
    posts = [p["body"] for p in cli("ticket", "show", ticket, "--json").json()["posts"]]
    assert posts.count("Sent while the database was down") == 1
    outcomes = [r["outcome"] for r in cli("inbound", "list", "--json").json()]
    assert outcomes == ["duplicate", "posted"]  # the 451 left nothing half-written
