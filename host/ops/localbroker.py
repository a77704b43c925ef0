"""A private Mosquitto broker on 127.0.0.1 for tests, benches and one-machine use.

The broker gets its own configuration, password file, persistence directory and
log under a work directory, listens on a free port on the loopback interface only,
and can be stopped and started again on the same port (to play a coverage gap).
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalMosquitto:
    """Run ``mosquitto -c <own conf>`` on 127.0.0.1 with a password file.

    Parameters
    ----------
    workdir : path-like
        Directory for the configuration, password file, persistence and log.
    users : dict
        ``{username: password}`` written with ``mosquitto_passwd``; anonymous
        clients are refused.
    port : int, optional
        TCP port; a free one is picked when omitted.
    tls : dict, optional
        ``{"cafile", "certfile", "keyfile"}`` PEM paths: the listener speaks TLS.
    client_certs : bool
        With `tls`, require a client certificate signed by the CA and take the
        user name from its common name (instead of a password).
    acl : list of str, optional
        Lines of a Mosquitto ACL file (``user ops``, ``topic read rfhound/v1/#``,
        ``pattern write rfhound/v1/%u/#``...); without it every user may do anything.

    Notes
    -----
    Persistence is on and saved every second, and the per-client queue is
    unbounded: a subscriber that falls behind a burst of re-sent records (after a
    coverage gap) must not have QoS 1 messages dropped by the broker's default
    limit of 1000 queued messages.
    """

    def __init__(self, workdir, users, port=None, tls=None, client_certs=False, acl=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = dict(users)
        self.tls = dict(tls) if tls else None
        self.client_certs = client_certs
        self.acl = list(acl) if acl is not None else None
        self.proc = None
        self.conf_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self._write_files()

    @property
    def url(self):
        """Broker URL for ``--broker``."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def _write_files(self):
        passwd = self.workdir / "passwd"
        passwd.unlink(missing_ok=True)
        passwd.touch(mode=0o600)
        for name, password in self.users.items():
            subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), name, password],
                           check=True, capture_output=True)
        store = self.workdir / "store"
        store.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            "persistence true",
            f"persistence_location {store}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            "max_inflight_messages 100",
            *self._tls_lines(),
            *self._acl_lines(),
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if os.geteuid() == 0:
            # Mosquitto run as root drops to user "mosquitto", which cannot read
            # files in a root-owned temporary directory.
            lines.append("user root")
        self.conf_path.write_text("\n".join(lines) + "\n")

    def _tls_lines(self):
        if not self.tls:
            return []
        lines = [f"{key} {self.tls[key]}" for key in ("cafile", "certfile", "keyfile")]
        if self.client_certs:
            lines += ["require_certificate true", "use_identity_as_username true"]
        return lines

    def _acl_lines(self):
        if self.acl is None:
            return []
        path = self.workdir / "acl"
        path.write_text("\n".join(self.acl) + "\n")
        return [f"acl_file {path}"]

    def start(self, timeout_s=10.0):
        """Start the broker and wait until it accepts TCP connections."""
        if self.proc is not None:
            raise RuntimeError("mosquitto already running")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip()
                self.proc = None
                raise RuntimeError(f"mosquitto exited at start on port {self.port}: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def stop(self, timeout_s=10.0):
        """Stop the broker gracefully (SIGTERM saves its persistence file)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        self.proc = None

    def kill(self):
        """SIGKILL the broker: it saves nothing, as in a power cut (persistence is saved every second)."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
