"""Engines, sessions and schema migrations. Alembic is imported only by what migrates or checks the
schema, so that a command that reads or writes a few rows starts quickly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# the database cannot be reached (or went away): the caller should answer "try again later"
STORAGE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError)


def rows_changed(session: Session, statement: Executable, params: dict[str, Any] | None = None) -> int:
    """Runs an INSERT, UPDATE or DELETE; how many rows it wrote."""
    return cast(CursorResult, session.execute(statement, params)).rowcount


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        _one_writer_at_a_time(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another database or an in-memory one."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


class SchemaNotReady(Exception):
    """The database is there but has no schema, or an older or newer one than this code's migrations."""


def require_database(url: str) -> None:
    """Raises SchemaNotReady when the URL names a SQLite file that does not exist: connecting would create
    an empty one (only `upgrade` may)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise SchemaNotReady(f"no database at {path.resolve()}")


def require_schema(engine: Engine) -> None:
    """Raises SchemaNotReady unless the database is at the newest migration (one of STORAGE_DOWN when it
    cannot be reached)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    require_database(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        raise SchemaNotReady(f"schema revision {have}, this code needs {', '.join(sorted(heads))}")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL is stored in the file (db upgrade sets it); switching needs the file to itself and can fail
    # at once with "database is locked" while another connection is open, so only switch when needed
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _one_writer_at_a_time(engine: Engine) -> None:
    """SQLite has one writer. Every transaction takes the write lock up front (BEGIN IMMEDIATE), so that
    read-then-write transactions wait instead of failing; and the threads of one process queue for it on
    a lock of their own. Left to SQLite, a waiting thread sleeps in its busy handler's growing steps (up
    to 100 ms) however soon the lock is free: under concurrent SMTP sessions most time went there."""
    writer = threading.RLock()

    def begin(connection) -> None:
        writer.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise

    def end(connection) -> None:
        writer.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)


def writers(engine: Engine) -> int:
    """How many write transactions are worth running side by side: SQLite has one writer."""
    return 1 if engine.dialect.name == "sqlite" else 4


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with sessions() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Create or migrate the schema to the newest revision; safe to run again."""
    from alembic import command

    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
    if url.startswith("sqlite"):
        engine = make_engine(url)  # its first connection puts the file in WAL mode, once
        with engine.connect():
            pass
        engine.dispose()
