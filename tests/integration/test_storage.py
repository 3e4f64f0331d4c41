"""Storage: the migrations make exactly the models' schema, and user text is stored literally."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from storage.db import upgrade
from storage.models import Base
from support import cli, make_mail, reply_address


def test_migrations_match_the_models(db_url):
    upgrade(db_url)  # already at head: must be a no-op
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_nul_bytes_and_sql_metacharacters_are_stored_the_same_on_both_databases(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    body = "Robert'); DROP TABLE posts;-- \\ % _ \x00 end"
    raw = make_mail(people.owner, address, "Re: 'quoted' \"subject\"", body)
    result = gw.send(raw, people.owner, address)
    assert result.code == 250, result.message
    posts = cli("ticket", "show", ticket, "--json").json()["posts"]
    assert posts[-1]["body"] == "Robert'); DROP TABLE posts;-- \\ % _  end"


def test_db_upgrade_leaves_sqlite_in_wal_mode(tmp_path):
    """Connections then never switch journal modes, which fails at once while another is open."""
    import sqlite3

    upgrade(f"sqlite:///{tmp_path}/fresh.db")
    with sqlite3.connect(tmp_path / "fresh.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_upgrading_stores_account_domains_as_a_labels_and_they_are_found_again(tmp_path, monkeypatch):
    """Accounts stored before addresses were normalized kept an internationalised domain as written."""
    import sqlite3

    from alembic import command

    from storage.db import alembic_config

    url = f"sqlite:///{tmp_path}/old.db"
    command.upgrade(alembic_config(url), "0006_lean_outbox")
    with sqlite3.connect(tmp_path / "old.db") as connection:
        connection.executemany("INSERT INTO accounts (email, name, role, created_at) "
                               "VALUES (?, ?, 'client', '2026-01-01')", [
            ("zoe@bücher.test", "Zoe"), ("zoë@client.test", "Zoë"), ("olivia@client.test", "Olivia")])
    upgrade(url)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
    monkeypatch.chdir(tmp_path)
    assert [a["email"] for a in cli("account", "list", "--json").json()] == [
        "zoe@xn--bcher-kva.test", "zoë@client.test", "olivia@client.test"]
    assert cli("account", "show", "zoe@bücher.test", "--json").json()["name"] == "Zoe"
