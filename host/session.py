"""The session store: one SQLite file per hunt.

Nothing lost: a record is inserted before anyone shows it, and a background timer
commits at least every ``commit_interval_s`` (0.25 s), so a killed recorder loses at most
the last fraction of a second and the file always opens cleanly (WAL journal).

The file holds the tasking (IMSIs masked), every decoded frame as a record, the
measurements in their own indexed table, marks and host events, and the calibration id
in force. ``PRAGMA application_id`` marks it as ours and ``PRAGMA user_version`` is the
schema version, upgraded in place by the migrations below.
"""

import json
import os
import sqlite3
import threading
import time
import uuid

from host.privacy import mask_checked

APPLICATION_ID = 0x52464844  # "RFHD"
SCHEMA_VERSION = 1

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tasking (id INTEGER PRIMARY KEY, set_s REAL NOT NULL, json TEXT NOT NULL);
CREATE TABLE targets (
    target INTEGER PRIMARY KEY, label TEXT NOT NULL, imsi_masked TEXT,
    rat TEXT, channel INTEGER, freq_hz REAL);
CREATE TABLE records (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, rx_time_s REAL, seq INTEGER,
    device_time_ms INTEGER, json TEXT NOT NULL);
CREATE INDEX records_kind ON records (kind, id);
CREATE TABLE measurements (
    record_id INTEGER PRIMARY KEY REFERENCES records (id), target INTEGER NOT NULL,
    rx_time_s REAL, device_time_ms INTEGER, rssi_dbm REAL, raw_rssi INTEGER, gain_db INTEGER,
    heading_deg REAL, lat_deg REAL, lon_deg REAL, alt_m REAL, floor INTEGER, flags INTEGER);
CREATE INDEX measurements_target ON measurements (target, record_id);
CREATE TABLE outbox_acks (record_id INTEGER PRIMARY KEY, acked_s REAL NOT NULL);
"""

# Migrations from version k to k+1; a file of version 0 is a fresh file.
_MIGRATIONS = {0: _SCHEMA_V1}


class SessionError(Exception):
    """A session file that cannot be used; the message is one line for the user."""


def mask_tasking(tasking):
    """A copy of a tasking dict with every ``imsi`` value masked (for storage and display)."""
    if isinstance(tasking, dict):
        return {k: (mask_checked(v) if k == "imsi" and v is not None else mask_tasking(v))
                for k, v in tasking.items()}
    if isinstance(tasking, list):
        return [mask_tasking(v) for v in tasking]
    return tasking


def _connect(path, readonly=False):
    try:
        if readonly:
            con = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(path), uri=True,
                                  check_same_thread=False)
        else:
            con = sqlite3.connect(path, check_same_thread=False)
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise SessionError("%s: not a readable session file (%s); "
                           "check the path or restore it from the archive" % (path, exc)) from None
    return con, app_id, version


def _check_ours(path, app_id, version, empty_ok):
    if app_id == 0 and version == 0 and empty_ok:
        return
    if app_id != APPLICATION_ID:
        raise SessionError("%s: not an rfhound session file (SQLite application id 0x%08x); "
                           "pass a file recorded by rfhound" % (path, app_id))
    if version > SCHEMA_VERSION:
        raise SessionError("%s: session schema v%d is newer than this rfhound (v%d); "
                           "upgrade rfhound" % (path, version, SCHEMA_VERSION))


def _migrate(con, version):
    while version < SCHEMA_VERSION:
        con.executescript(_MIGRATIONS[version])
        version += 1
        con.execute("PRAGMA user_version = %d" % version)
    con.execute("PRAGMA application_id = %d" % APPLICATION_ID)
    con.commit()


def upgrade(path):
    """Bring an older session file to the current schema in place."""
    con, app_id, version = _connect(path)
    try:
        _check_ours(path, app_id, version, empty_ok=False)
        _migrate(con, version)
    finally:
        con.close()


class SessionWriter:
    """Record one hunt. Thread-safe; ``record`` inserts at once, a timer commits."""

    def __init__(self, path, *, tasking=None, calibration_id=None, meta=None,
                 commit_interval_s=0.25):
        if os.path.exists(path) and os.path.getsize(path) > 0:
            raise SessionError("%s: already exists; choose a new file name for a new session" % path)
        self.path = path
        con, _, _ = _connect(path)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        _migrate(con, 0)
        self._con = con
        self._lock = threading.Lock()
        self._dirty = False
        self._closed = False
        self.session_id = str(uuid.uuid4())
        info = {"session_id": self.session_id, "created_s": repr(time.time()),
                "schema_version": str(SCHEMA_VERSION)}
        if calibration_id is not None:
            info["calibration_id"] = str(calibration_id)
        info.update({k: str(v) for k, v in (meta or {}).items()})
        self.session_id = info["session_id"]
        con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", info.items())
        con.commit()
        if tasking is not None:
            self.set_tasking(tasking)
        self._interval = commit_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._commit_loop, name="rfhound-session",
                                        daemon=True)
        self._thread.start()

    def set_meta(self, key, value):
        with self._lock:
            self._con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                              (key, str(value)))
            self._dirty = True

    def set_tasking(self, tasking):
        """Store the tasking in force (masked) and its target table."""
        masked = mask_tasking(tasking)
        with self._lock:
            self._con.execute("INSERT INTO tasking (set_s, json) VALUES (?, ?)",
                              (time.time(), json.dumps(masked, sort_keys=True)))
            self._con.execute("DELETE FROM targets")
            for index, t in enumerate(masked.get("targets", [])):
                self._con.execute(
                    "INSERT INTO targets (target, label, imsi_masked, rat, channel, freq_hz) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (index, t.get("label", "T%d" % (index + 1)), t.get("imsi"), t.get("rat"),
                     t.get("channel"), t.get("freq_hz")))
            self._dirty = True

    def record(self, rec, record_id=None):
        """Insert one record dict (see host.records); returns its id."""
        body = json.dumps(rec, sort_keys=True, separators=(",", ":"))
        with self._lock:
            if self._closed:
                raise SessionError("%s: session is closed" % self.path)
            cur = self._con.execute(
                "INSERT INTO records (id, kind, rx_time_s, seq, device_time_ms, json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (record_id, rec["kind"], rec.get("rx_time_s"), rec.get("seq"),
                 rec.get("device_time_ms"), body))
            rid = cur.lastrowid
            if rec["kind"] == "MEAS":
                self._con.execute(
                    "INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (rid, rec["target"], rec.get("rx_time_s"), rec.get("device_time_ms"),
                     rec.get("rssi_dbm"), rec.get("raw_rssi"), rec.get("gain_db"),
                     rec.get("heading_deg"), rec.get("lat_deg"), rec.get("lon_deg"),
                     rec.get("alt_m"), rec.get("floor"), rec.get("flags")))
            elif rec["kind"] == "HELLO" and rec.get("calibration_id") is not None:
                self._con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                  ("calibration_id", str(rec["calibration_id"])))
                self._con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                  ("device_id", str(rec.get("device_id"))))
            self._dirty = True
        return rid

    def event(self, text, **fields):
        """Record a host-side event (connected, tasking sent, recording started...)."""
        rec = {"kind": "EVENT", "text": text, "rx_time_s": time.time()}
        rec.update(fields)
        return self.record(rec)

    def commit(self):
        with self._lock:
            if self._dirty and not self._closed:
                self._con.commit()
                self._dirty = False

    def _commit_loop(self):
        while not self._stop.wait(self._interval):
            self.commit()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2.0)
        with self._lock:
            if not self._closed:
                self._con.commit()
                self._con.close()
                self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SessionReader:
    """Read a session file (also one still being written)."""

    def __init__(self, path):
        if not os.path.exists(path):
            raise SessionError("%s: no such session file" % path)
        self.path = path
        con, app_id, version = _connect(path, readonly=True)
        try:
            _check_ours(path, app_id, version, empty_ok=False)
            if version < SCHEMA_VERSION:
                raise SessionError("%s: session schema v%d is older than v%d; run "
                                   "'rfhound export' after upgrading it with host.session.upgrade"
                                   % (path, version, SCHEMA_VERSION))
            ok = con.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise SessionError("%s: session file is damaged (%s); restore it from the "
                                   "archive" % (path, ok))
            self.meta = dict(con.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            con.close()
            raise SessionError("%s: session file is damaged (%s); restore it from the archive"
                               % (path, exc)) from None
        except SessionError:
            con.close()
            raise
        self._con = con

    def close(self):
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def session_id(self):
        return self.meta.get("session_id")

    @property
    def calibration_id(self):
        return self.meta.get("calibration_id")

    @property
    def tasking(self):
        row = self._con.execute("SELECT json FROM tasking ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    def targets(self):
        """{target index: {label, imsi_masked, rat, channel, freq_hz}}."""
        rows = self._con.execute(
            "SELECT target, label, imsi_masked, rat, channel, freq_hz FROM targets")
        return {r[0]: {"label": r[1], "imsi_masked": r[2], "rat": r[3], "channel": r[4],
                       "freq_hz": r[5]} for r in rows}

    def records(self, kinds=None, after_id=0):
        """Iterate record dicts (each with its ``id``) in recording order."""
        sql = "SELECT id, json FROM records WHERE id > ?"
        args = [after_id]
        if kinds:
            sql += " AND kind IN (%s)" % ",".join("?" * len(kinds))
            args.extend(kinds)
        for rid, body in self._con.execute(sql + " ORDER BY id", args):
            rec = json.loads(body)
            rec["id"] = rid
            yield rec

    def count(self, kind=None):
        if kind is None:
            return self._con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        return self._con.execute("SELECT COUNT(*) FROM records WHERE kind = ?",
                                 (kind,)).fetchone()[0]

    def measurements(self):
        """MEAS records with ``target_label`` added from the tasking's target table."""
        labels = {k: v["label"] for k, v in self.targets().items()}
        out = []
        for rec in self.records(kinds=("MEAS",)):
            rec["target_label"] = labels.get(rec["target"], "T%d" % (rec["target"] + 1))
            out.append(rec)
        return out
