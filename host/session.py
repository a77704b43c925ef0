"""The session store: one SQLite file per hunt.

Nothing lost: a record is inserted before anyone shows it, and a background timer
commits at least every ``commit_interval_s`` (0.25 s), so a killed recorder loses at most
the last fraction of a second and the file always opens cleanly (WAL journal).

Storage faults stop the recording at once and say so: the first insert or commit that
fails (a full disk, a file that cannot be written) sets ``SessionWriter.error`` to one
line, rolls back what was not committed, and every later ``record`` raises
``SessionError`` with that line; ``n_stored`` counts only records committed to the file.
A clean ``close`` writes the stop mark (meta ``stopped_s``) and checkpoints the WAL, so
the ``.sqlite`` alone holds the whole session. A reader of a file that was not stopped
cleanly and has no ``-wal`` beside it says what may be missing (``SessionReader.missing``).

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

from host.privacy import mask_imsi

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

# Errors of one record, not of the storage: raised to the caller, recording goes on.
_BAD_RECORD = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
               sqlite3.DataError)

# Migrations from version k to k+1; a file of version 0 is a fresh file.
_MIGRATIONS = {0: _SCHEMA_V1}


class SessionError(Exception):
    """A session file that cannot be used; the message is one line for the user."""


def _wal_path(path):
    return str(path) + "-wal"


def _header_says_wal(path):
    """Whether the SQLite header of ``path`` marks it as a WAL-mode database (bytes 18-19 = 2)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[:16] == b"SQLite format 3\x00" and head[18] == 2


def _wal_missing(path):
    """Whether ``path`` is in WAL mode with no (or an empty) write-ahead log beside it.

    Checked before connecting: a connection creates an empty ``-wal`` of its own.
    """
    wal = _wal_path(path)
    return _header_says_wal(path) and (not os.path.exists(wal) or os.path.getsize(wal) == 0)


def mask_tasking(tasking):
    """A copy of a tasking dict with every ``imsi`` value masked (for storage and display)."""
    if isinstance(tasking, dict):
        return {k: (mask_imsi(v) if k == "imsi" and v is not None else mask_tasking(v))
                for k, v in tasking.items()}
    if isinstance(tasking, list):
        return [mask_tasking(v) for v in tasking]
    return tasking


def _utc(epoch_s):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_s))


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
    """Record one hunt. Thread-safe; ``record`` inserts at once, a timer commits.

    Attributes
    ----------
    error : str or None
        One line saying why recording stopped (the first failed insert or commit), else None.
    n_stored : int
        Records committed to the file (what a power cut now would keep).
    on_error : callable or None
        Called once with ``error`` from the thread that met the fault.
    """

    # Class-level defaults: subclasses that bypass __init__ (the ops archive's appender)
    # still have every attribute record() and commit() use.
    error = None
    n_stored = 0
    n_recorded = 0
    on_error = None

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
        """Insert one record dict (see host.records); returns its id.

        Raises
        ------
        SessionError
            The session is closed, or recording has stopped on a storage fault
            (the message is ``error``); the record is not stored.
        """
        body = json.dumps(rec, sort_keys=True, separators=(",", ":"))
        with self._lock:
            if self._closed:
                raise SessionError("%s: session is closed" % self.path)
            if self.error is not None:
                raise SessionError(self.error)
            try:
                rid = self._insert(rec, record_id, body)
            except _BAD_RECORD:
                raise  # the record's fault (a duplicate id, an unstorable value), not the disk's
            except sqlite3.DatabaseError as exc:
                raise SessionError(self._fail(exc)) from None
            self.n_recorded += 1
            self._dirty = True
        return rid

    def _insert(self, rec, record_id, body):
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
        return rid

    def _fail(self, exc):
        """Stop recording on a storage fault (lock held); return the one-line reason."""
        if self.error is not None:
            return self.error
        try:
            # what was not committed is lost with the fault: count only what the file holds
            self._con.rollback()
            n, last = self._con.execute("SELECT COUNT(*), MAX(id) FROM records").fetchone()
        except sqlite3.Error:
            n, last = self.n_stored, None
        self.n_stored = n
        where = "" if last is None else ", the last is record %d" % last
        self.error = ("%s: recording stopped: cannot write the session (%s); %d records are "
                      "stored%s; free disk space and record to a new file"
                      % (self.path, str(exc).strip() or type(exc).__name__, n, where))
        if self.on_error is not None:
            try:
                self.on_error(self.error)
            except Exception:  # a broken callback must not hide the fault itself
                pass
        return self.error

    def event(self, text, **fields):
        """Record a host-side event (connected, tasking sent, recording started...)."""
        rec = {"kind": "EVENT", "text": text, "rx_time_s": time.time()}
        rec.update(fields)
        return self.record(rec)

    def commit(self):
        """Commit what was recorded.

        Raises
        ------
        SessionError
            On a storage fault, now or earlier: recording has stopped (see ``error``).
        """
        with self._lock:
            if self.error is not None:
                raise SessionError(self.error)
            if self._dirty and not self._closed:
                try:
                    self._con.commit()
                except sqlite3.DatabaseError as exc:
                    raise SessionError(self._fail(exc)) from None
                self._dirty = False
                self.n_stored = self.n_recorded

    def _commit_loop(self):
        while not self._stop.wait(self._interval):
            try:
                self.commit()
            except SessionError:
                return  # said once, by error and on_error

    def close(self):
        """Commit, write the stop mark and checkpoint the WAL into the file; never raises for
        a storage fault (it is in ``error``)."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
            self._thread.join(timeout=2.0)
        with self._lock:
            if self._closed:
                return
            try:
                if self.error is None:
                    self._con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                      ("stopped_s", repr(time.time())))
                    self._con.commit()
                    self.n_stored = self.n_recorded
                    # everything into the main file: a copy of the .sqlite alone is complete
                    self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.DatabaseError as exc:
                self._fail(exc)
            finally:
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
        wal_missing = _wal_missing(path)  # before connecting: that makes an empty -wal
        con, app_id, version = _connect(path, readonly=True)
        try:
            if wal_missing and app_id == 0:
                raise SessionError(
                    "%s: holds no committed session data: the recorder was stopped without a "
                    "clean close and everything it recorded is in %s, which is not beside it; "
                    "copy that -wal file next to the .sqlite (same name) and try again"
                    % (path, os.path.basename(_wal_path(path))))
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
            self.missing = None
            if wal_missing and "stopped_s" not in self.meta:
                n, last, last_s = con.execute(
                    "SELECT COUNT(*), MAX(id), MAX(rx_time_s) FROM records").fetchone()
                self.missing = (
                    "%s: was not stopped cleanly and %s is not beside it: it holds %d records "
                    "(up to record %s%s); any recorded after that are in the missing -wal file, "
                    "copy it next to the .sqlite to read them"
                    % (path, os.path.basename(_wal_path(path)), n, last,
                       "" if last_s is None else ", " + _utc(last_s)))
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
    def stopped_cleanly(self):
        """Whether the recorder closed the session (stop mark written, WAL checkpointed)."""
        return "stopped_s" in self.meta

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

    #: Columns of ``iter_measurements`` rows, in order.
    MEASUREMENT_COLUMNS = ("record_id", "target", "rx_time_s", "device_time_ms", "rssi_dbm",
                           "heading_deg", "lat_deg", "lon_deg", "alt_m", "floor", "flags")

    def iter_measurements(self):
        """Yield the measurements table's rows as tuples (``MEASUREMENT_COLUMNS``) in record order.

        Streams from the indexed table: memory stays bounded however long the session,
        and no record's JSON is parsed.
        """
        cur = self._con.execute(
            "SELECT %s FROM measurements ORDER BY record_id" % ", ".join(self.MEASUREMENT_COLUMNS))
        while True:
            rows = cur.fetchmany(4096)
            if not rows:
                return
            yield from rows

    def flag_counts(self, mask):
        """``{target: (readings, readings with any of the flag bits in mask)}``."""
        rows = self._con.execute(
            "SELECT target, COUNT(*), SUM((COALESCE(flags, 0) & ?) != 0) FROM measurements "
            "GROUP BY target", (int(mask),))
        return {t: (n, int(k or 0)) for t, n, k in rows}

    def iter_records(self, after_id=0, limit=None, kinds=None):
        """Yield ``(id, rx_time_s, device_time_ms, json text)`` in recording order, unparsed.

        With ``limit``, at most that many (for reading a long session page by page).
        """
        sql = "SELECT id, rx_time_s, device_time_ms, json FROM records WHERE id > ?"
        args = [after_id]
        if kinds:
            sql += " AND kind IN (%s)" % ",".join("?" * len(kinds))
            args.extend(kinds)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT %d" % int(limit)
        cur = self._con.execute(sql, args)
        while True:
            rows = cur.fetchmany(4096)
            if not rows:
                return
            yield from rows

    def time_span(self):
        """``(first_s, last_s, clock)`` of the records, or None when no record has a time.

        ``clock`` is ``"rx_time_s"`` (host epoch seconds) when any record has one, else
        ``"device_time_ms"`` (the handheld's clock, in seconds here); the two are never
        mixed, they count from different origins.
        """
        for column, scale in (("rx_time_s", 1.0), ("device_time_ms", 1000.0)):
            first = self._con.execute("SELECT %s FROM records WHERE %s IS NOT NULL ORDER BY id "
                                      "LIMIT 1" % (column, column)).fetchone()
            if first is not None:
                last = self._con.execute("SELECT %s FROM records WHERE %s IS NOT NULL ORDER BY "
                                         "id DESC LIMIT 1" % (column, column)).fetchone()
                return first[0] / scale, last[0] / scale, column
        return None

    def measurements(self):
        """MEAS records with ``target_label`` added from the tasking's target table.

        Parses every record into a dict: for small sessions and tests; exporters use
        ``iter_measurements``.
        """
        labels = {k: v["label"] for k, v in self.targets().items()}
        out = []
        for rec in self.records(kinds=("MEAS",)):
            rec["target_label"] = labels.get(rec["target"], "T%d" % (rec["target"] + 1))
            out.append(rec)
        return out
