"""--broker URL, TLS and login options: defaults from the MQTT ports, bad input in one line."""

import argparse

import pytest

from host.errors import UserError
from host.ops.options import PASSWORD_ENV, add_broker_arguments, config_from_args


def _args(*argv):
    parser = argparse.ArgumentParser()
    add_broker_arguments(parser)
    return parser.parse_args(argv)


def test_plain_url_defaults_to_port_1883(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    cfg = config_from_args(_args("--broker", "mqtt://ops.example", "--allow-insecure"))
    assert (cfg.host, cfg.port, cfg.tls, cfg.username, cfg.password) == ("ops.example", 1883, False, None, None)
    assert cfg.allow_insecure


def test_mqtts_url_is_tls_on_port_8883(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = config_from_args(_args("--broker", "mqtts://ops.example", "--cafile", str(ca), "--username", "ops"))
    assert (cfg.port, cfg.tls, cfg.cafile) == (8883, True, str(ca))


def test_cafile_alone_turns_tls_on_and_keeps_an_explicit_port(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = config_from_args(_args("--broker", "mqtt://10.0.0.5:18883", "--cafile", str(ca), "--username", "ops"))
    assert (cfg.host, cfg.port, cfg.tls) == ("10.0.0.5", 18883, True)


def test_password_from_file_or_environment(tmp_path, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\nignored\n")
    cfg = config_from_args(_args("--broker", "mqtts://h", "--username", "north", "--password-file", str(pw)))
    assert (cfg.username, cfg.password) == ("north", "s3cret")
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    cfg = config_from_args(_args("--broker", "mqtts://h", "--username", "north"))
    assert cfg.password == "from-env"


@pytest.mark.parametrize("argv, why", [
    (("--broker", "http://h"), "is not mqtt://"),
    (("--broker", "h:1883"), "is not mqtt://"),
    (("--broker", "mqtt://u:p@h"), "must not carry credentials"),
    (("--broker", "mqtt://h:99999"), "bad port"),
    (("--broker", "mqtt://h", "--password-file", "/nonexistent/pw"), "does not exist"),
    (("--broker", "mqtt://h", "--cafile", "/nonexistent/ca.pem"), "does not exist"),
    (("--broker", "mqtt://h", "--keyfile", "/nonexistent/k.pem"), "needs --certfile"),
])
def test_bad_options_are_one_line_user_errors(argv, why, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(UserError, match=why) as err:
        config_from_args(_args(*argv))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("argv, why", [
    (("--broker", "mqtt://ops.example", "--username", "north"), "is plain TCP"),
    (("--broker", "mqtts://ops.example"), "would be used anonymously"),
])
def test_plain_or_anonymous_brokers_are_refused_without_allow_insecure(argv, why, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(UserError, match=why) as err:
        config_from_args(_args(*argv))
    assert "--allow-insecure" in str(err.value) and "\n" not in str(err.value)
    assert config_from_args(_args(*argv, "--allow-insecure")).allow_insecure


def test_a_client_certificate_is_not_anonymous(tmp_path):
    cert = tmp_path / "north.pem"
    cert.write_text("x")
    cfg = config_from_args(_args("--broker", "mqtts://ops.example", "--certfile", str(cert)))
    assert cfg.tls and not cfg.anonymous
