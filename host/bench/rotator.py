"""Turntable client for Hamlib's ``rotctld`` TCP protocol.

``rotctld`` answers one command per line: ``p`` (get position) returns the
azimuth and elevation on two lines, set/stop commands (``P az el``, ``S``)
return ``RPRT 0`` on success and ``RPRT -n`` (a Hamlib error code) on failure.
Any rotator Hamlib supports (``rotctld -l``) is then reachable the same way;
``rotctld -m 1`` is Hamlib's dummy rotator, which turns at a finite speed.
"""
import socket
import threading
import time


class RotatorError(RuntimeError):
    """rotctld refused a command, timed out or closed the connection."""


def angle_diff_deg(a_deg, b_deg):
    """Smallest signed difference ``a - b`` in degrees, in [-180, 180)."""
    return (a_deg - b_deg + 180.0) % 360.0 - 180.0


class Rotctld:
    """A connection to a ``rotctld`` daemon.

    Parameters
    ----------
    host : str
    port : int
        ``rotctld -t`` port (Hamlib's default is 4533).
    timeout_s : float
        Socket timeout for one answer.
    """

    def __init__(self, host="127.0.0.1", port=4533, *, timeout_s=5.0):
        self.address = f"{host}:{port}"
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise RotatorError(
                f"cannot reach rotctld at {self.address}: {exc}; "
                "start it with e.g. `rotctld -m <model> -r <port> -t 4533`") from None
        self._buf = b""
        self._lock = threading.Lock()

    def _readline(self):
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(4096)
            except OSError as exc:
                raise RotatorError(f"rotctld at {self.address}: {exc}") from None
            if not chunk:
                raise RotatorError(f"rotctld at {self.address} closed the connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("ascii", "replace").strip()

    def _command(self, line, n_values):
        """Send one command; return its ``n_values`` answer lines.

        Set commands answer only ``RPRT n``; get commands answer their values,
        or ``RPRT n`` (n < 0) instead when they fail.
        """
        with self._lock:
            self._sock.sendall(line.encode("ascii") + b"\n")
            first = self._readline()
            if first.startswith("RPRT"):
                code = int(first.split()[1])
                if code != 0 or n_values:
                    raise RotatorError(
                        f"rotctld at {self.address} refused {line!r}: RPRT {code}")
                return []
            values = [first] + [self._readline() for _ in range(n_values - 1)]
            return values

    def position(self):
        """Return ``(azimuth_deg, elevation_deg)``."""
        az, el = self._command("p", 2)
        return float(az), float(el)

    def set_position(self, azimuth_deg, elevation_deg=0.0):
        """Command a move; returns at once (the rotator turns at its own speed)."""
        self._command(f"P {azimuth_deg:.2f} {elevation_deg:.2f}", 0)

    def stop(self):
        """Stop any movement."""
        self._command("S", 0)

    def move_to(self, azimuth_deg, *, tolerance_deg=0.5, timeout_s=120.0, poll_s=0.1):
        """Move to ``azimuth_deg`` and wait until the rotator reports arrival.

        Returns
        -------
        float
            The azimuth reported on arrival.
        """
        self.set_position(azimuth_deg)
        deadline = time.monotonic() + timeout_s
        while True:
            az, _ = self.position()
            if abs(angle_diff_deg(az, azimuth_deg)) <= tolerance_deg:
                return az
            if time.monotonic() > deadline:
                self.stop()
                raise RotatorError(
                    f"rotator at {self.address} stuck at {az:.1f} deg on the way to "
                    f"{azimuth_deg:.1f} deg after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def close(self):
        """Close the TCP connection (the daemon keeps running)."""
        try:
            with self._lock:
                self._sock.sendall(b"q\n")
        except OSError:
            pass
        self._sock.close()
