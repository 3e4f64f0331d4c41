"""A real Dovecot IMAP server for the tests (own configuration, temporary mail store, loopback port),
and the fixtures and helpers the IMAP tests share (a test module imports the fixtures it uses).

Needs Debian's `dovecot-imapd` (`.ci/run` installs it). As root, Dovecot refuses to give mail to
uid 0, so the mail store belongs to the `mail` user and the userdb maps every user to it; as any
other user, everything runs as that user. Login processes run without chroot.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from storage.models import InboundOutcome, Outcome, Post
from support import RunningGateway, free_port, make_mail, wait_until

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "imap-test-password"
# capabilities of a server that does not offer IDLE (`imap_capability` replaces Dovecot's own list)
WITHOUT_IDLE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UNSELECT CHILDREN NAMESPACE UIDPLUS MOVE"

_CONFIG = """\
# written by tests/dovecot.py
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = gateway-test-{port}
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
maildir_very_dirty_syncs = no
imap_idle_notify_interval = 2 mins
shutdown_clients = yes
{capability}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {auth_user}
}}
service auth-worker {{
  user = {auth_user}
}}
service stats {{
  chroot =
}}
"""


def available() -> bool:
    return os.path.exists(DOVECOT)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the gateway is told to trust it with imap_ca_file)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class Dovecot:
    """One Dovecot instance; start(), stop(), restart() keep the port and the mail store.

    Plain IMAP (with STARTTLS when given a certificate) on `port`; IMAPS on `tls_port` then.
    With idle=False the server does not offer IDLE, like some providers."""

    def __init__(self, certificate: tuple[Path, Path] | None = None, idle: bool = True):
        self.port = free_port()
        self.tls_port = free_port() if certificate else 0
        ssl_settings = "ssl = no"
        if certificate:
            ssl_settings = f"ssl = yes\nssl_cert = <{certificate[0]}\nssl_key = <{certificate[1]}"
        # under /tmp with 0755 so that the mail user can reach the store (pytest's tmp is 0700)
        self.root = Path(tempfile.mkdtemp(prefix="gw-dovecot-"))
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            mail = pwd.getpwnam("mail")
            self.uid, self.gid = mail.pw_uid, mail.pw_gid
            internal, internal_group, login, auth_user = "dovecot", "dovecot", "dovenull", "root"
        else:
            me = pwd.getpwuid(os.geteuid())
            self.uid, self.gid = me.pw_uid, me.pw_gid
            internal = login = auth_user = me.pw_name
            internal_group = str(me.pw_gid)
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir()
        os.chown(self.root / "home", self.uid, self.gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.config = self.root / "dovecot.conf"
        self.config.write_text(_CONFIG.format(
            root=self.root, port=self.port, tls_port=self.tls_port, ssl=ssl_settings, uid=self.uid, gid=self.gid,
            internal=internal, internal_group=internal_group, login=login, auth_user=auth_user,
            capability="" if idle else f"imap_capability = {WITHOUT_IDLE}"))
        self._process: subprocess.Popen | None = None
        self._client: IMAPClient | None = None

    @property
    def maildir(self) -> Path:
        return self.root / "home" / USER / "Maildir"

    def start(self, timeout: float = 20) -> None:
        # its own process group: stop() ends the master and every imap process it started
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)], start_new_session=True,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._process.stderr.read().decode()} {self.log()}")
            try:
                with IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=2) as client:
                    client.login(USER, PASSWORD)
                    client.logout()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dovecot did not come up on port {self.port}: {self.log()}") from None
                time.sleep(0.05)

    def stop(self, graceful: bool = True) -> None:
        self._drop_client()
        if self._process is None:
            return
        group = self._process.pid  # the session leader's pid is the group id
        if not graceful:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # imap processes left serving old connections
            os.killpg(group, signal.SIGKILL)
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None
        # the master is gone; wait until its listener is too, so that a restart can bind the port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop(graceful=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "dovecot.log").read_text()[-4000:]
        return ""

    # --- a mail client's side ---------------------------------------------------------------

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(USER, PASSWORD)
        return client

    def _call(self, action):
        """Runs action(client) on one kept-open connection (tests poll often: no connection storm)."""
        for attempt in (1, 2):
            try:
                if self._client is None:
                    self._client = self.client()
                return action(self._client)
            except Exception:
                self._drop_client()
                if attempt == 2:
                    raise

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.shutdown()
            self._client = None

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        def append(client: IMAPClient) -> None:
            for raw in messages:
                client.append(folder, raw)
        self._call(append)

    def deliver(self, raw: bytes, sender: str, recipient: str) -> None:
        """What a provider's delivery puts in the INBOX: the message with its envelope on top
        (Return-Path, "" for the null sender, and Delivered-To)."""
        self.append(f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode() + raw)

    def uids(self, folder: str = "INBOX") -> list[int]:
        def uids(client: IMAPClient) -> list[int]:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            found = sorted(client.search("ALL"))
            client.unselect_folder()
            return found
        return self._call(uids)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        return self._call(lambda client: int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]))

    def reset_uidvalidity(self, restore_from: str | None = None) -> None:
        """What a mailbox restore or migration does: the INBOX gets a new UIDVALIDITY and new UIDs.

        With the server stopped, optionally move the messages of `restore_from` back into the
        INBOX, then drop Dovecot's UID list and indexes so that it numbers everything afresh."""
        self.stop()
        inbox = self.maildir
        if restore_from:
            source = inbox / f".{restore_from}"
            for sub in ("cur", "new"):
                for path in (source / sub).iterdir():
                    path.rename(inbox / "cur" / path.name)
        for path in list(inbox.iterdir()):
            if path.name.startswith("dovecot") and path.is_file():
                path.unlink()
        time.sleep(1.1)  # UIDVALIDITY is a timestamp: make sure the new one differs
        self.start()


# --- fixtures for the IMAP tests --------------------------------------------------------------

@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _running(certificate, idle: bool = True):
    if not available():
        if os.environ.get("CI"):
            pytest.fail("Dovecot (dovecot-imapd) is required in CI and is not installed")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot(certificate, idle=idle)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def dovecot(certificate):
    yield from _running(certificate)


@pytest.fixture
def dovecot_without_idle(certificate):
    yield from _running(certificate, idle=False)


def imap_settings(server: Dovecot) -> dict[str, str]:
    """The gateway's settings (lower-case GATEWAY_* names) for reading this server's mailbox."""
    return {"imap_host": "127.0.0.1", "imap_port": str(server.port), "imap_user": USER, "imap_password": PASSWORD,
            "imap_ssl": "false", "imap_lease": "4s", "imap_poll_interval": "1s"}


@pytest.fixture
def start_gateway(gateway_with, dovecot):
    """Starts a gateway (several may share the database) that reads the Dovecot mailbox."""
    def start(**settings) -> RunningGateway:
        return gateway_with(**{**imap_settings(dovecot), **settings})
    return start


# --- what the gateway made of the mail --------------------------------------------------------

def post_count(gw: RunningGateway, ticket: int) -> int:
    with gw.gateway.sessions() as session:
        return session.scalar(select(func.count()).select_from(Post).where(Post.ticket_id == ticket))


def outcomes(gw: RunningGateway) -> list[Outcome]:
    with gw.gateway.sessions() as session:
        return list(session.scalars(select(InboundOutcome.outcome).order_by(InboundOutcome.id)))


def wait_decided(gw: RunningGateway, count: int, timeout: float = 15) -> None:
    """Until `count` outcomes are committed (any mail they cause is queued in the same transaction)."""
    wait_until(lambda: len(outcomes(gw)) >= count, timeout, f"{count} inbound outcome(s)")


def health(gw: RunningGateway) -> dict:
    with urllib.request.urlopen(gw.url("/healthz"), timeout=10) as response:
        return json.loads(response.read())


def mailbox_state(gw: RunningGateway) -> dict:
    return health(gw)["mailboxes"][0]


def wait_idle(gw: RunningGateway, timeout: float = 20) -> None:
    wait_until(lambda: mailbox_state(gw)["state"] == "idle", timeout, "the poller to be idling")


def reply(sender: str, address: str, body: str, **kwargs) -> bytes:
    """A reply to ticket #1's reply address, as a mail client writes it."""
    return make_mail(sender, address, "Re: [#1] Special blend survey", body, **kwargs)
