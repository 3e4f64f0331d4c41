"""Settings, read once from the environment (GATEWAY_*) and an optional TOML file, then frozen.

Precedence: environment over the TOML file over the defaults. The TOML file uses the same keys
in lower case without the prefix (`mail_domain = "example.com"`).

Relative paths (the SQLite database, the outbox folder, var/ with the generated key) are read against
one home, GATEWAY_HOME: by default the checkout the gateway runs from (where `make serve` puts var/),
or, for a gateway installed from a wheel, the working directory. So a command run from another
directory of a checkout finds the same database and key.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "GATEWAY_"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _templates() -> Path:
    """Where a wheel puts the templates (pyproject.toml: package gateway.templates), else the checkout's."""
    installed = Path(__file__).resolve().parent / "templates"
    return installed if installed.is_dir() else REPO_ROOT / "templates"


TEMPLATES = _templates()


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use."""


class KeyMissing(ConfigError):
    """No secret key set and none generated yet: `gateway db upgrade` (or `serve`) makes it."""


def default_home() -> Path:
    """The checkout this code runs from (an editable install, `make serve`), else the working directory."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'30s', '15m', '12h', '7d' (or plain seconds) -> seconds."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 30s, 15m, 12h, 7d)")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def _parse_bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"not a yes/no value: {text!r}")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/gateway.db"
    mail_domain: str = "localhost"
    support_address: str = ""  # empty: support@<mail_domain>
    store_name: str = "Store"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    http_host: str = "127.0.0.1"
    http_port: int = 8025
    base_url: str = "http://127.0.0.1:8025"
    relay_host: str = ""
    relay_port: int = 25
    relay_username: str = ""
    relay_password: str = ""
    relay_starttls: bool = False
    outbox_dir: str = "var/outbox"
    secret_key: str = ""  # empty: generated once into var/secret.key
    invite_ttl: int = 7 * 86400
    max_message_bytes: int = 26214400
    max_attachment_bytes: int = 10 * 1024 * 1024  # one attachment kept with a post
    max_post_attachments_bytes: int = 20 * 1024 * 1024  # all attachments kept with one post
    max_relay_attachments_bytes: int = 10 * 1024 * 1024  # sent on with each copy; over it, listed only
    max_recipients: int = 100
    max_connections: int = 100
    max_connections_per_client: int = 20  # Postfix's default concurrency to one destination
    smtp_timeout: int = 300
    smtp_tls_cert: str = ""  # PEM certificate (chain) and key: STARTTLS is offered when both are set
    smtp_tls_key: str = ""
    create_invitee_accounts: bool = False
    create_sender_accounts: bool = False
    delivery_interval: int = 2
    delivery_lease: int = 10  # a claimed copy's lease, renewed while its process lives; after a crash it runs out
    relay_connections: int = 4  # relay connections (or outbox-folder writers) used in parallel
    loop_sender_limit: int = 20  # posts from one sender per loop_window; more are held
    loop_ticket_limit: int = 100  # posts to one ticket per loop_window; more are held
    loop_window: int = 600
    soft_bounce_limit: int = 3  # soft bounces of different copies within soft_bounce_window stop delivery
    soft_bounce_window: int = 7 * 86400
    new_ticket_alerts: str = "staff"  # who hears of a ticket a client opened: none, admins or staff
    retry_schedule: tuple[int, ...] = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
    imap_host: str = ""
    imap_port: int = 993
    imap_user: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"  # several folders: comma-separated
    imap_ssl: bool = True  # IMAPS (port 993); false: plain IMAP, or STARTTLS when imap_starttls
    imap_starttls: bool = False
    imap_ca_file: str = ""  # PEM file of the CA (or self-signed certificate) to trust; empty: the system's
    imap_processed_folder: str = "Processed"  # empty: leave messages in place, flagged \Seen
    imap_idle: bool = True  # use IDLE when the server offers it; otherwise poll
    imap_poll_interval: int = 60
    imap_lease: int = 60  # one poller per folder across processes; another takes over after this
    imap_notice_limit: int = 3  # refusal notices per address per imap_notice_window
    imap_notice_window: int = 3600
    purge_raw_after: int = 0  # raw bytes of inbound messages older than this dropped daily; 0: never
    templates_dir: str = str(TEMPLATES)
    log_level: str = "INFO"
    home: str = ""  # relative paths are read against it; load_settings makes it absolute (default_home())

    @property
    def support(self) -> str:
        return (self.support_address or f"support@{self.mail_domain}").lower()

    @property
    def imap_folders(self) -> tuple[str, ...]:
        return tuple(f.strip() for f in self.imap_folder.split(",") if f.strip())

    @property
    def relay_configured(self) -> bool:
        return bool(self.relay_host)


NEW_TICKET_ALERTS = ("none", "admins", "staff")  # staff: every staff and admin account

_DURATION_FIELDS = {"invite_ttl", "delivery_interval", "delivery_lease", "smtp_timeout", "loop_window",
                    "soft_bounce_window", "imap_poll_interval", "imap_lease", "imap_notice_window",
                    "purge_raw_after"}


def _coerce(name: str, raw: Any, default: object) -> Any:
    try:
        if name in _DURATION_FIELDS:
            return parse_duration(str(raw))
        if name == "retry_schedule":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            schedule = tuple(parse_duration(str(item)) for item in items if str(item).strip())
            if not schedule:
                raise ConfigError("retry_schedule needs at least one duration")
            return schedule
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else _parse_bool(str(raw))
        if isinstance(default, int):
            return int(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{PREFIX}{name.upper()}: {exc}") from exc


def load_settings(config_file: str | None = None, environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = config_file or env.get(f"{PREFIX}CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as handle:
                values.update(tomllib.load(handle))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
    known = {f.name: f.default for f in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}")
    for name in known:
        if f"{PREFIX}{name.upper()}" in env:
            values[name] = env[f"{PREFIX}{name.upper()}"]
    settings = Settings(**{name: _coerce(name, raw, known[name]) for name, raw in values.items()})
    for name in ("invite_ttl", "delivery_lease", "relay_connections", "max_connections_per_client"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{PREFIX}{name.upper()} must be positive")
    if settings.new_ticket_alerts not in NEW_TICKET_ALERTS:
        raise ConfigError(f"{PREFIX}NEW_TICKET_ALERTS: {settings.new_ticket_alerts!r} is not one of "
                          f"{', '.join(NEW_TICKET_ALERTS)}")
    return _at_home(settings)


def _at_home(settings: Settings) -> Settings:
    """The settings with the home absolute and every relative path read against it."""
    home = (Path(settings.home).expanduser() if settings.home else default_home()).absolute()
    url = settings.database_url
    head, sep, tail = url.partition("///")
    if url.startswith("sqlite") and sep and tail and not tail.startswith((":memory:", "?")) \
            and not Path(tail).is_absolute():
        url = f"{head}///{home / tail}"
    return replace(settings, home=str(home), database_url=url, outbox_dir=str(home / settings.outbox_dir))


def secret_key_bytes(settings: Settings, state_dir: Path | None = None, create: bool = True) -> bytes:
    """The operator's key, or one generated once into <home>/var/secret.key (mode 0600); with create
    false, KeyMissing rather than a new key."""
    if settings.secret_key:
        return settings.secret_key.encode()
    state_dir = Path(settings.home) / "var" if state_dir is None else state_dir
    path = state_dir / "secret.key"
    if not path.exists() and not create:
        raise KeyMissing(f"no secret key at {path.absolute()} and GATEWAY_SECRET_KEY is not set")
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable key; delete it to make a new one")
    return key.encode()
