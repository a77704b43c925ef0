"""Bench fixtures: the pyvisa-sim generator and Hamlib's dummy rotator, started and
stopped by the tests themselves."""

import shutil
import socket
import subprocess
import time

import pytest

from host.bench.generator import open_generator


@pytest.fixture
def generator():
    gen = open_generator(simulated=True)
    yield gen
    gen.close()


@pytest.fixture
def rotctld_port():
    """``rotctld -m 1 -T 127.0.0.1 -t <free port>`` for one test."""
    binary = shutil.which("rotctld")
    if binary is None:
        pytest.fail("rotctld not found: install Debian's libhamlib-utils")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "-m", "1", "-T", "127.0.0.1", "-t", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5.0
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "rotctld did not start"
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=5)
