"""Settings from the environment and a TOML file."""

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
    assert s.database_url == "sqlite:///var/gateway.db"
    assert s.support == "support@localhost"
    assert (s.smtp_port, s.http_port) == (2525, 8025)
    assert s.invite_ttl == 7 * 86400 and s.max_message_bytes == 26214400
    assert not s.relay_configured and s.outbox_dir == "var/outbox"


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
