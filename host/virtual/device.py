"""Talking to a handheld (real or virtual) over a host.link.Link: requests that wait for
their ACK/NAK, tasking and calibration uploads, and waiting for records.

    link = Link(url).start()
    dev = DeviceClient(link)
    dev.upload_tasking(blob)          # -> the ACK or NAK record of the last chunk
    dev.request(P.START)
    meas = dev.wait(lambda r: r["kind"] == "MEAS", timeout_s=2)

Every record the link delivers is kept in ``dev.records`` in arrival order, so waiting for
one record never loses the others.
"""

import queue
import time

from firmware import protocol as P

CHUNK = P.MAX_PAYLOAD - P.PAYLOAD_SIZE[P.TASKING]


class DeviceClient:
    def __init__(self, link):
        if link.records is None:
            raise ValueError("DeviceClient needs a Link made without on_record (it reads .records)")
        self.link = link
        self.records = []
        self._seen = 0

    def _pull(self, timeout_s):
        try:
            rec = self.link.records.get(timeout=timeout_s)
        except queue.Empty:
            return False
        self.records.append(rec)
        return True

    def drain(self):
        while self._pull(0):
            pass
        return self.records

    def wait(self, pred, timeout_s=3.0, since=None):
        """The first record (at or after index `since`, default: not yet waited past) that
        satisfies pred; raise TimeoutError after timeout_s."""
        start = self._seen if since is None else since
        deadline = time.monotonic() + timeout_s
        i = start
        while True:
            while i < len(self.records):
                rec = self.records[i]
                i += 1
                if pred(rec):
                    self._seen = i
                    return rec
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching record within %.1f s" % timeout_s)
            self._pull(min(left, 0.1))

    def collect(self, duration_s, kinds=None):
        """Records arriving during the next duration_s (optionally only these kinds)."""
        start = len(self.drain())
        end = time.monotonic() + duration_s
        while time.monotonic() < end:
            self._pull(min(0.1, max(0.0, end - time.monotonic())))
        self._seen = len(self.records)
        got = self.records[start:]
        return [r for r in got if kinds is None or r["kind"] in kinds]

    def request(self, msg_type, fields=(), tail=b"", timeout_s=3.0):
        """Send one message; return the device's ACK or NAK record for it."""
        since = len(self.drain())
        seq = self.link.send(msg_type, fields, tail)
        return self.wait(lambda r: r["kind"] in ("ACK", "NAK") and
                         r.get("acked_seq", r.get("nacked_seq")) == seq and
                         r.get("acked_type", r.get("nacked_type")) == msg_type,
                         timeout_s, since=since)

    def upload_tasking(self, blob, timeout_s=3.0):
        """Send a signed tasking in chunks; return the ACK/NAK of the first refused or the
        last chunk."""
        chunks = [blob[i:i + CHUNK] for i in range(0, len(blob), CHUNK)] or [b""]
        rec = None
        for i, c in enumerate(chunks):
            rec = self.request(P.TASKING, (i, len(chunks)), c, timeout_s)
            if rec["kind"] == "NAK":
                return rec
        return rec

    def upload_calibration(self, doc, timeout_s=3.0):
        """Send a calibration table (the JSON of hardware/calibration/); return the last ACK/NAK."""
        entries = doc["entries"]
        rec = None
        for i, e in enumerate(entries):
            rec = self.request(P.SET_CALIBRATION, (
                doc["calibration_id"], i, len(entries), e["band_lo_mhz"], e["band_hi_mhz"],
                e["offset_cdb"], e["slope_e4"], e["temp_coef_mdb_per_c"], e["ref_temp_cdeg"],
                e["floor_cdbm"], e["knee_cdbm"], e.get("gain_db", 40)), timeout_s=timeout_s)
            if rec["kind"] == "NAK":
                return rec
        return rec
