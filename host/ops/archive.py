"""The operations centre's archive: one session file per received hunt, equal to the team's.

Files live at ``<archive>/<team>/<session_id>.sqlite`` in the ordinary session format
(`host.session`), so every tool that opens a team's session opens its archived copy.
Records keep the team's record ids; a record already stored is ignored, which makes
QoS 1 re-deliveries and re-sent outboxes harmless.
"""

import collections
import sqlite3
import threading
from pathlib import Path

from host.ops.envelope import MalformedPayload
from host.ops.topics import META_KIND
from host.session import SessionError, SessionReader, SessionWriter, mask_tasking

# Archive files kept open at once; a province-wide day of hunts must not exhaust
# file descriptors.
MAX_OPEN = 64

# Errors a record's own values cause in SQLite (unbindable type, integer overflow,
# constraint); an OperationalError (disk full, locked, damaged file) is the archive's.
_DATA_ERRORS = (ValueError, TypeError, OverflowError, RecursionError, KeyError,
                sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.IntegrityError)


class _Appender(SessionWriter):
    """`SessionWriter.record` and friends on an existing session file.

    The ops centre commits (`Archive.commit`) before it acknowledges the
    messages stored, so this writer has no commit timer.
    """

    def __init__(self, path):
        # Not SessionWriter.__init__: that one refuses an existing file and starts
        # a commit timer; this sets up only what record() and friends use.
        self.path = str(path)
        self._con = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode = WAL")
        self._con.execute("PRAGMA synchronous = NORMAL")
        self._lock = threading.Lock()
        self._dirty = False
        self._closed = False

    def rollback(self):
        with self._lock:
            self._con.rollback()
            self._dirty = False

    def forget(self, record_id):
        """Remove a record whose insertion failed half-way (its measurement row refused)."""
        with self._lock:
            self._con.execute("DELETE FROM measurements WHERE record_id = ?", (record_id,))
            self._con.execute("DELETE FROM records WHERE id = ?", (record_id,))

    def record_ids(self):
        with self._lock:
            return {row[0] for row in self._con.execute("SELECT id FROM records")}

    def close(self):
        with self._lock:
            if not self._closed:
                self._con.commit()
                self._con.close()
                self._closed = True


class _ArchivedSession:
    def __init__(self, path, session_id, meta):
        self.created = not path.exists()
        if self.created:
            path.parent.mkdir(parents=True, exist_ok=True)
            SessionWriter(str(path), meta=dict(meta, session_id=session_id)).close()
        with SessionReader(str(path)) as reader:
            if reader.session_id != session_id:
                raise SessionError(f"{path}: holds session {reader.session_id}, not {session_id}")
            self.meta = dict(reader.meta)
            self.tasking = reader.tasking
        self.writer = _Appender(path)
        self.ids = self.writer.record_ids()
        self.max_id = max(self.ids, default=0)

    @property
    def missing(self):
        """Record ids below the highest archived one that are not archived (yet)."""
        return self.max_id - len(self.ids)

    def apply_meta(self, meta, tasking):
        """Bring the archived metadata and tasking up to date; True if anything changed."""
        changed = False
        for key, value in meta.items():
            if self.meta.get(key) != str(value):
                self.writer.set_meta(key, value)
                self.meta[key] = str(value)
                changed = True
        if tasking is not None and tasking != self.tasking:
            self.writer.set_tasking(tasking)
            self.tasking = tasking
            changed = True
        return changed

    def add(self, record_id, rec):
        if record_id in self.ids:
            return False
        try:
            self.writer.record(rec, record_id=record_id)
        except _DATA_ERRORS as exc:
            # The schema (host.ops.schema) should have refused it; if a value still
            # cannot be bound, the sender's record is at fault, not the archive.
            self.writer.forget(record_id)
            raise MalformedPayload(f"record not storable ({str(exc)[:120]})") from None
        self.ids.add(record_id)
        self.max_id = max(self.max_id, record_id)
        return True


class Archive:
    """Store received envelopes; `commit` makes them durable. Not thread-safe: the caller locks."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._sessions = collections.OrderedDict()   # least recently used first

    def path_for(self, team, session_id):
        return self.root / team / f"{session_id}.sqlite"

    def _session(self, env, meta=None):
        key = (env.team, env.session_id)
        session = self._sessions.get(key)
        if session is None:
            session = _ArchivedSession(self.path_for(*key), env.session_id, meta or {})
            self._sessions[key] = session
            if len(self._sessions) > MAX_OPEN:
                # Closing commits: harmless, the centre acknowledges only after its
                # own commit anyway.
                _, oldest = self._sessions.popitem(last=False)
                oldest.writer.close()
        self._sessions.move_to_end(key)
        return session

    def store(self, env):
        """Archive one envelope; True if it was new, False for a duplicate.

        A metadata message counts as new when it made the archive file or changed
        its metadata or tasking; a relay's re-sent, unchanged one is a duplicate.

        Raises
        ------
        MalformedPayload
            When the record cannot be a session record (wrong kind, wrong id,
            unusable metadata or IMSI); nothing is stored then.
        """
        if env.kind == META_KIND:
            meta, tasking = env.record.get("meta"), env.record.get("tasking")
            if not isinstance(meta, dict) or meta.get("session_id") != env.session_id \
                    or not (tasking is None or isinstance(tasking, dict)):
                raise MalformedPayload("meta message without a matching meta dict or tasking")
            try:
                # Masking checks every IMSI: a bad one rejects the message before
                # any archive file is made for it.
                tasking = None if tasking is None else mask_tasking(tasking)
            except (ValueError, TypeError, AttributeError) as exc:
                raise MalformedPayload(f"unusable tasking ({exc})") from None
            is_new = (env.team, env.session_id) not in self._sessions
            session = self._session(env, meta)
            changed = session.apply_meta(meta, tasking)
            return changed or (is_new and session.created)
        rec = dict(env.record)
        if rec.pop("id", None) != env.record_id or rec.get("kind") != env.kind:
            raise MalformedPayload("record's id or kind disagrees with the envelope")
        if env.kind == "MEAS" and "target" not in rec:
            raise MalformedPayload("MEAS record without a target")
        return self._session(env).add(env.record_id, rec)

    def missing(self, team, session_id):
        """Ids missing below the highest archived record of a session open in this run."""
        session = self._sessions.get((team, session_id))
        return 0 if session is None else session.missing

    def commit(self):
        """Make everything stored so far durable (raises the SQLite error if it cannot)."""
        for session in self._sessions.values():
            session.writer.commit()

    def rollback(self):
        """Drop everything stored since the last commit; sessions are re-read from disk."""
        for session in self._sessions.values():
            session.writer.rollback()
            session.writer.close()
        self._sessions.clear()

    def close(self):
        for session in self._sessions.values():
            session.writer.close()
        self._sessions.clear()


def id_gaps(con):
    """Missing record-id ranges ``[(lo, hi), ...]`` of a session file's records (ids from 1)."""
    rows = con.execute(
        "SELECT r.id + 1, (SELECT MIN(n.id) FROM records n WHERE n.id > r.id) - 1 FROM records r "
        "WHERE r.id < (SELECT MAX(id) FROM records) "
        "AND NOT EXISTS (SELECT 1 FROM records n WHERE n.id = r.id + 1) ORDER BY r.id").fetchall()
    (first,), = con.execute("SELECT MIN(id) FROM records").fetchall()
    lead = [(1, first - 1)] if first is not None and first > 1 else []
    return lead + [(lo, hi) for lo, hi in rows]


def gap_report(root):
    """Every archived session's record count, highest id and missing id ranges.

    Returns
    -------
    list of dict
        ``{"team", "session_id", "records", "max_id", "gaps": [(lo, hi), ...]}``,
        sorted by team and session. Only the archive files are read.
    """
    out = []
    for path in sorted(Path(root).glob("*/*.sqlite")):
        team, session_id = path.parent.name, path.stem
        SessionReader(str(path)).close()       # one-line SessionError if not a session file
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            (count, max_id), = con.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM records").fetchall()
            out.append({"team": team, "session_id": session_id, "records": count, "max_id": max_id,
                        "gaps": id_gaps(con)})
        finally:
            con.close()
    return out
