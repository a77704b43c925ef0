"""The host link over a real pty pair: exact error counters, and a port that goes away
and comes back mid-stream."""

import os
import time

import pytest

from firmware import protocol as P
from host.link import Link


def _meas(seq, target=0):
    return P.encode(P.MEAS, seq, 1000 + seq, (target, 0, -7000 - seq, 400, 30, 4500,
                                              311234567, 1214567890, 100, 0, 50))


def _bad_crc(seq):
    good = P.cobs_decode(_meas(seq)[:-1])
    raw = bytearray(good)
    raw[-1] ^= 0x5A  # corrupt the CRC itself: the frame's bytes stay well-formed COBS
    out = bytearray(len(raw) + 4)
    n = P.cobs_encode_into(raw, len(raw), out)
    return bytes(out[:n])


class Pty:
    """A pty pair whose slave is reached through a stable symlink, like a udev name."""

    def __init__(self, link_path):
        self.link_path = link_path
        self.master = None
        self.open()

    def open(self):
        self.master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        tmp = self.link_path + ".new"
        os.symlink(name, tmp)
        os.replace(tmp, self.link_path)

    def write(self, data):
        os.write(self.master, data)

    def close(self):
        os.close(self.master)


def _wait(cond, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_counters_report_exactly_the_injected_corruption(tmp_path):
    pty = Pty(str(tmp_path / "ttyRF0"))
    got = []
    link = Link(str(tmp_path / "ttyRF0"), on_record=got.append).start()
    try:
        assert link.wait_connected()
        hello = P.encode(P.HELLO, 0, 5, (0, 1, 0, 1, 0x52460001, 7, 0x1F, 128))
        stream = [hello]
        seq = 1
        expected_meas = 0
        for i in range(60):
            if i in (10, 30, 45):
                stream.append(_bad_crc(seq))  # 3 CRC errors, each also a lost frame
                seq += 1
                continue
            if i in (20, 40):
                stream.append(b"\xfe\xfe\xfe\x00")  # 2 pieces of garbage: COBS errors
            if i == 50:
                seq += 4  # 4 frames never sent: one more gap
            stream.append(_meas(seq))
            expected_meas += 1
            seq += 1
        # then the device reboots: HELLO with seq 0 and a clock back at zero
        stream.append(P.encode(P.HELLO, 0, 3, (0, 1, 0, 1, 0x52460001, 7, 0x1F, 128)))
        stream.append(_meas(1))
        expected_meas += 1
        blob = b"".join(stream)
        for i in range(0, len(blob), 97):  # arbitrary chunking across frame boundaries
            pty.write(blob[i:i + 97])
        assert _wait(lambda: len(got) == expected_meas + 2)
        s = link.stats()
        assert s["crc_errors"] == 3
        assert s["cobs_errors"] == 2
        assert s["other_errors"] == 0
        assert s["seq_gaps"] == 4  # the 3 corrupted frames + the 4 skipped numbers
        assert s["lost_frames"] == 3 + 4
        assert s["device_resets"] == 1
        assert s["frames"] == expected_meas + 2
        rssi = [r["rssi_dbm"] for r in got if r["kind"] == "MEAS"]
        assert rssi[0] == pytest.approx(-70.01)
    finally:
        link.stop()
        pty.close()


def test_port_closed_and_reopened_mid_stream(tmp_path):
    path = str(tmp_path / "ttyRF1")
    pty = Pty(path)
    got = []
    states = []
    link = Link(path, on_record=got.append, reconnect_s=0.05,
                on_state=lambda s, e: states.append(s)).start()
    try:
        assert link.wait_connected()
        for seq in range(10):
            pty.write(_meas(seq))
        assert _wait(lambda: len(got) == 10)
        pty.close()  # unplugged
        assert _wait(lambda: not link.connected)
        pty.open()  # plugged in again: a new pty behind the same name
        assert _wait(lambda: link.connected)
        for seq in range(10, 20):
            pty.write(_meas(seq))
        assert _wait(lambda: len(got) == 20)
        assert [r["seq"] for r in got] == list(range(20))
        s = link.stats()
        assert s["reconnects"] == 1
        assert s["crc_errors"] == 0 and s["lost_frames"] == 0
        assert states[:3] == ["connected", "disconnected", "connected"]
    finally:
        link.stop()
        pty.close()


def test_send_reaches_the_device_side(tmp_path):
    path = str(tmp_path / "ttyRF2")
    pty = Pty(path)
    link = Link(path, on_record=lambda r: None).start()
    try:
        assert link.wait_connected()
        seq = link.send(P.PING, (0xCAFE,))
        data = b""
        deadline = time.monotonic() + 3
        while not data.endswith(b"\x00") and time.monotonic() < deadline:
            data += os.read(pty.master, 256)
        frames = P.Deframer().feed(data)
        assert [(f.msg_type, f.seq, f.fields()) for f in frames] == [(P.PING, seq, (0xCAFE,))]
    finally:
        link.stop()
        pty.close()
