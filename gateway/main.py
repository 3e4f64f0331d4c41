"""The program's entry point (`gateway`, `python -m gateway`): parses the command line, loads the settings,
builds what the command needs and hands it to the command (gateway.channels.cli). Only `serve` builds the
serving process (gateway.app) and so loads aiosmtpd, aiohttp and APScheduler; the other commands get the
services alone."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import exc as sa_exc

from gateway.channels.cli import EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE, Output, argument_parser
from gateway.channels.terminal import shown
from gateway.config import ConfigError, KeyMissing, Settings, load_settings
from gateway.domain.errors import Refused
from gateway.services import Services, intake_of
from storage.db import STORAGE_DOWN, SchemaNotReady, make_engine, require_database, require_schema, transaction
from storage.models import utcnow

# what every command prints when the database cannot be used: the one place for these words
SET_UP_HINT = "run `gateway db upgrade`"


def not_set_up(detail: str) -> int:
    """No database file, no schema or an old one, no key: `gateway db upgrade` makes them."""
    print(f"error: the gateway is not set up ({detail}); {SET_UP_HINT}", file=sys.stderr)
    return EXIT_UNAVAILABLE


def unavailable(detail: str) -> int:
    """The database cannot be reached: upgrading would not help."""
    print(f"error: database unavailable ({detail}); try again when it is reachable", file=sys.stderr)
    return EXIT_UNAVAILABLE


def _storage_failure(exc: Exception) -> int:
    orig = getattr(exc, "orig", None)
    detail = str(orig).splitlines()[0] if orig and str(orig) else type(exc).__name__
    # a table or column missing: ProgrammingError on PostgreSQL, OperationalError on SQLite
    if isinstance(exc, sa_exc.ProgrammingError) or detail.startswith(("no such table", "no such column")):
        return not_set_up(detail)
    return unavailable(detail)


def main(argv: list[str] | None = None, clock: Callable[[], datetime] = utcnow) -> int:
    args = argument_parser().parse_args(argv)
    out = Output(args.json)
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.group == "db":
            return args.func(settings, args, out)
        if args.group == "serve":
            return _serve(settings, args)
        require_database(settings.database_url)  # a missing SQLite file is not made here (only db upgrade)
        services = Services(settings, clock, create_key=False)
        try:
            if getattr(args, "needs_intake", False):  # replay: the intake's own transactions, no server
                args.func(services, intake_of(services)[0], args, out)
                return EXIT_OK
            with transaction(services.sessions) as session:
                args.func(services, session, args, out)
        finally:
            services.engine.dispose()
        return EXIT_OK
    except Refused as refusal:
        print(f"error: {shown(refusal.text, lines=True)}", file=sys.stderr)
        return EXIT_REFUSED
    except (SchemaNotReady, KeyMissing) as exc:
        return not_set_up(str(exc))
    except (*STORAGE_DOWN, sa_exc.ProgrammingError) as exc:  # ProgrammingError: no schema yet (PostgreSQL)
        return _storage_failure(exc)


def _serve(settings: Settings, args) -> int:
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)  # before anything is served: the courier would fail every 2 s otherwise
    finally:
        engine.dispose()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run of every job at INFO
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per command and per QUIT
    from gateway.app import Gateway  # here, so that no other command loads the servers' libraries

    return args.func(Gateway(settings))
