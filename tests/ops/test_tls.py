"""TLS to the broker: a trusted CA, an untrusted one, a plain port, client certificates."""

import subprocess
import time

import pytest

from host.ops.centre import OpsCentre
from host.ops.localbroker import LocalMosquitto
from host.ops.options import BrokerConfig
from host.errors import UserError
from host.session import SessionWriter


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throw-away CA, a server certificate for 127.0.0.1 and client certificates (EC P-256)."""
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=rfhound test CA", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn, ext in (("server", "127.0.0.1", ("-extfile", "san.ext")), ("north", "north", ()),
                          ("ops", "ops", ())):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *ext, cwd=d)
    # A second CA that signed nothing of ours: trusting it must not be enough.
    _openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
             "-subj", "/CN=someone else", cwd=d)
    return d


def _server_tls(pki):
    return {"cafile": pki / "ca.pem", "certfile": pki / "server.pem", "keyfile": pki / "server.key"}


def _session(kit, path, n=200):
    with SessionWriter(str(path), tasking=kit.taskings["north"]) as writer:
        for rec in kit.hunt_records(n, 7):
            writer.record(rec)


def _relay(kit, broker, path, *extra):
    return kit.rfhound("relay", "--broker", broker.url, "--team", "north", "--once", path, *extra)


def _wait_stored(centre, n, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while centre.stats["stored"] < n:
        assert time.monotonic() < deadline, centre.stats
        time.sleep(0.05)


def test_tls_with_password_archives_the_session(tmp_path, pki, kit):
    path = tmp_path / "north.sqlite"
    _session(kit, path)
    with LocalMosquitto(tmp_path / "broker", kit.users, tls=_server_tls(pki)) as broker:
        assert broker.url.startswith("mqtts://")
        config = BrokerConfig("127.0.0.1", broker.port, tls=True, username="ops",
                              password=kit.users["ops"], cafile=str(pki / "ca.pem"))
        centre = OpsCentre(config, tmp_path / "archive").start(timeout_s=10)
        try:
            relay = _relay(kit, broker, path, "--cafile", pki / "ca.pem", "--username", "north",
                           "--password-file", kit.password_file(tmp_path, "north"))
            _, err = relay.communicate(timeout=60)
            assert relay.returncode == 0, err
            _wait_stored(centre, 200)
        finally:
            centre.stop()
        sid = kit.session_records(path)[0]["session_id"]
        assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)


def test_an_untrusted_broker_certificate_is_one_clear_line(tmp_path, pki, kit):
    path = tmp_path / "north.sqlite"
    _session(kit, path, 5)
    with LocalMosquitto(tmp_path / "broker", kit.users, tls=_server_tls(pki)) as broker:
        relay = _relay(kit, broker, path, "--cafile", pki / "other.pem", "--username", "north",
                       "--password-file", kit.password_file(tmp_path, "north"))
        _, err = relay.communicate(timeout=30)
    assert relay.returncode == 2
    assert err.strip().splitlines()[-1].startswith("rfhound relay: error: broker mqtts://127.0.0.1:")
    assert "TLS certificate is not trusted" in err and "--cafile" in err and "Traceback" not in err


def test_tls_to_a_plain_port_names_the_last_failure(broker, tmp_path, kit):
    # Mosquitto resets a TLS hello on a plain listener: indistinguishable from a
    # patchy link, so it is retried; the give-up message says what was seen.
    config = BrokerConfig("127.0.0.1", broker.port, tls=True, username="ops", password=kit.users["ops"])
    with pytest.raises(UserError, match=r"not reachable within 2 s \(last attempt: .*reset.*mqtts://") as err:
        OpsCentre(config, tmp_path / "archive").start(timeout_s=2)
    assert "\n" not in str(err.value)


def test_client_certificates_replace_passwords(tmp_path, pki, kit):
    path = tmp_path / "north.sqlite"
    _session(kit, path, 50)
    with LocalMosquitto(tmp_path / "broker", {}, tls=_server_tls(pki), client_certs=True) as broker:
        config = BrokerConfig("127.0.0.1", broker.port, tls=True, cafile=str(pki / "ca.pem"),
                              certfile=str(pki / "ops.pem"), keyfile=str(pki / "ops.key"))
        centre = OpsCentre(config, tmp_path / "archive").start(timeout_s=10)
        try:
            relay = _relay(kit, broker, path, "--cafile", pki / "ca.pem",
                           "--certfile", pki / "north.pem", "--keyfile", pki / "north.key")
            _, relay_err = relay.communicate(timeout=60)
            assert relay.returncode == 0, relay_err
            _wait_stored(centre, 50)
        finally:
            centre.stop()
        sid = kit.session_records(path)[0]["session_id"]
        assert kit.session_records(tmp_path / "archive" / "north" / f"{sid}.sqlite") == kit.session_records(path)
