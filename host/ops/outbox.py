"""The session file as the relay's outbox: a record is sent once the broker acknowledged it.

The acknowledgements live in the session file's own ``outbox_acks`` table
(``record_id``, ``acked_s``), so a relay restarted after a crash or a reboot resends
exactly the records the broker never confirmed. Record id 0 stands for the
session's metadata message.
"""

import json
import logging
import os
import queue
import sqlite3
import threading
import time

from host.session import SessionReader

META_RECORD_ID = 0

log = logging.getLogger("rfhound.ops.relay")


class Outbox:
    """Unsent records of one session file (reads only; `AckWriter` writes the marks).

    Parameters
    ----------
    path : path-like
        A session file (possibly still being written by a `SessionWriter` in this
        or another process).
    """

    def __init__(self, path):
        # SessionReader checks the file is an rfhound session of a known schema
        # and reports damage in one line (SessionError) before we rely on it.
        with SessionReader(path) as reader:
            self.meta = dict(reader.meta)
        self.path = os.fspath(path)
        # Autocommit, and every read fetched to the end: an unfinished statement keeps
        # its WAL snapshot, which hides the recorder's later commits.
        self._con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                    check_same_thread=False)

    @property
    def session_id(self):
        return self.meta["session_id"]

    def meta_snapshot(self):
        """``(meta, tasking)`` as now stored: the body of the metadata message."""
        meta = dict(self._con.execute("SELECT key, value FROM meta"))
        rows = self._con.execute("SELECT json FROM tasking ORDER BY id DESC LIMIT 1").fetchall()
        return meta, (json.loads(rows[0][0]) if rows else None)

    def unsent(self, after_id, limit):
        """Up to `limit` unacknowledged records with id > `after_id`, as dicts with ``id``."""
        rows = self._con.execute(
            "SELECT r.id, r.json FROM records r WHERE r.id > ? AND NOT EXISTS "
            "(SELECT 1 FROM outbox_acks a WHERE a.record_id = r.id) ORDER BY r.id LIMIT ?",
            (after_id, limit)).fetchall()
        out = []
        for rid, body in rows:
            rec = json.loads(body)
            rec["id"] = rid
            out.append(rec)
        return out

    def counts(self):
        """``(records, sent)`` where sent excludes the metadata message."""
        (total,), = self._con.execute("SELECT COUNT(*) FROM records").fetchall()
        (sent,), = self._con.execute("SELECT COUNT(*) FROM outbox_acks WHERE record_id > 0").fetchall()
        return total, sent

    def close(self):
        self._con.close()


class AckWriter:
    """Write outbox marks on a thread of their own.

    The recorder holds SQLite's write lock from its first insert after a commit
    until its next commit, so a mark may wait a good part of a second for the
    lock; waiting here keeps the relay's publishing loop running meanwhile.
    A mark that is late or lost (relay killed) only means that record is sent
    again, which the receiver ignores.
    """

    def __init__(self, path, lock_timeout_s=10.0):
        self.path = os.fspath(path)
        self._queue = queue.SimpleQueue()
        self._con = sqlite3.connect(self.path, timeout=lock_timeout_s, isolation_level=None,
                                    check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="rfhound-outbox", daemon=True)
        self._thread.start()

    def put(self, record_ids):
        """Queue the broker's acknowledgement of `record_ids`."""
        if record_ids:
            self._queue.put(list(record_ids))

    def close(self):
        """Write every queued mark, then stop."""
        self._queue.put(None)
        self._thread.join()
        self._con.close()

    def _run(self):
        pending = []
        closing = False
        while not (closing and not pending):
            try:
                item = self._queue.get(timeout=None if not pending else 0.5)
            except queue.Empty:
                item = []
            while item is not None:
                pending.extend(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            closing = closing or item is None
            if pending and self._write(pending):
                pending = []
            elif pending and closing:
                log.warning("%s: %d outbox marks not written; those records will be sent again "
                            "and ignored by the receiver", self.path, len(pending))
                return

    def _write(self, record_ids):
        now = time.time()
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            log.warning("%s: outbox marks wait for the recorder (%s)", self.path, exc)
            return False
        try:
            self._con.executemany("INSERT OR REPLACE INTO outbox_acks (record_id, acked_s) VALUES (?, ?)",
                                  [(rid, now) for rid in record_ids])
            self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._con.in_transaction:
                self._con.execute("ROLLBACK")
            log.warning("%s: outbox marks not written (%s); retrying", self.path, exc)
            return False
        return True
