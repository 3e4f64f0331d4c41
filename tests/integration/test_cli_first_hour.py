"""Issue 12, a newcomer's first hour: serve refuses a database without the schema, a command never
makes a database or a key, --version, and a token a script can capture."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from importlib.metadata import version

from support import cli

HINT = "run `gateway db upgrade`"


def _clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k == "GATEWAY_TEST_POSTGRES"}
    return {**env, **{f"GATEWAY_{k.upper()}": v for k, v in settings.items()}}


def _serve(tmp_path, **settings: str) -> subprocess.CompletedProcess:
    env = _clean_env(home=str(tmp_path), smtp_port="0", http_port="0", **settings)
    return subprocess.run([sys.executable, "-m", "gateway", "serve"], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)


def test_serve_without_the_schema_exits_3_with_the_hint(tmp_path):
    empty = tmp_path / "empty.db"
    with sqlite3.connect(empty) as connection:
        connection.execute("CREATE TABLE unrelated (x)")
    for url in (f"sqlite:///{empty}", f"sqlite:///{tmp_path}/missing.db"):
        done = _serve(tmp_path, database_url=url)
        assert done.returncode == 3, done.stderr
        assert done.stderr.count("\n") == 1 and HINT in done.stderr, done.stderr
        assert "serving" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "missing.db").exists()


def test_serve_on_an_unreachable_postgresql_says_so_without_the_hint(tmp_path):
    done = _serve(tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert done.returncode == 3
    assert done.stderr.startswith("error: database unavailable") and done.stderr.count("\n") == 1, done.stderr
    assert "db upgrade" not in done.stderr and "Traceback" not in done.stderr


def test_a_command_on_a_missing_database_makes_no_file(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("GATEWAY_") and n != "GATEWAY_TEST_POSTGRES"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "home"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for args in (("ticket", "list"), ("account", "list", "--json"), ("account", "add", "a@b.test", "--name", "A",
                                                                      "--role", "admin")):
        result = cli(*args)
        assert result.code == 3 and result.out == "", args
        assert result.err.count("\n") == 1 and HINT in result.err and "no database at" in result.err, result.err
    assert list(tmp_path.rglob("*")) == [elsewhere]  # neither a database nor var/secret.key, here or at home

    assert cli("db", "upgrade").code == 0  # what makes them, at the home
    assert (tmp_path / "home" / "var" / "gateway.db").exists() and (tmp_path / "home" / "var" / "secret.key").exists()
    assert cli("account", "list", "--json").json() == [] and list(elsewhere.iterdir()) == []


def test_version_prints_the_package_version():
    done = subprocess.run([sys.executable, "-m", "gateway", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == f"gateway {version('ticket-gateway')}\n"


def test_api_token_create_prints_the_token_alone(env):
    assert cli("account", "add", "ada@store.test", "--name", "Ada", "--role", "admin").code == 0
    result = cli("api-token", "create", "--for", "ada@store.test", "--label", "script")
    assert result.code == 0 and "shown only now" in result.err
    token = result.out.removesuffix("\n")
    assert token and "\n" not in token and " " not in token
    assert cli("api-token", "list", "--json").json()[0]["label"] == "script"
