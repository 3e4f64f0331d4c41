"""Settings from the environment and a TOML file."""

from pathlib import Path

import pytest

from gateway.config import ConfigError, Settings, load_settings, parse_duration, secret_key_bytes


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("15m", 900), ("12h", 43200), ("7d", 604800), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["7 days", "", "-1d", "1w"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_defaults_run_on_a_fresh_machine():
    s = load_settings(environ={})
    home = Path(__file__).resolve().parents[2]  # the checkout these tests run from
    assert s.home == str(home) and s.database_url == f"sqlite:///{home}/var/gateway.db"
    assert s.support == "support@localhost"
    assert (s.smtp_port, s.http_port) == (2525, 8025)
    assert s.invite_ttl == 7 * 86400 and s.max_message_bytes == 26214400
    assert not s.relay_configured and s.outbox_dir == str(home / "var" / "outbox")


def test_relative_paths_are_read_against_the_home_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={"GATEWAY_HOME": "/srv/gw", "GATEWAY_DATABASE_URL": "sqlite:///data/g.db"})
    assert (s.home, s.database_url, s.outbox_dir) == ("/srv/gw", "sqlite:////srv/gw/data/g.db", "/srv/gw/var/outbox")
    absolute = load_settings(environ={"GATEWAY_HOME": "/srv/gw", "GATEWAY_DATABASE_URL": "sqlite:////tmp/g.db",
                                      "GATEWAY_OUTBOX_DIR": "/tmp/out"})
    assert (absolute.database_url, absolute.outbox_dir) == ("sqlite:////tmp/g.db", "/tmp/out")
    pg = "postgresql+psycopg://u@h/db"
    assert load_settings(environ={"GATEWAY_DATABASE_URL": pg}).database_url == pg
    assert load_settings(environ={"GATEWAY_HOME": "rel"}).home == str(tmp_path / "rel")


def test_a_missing_key_is_not_made_when_the_command_only_reads(tmp_path):
    from gateway.config import KeyMissing

    with pytest.raises(KeyMissing):
        secret_key_bytes(Settings(home=str(tmp_path)), create=False)
    assert not (tmp_path / "var").exists()
    made = secret_key_bytes(Settings(home=str(tmp_path)))
    assert (tmp_path / "var" / "secret.key").read_text().encode() == made
    assert secret_key_bytes(Settings(home=str(tmp_path)), create=False) == made


def test_environment_overrides_toml(tmp_path):
    config = tmp_path / "gw.toml"
    config.write_text('mail_domain = "shop.example"\nstore_name = "Beans"\ninvite_ttl = "12h"\n')
    s = load_settings(str(config), environ={"GATEWAY_STORE_NAME": "Coffee"})
    assert (s.mail_domain, s.store_name, s.invite_ttl) == ("shop.example", "Coffee", 43200)
    assert s.support == "support@shop.example"


def test_unknown_toml_keys_and_bad_numbers_are_refused(tmp_path):
    config = tmp_path / "gw.toml"
    config.write_text('mail_domian = "typo.example"\n')
    with pytest.raises(ConfigError, match="mail_domian"):
        load_settings(str(config), environ={})
    with pytest.raises(ConfigError, match="GATEWAY_SMTP_PORT"):
        load_settings(environ={"GATEWAY_SMTP_PORT": "twenty"})


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = secret_key_bytes(Settings(), tmp_path)
    assert secret_key_bytes(Settings(), tmp_path) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert secret_key_bytes(Settings(secret_key="operator-key"), tmp_path) == b"operator-key"


def test_new_ticket_alerts_take_one_of_three_values():
    assert load_settings(environ={}).new_ticket_alerts == "staff"  # the SPEC default
    assert load_settings(environ={"GATEWAY_NEW_TICKET_ALERTS": "staff"}).new_ticket_alerts == "staff"
    with pytest.raises(ConfigError, match="GATEWAY_NEW_TICKET_ALERTS: 'everyone' is not one of none, admins, staff"):
        load_settings(environ={"GATEWAY_NEW_TICKET_ALERTS": "everyone"})
