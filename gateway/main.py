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
from gateway.config import ConfigError, Settings, load_settings
from gateway.domain.errors import Refused
from gateway.services import Services, intake_of
from storage.db import STORAGE_DOWN, transaction
from storage.models import utcnow


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
        services = Services(settings, clock)
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
    except (*STORAGE_DOWN, sa_exc.ProgrammingError) as exc:  # ProgrammingError: no schema yet (PostgreSQL)
        orig = getattr(exc, "orig", None)
        detail = str(orig).splitlines()[0] if orig else type(exc).__name__
        print(f"error: database unavailable or not set up ({detail}); run 'gateway db upgrade'", file=sys.stderr)
        return EXIT_UNAVAILABLE


def _serve(settings: Settings, args) -> int:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every run of every job at INFO
    from gateway.app import Gateway  # here, so that no other command loads the servers' libraries

    return args.func(Gateway(settings))
