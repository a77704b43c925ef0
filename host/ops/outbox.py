"""The session file as the relay's outbox: a record is sent once the broker acknowledged it.

The acknowledgements live in the session file's own ``outbox_acks`` table
(``record_id``, ``acked_s``), so a relay restarted after a crash or a reboot resends
exactly the records the broker never confirmed. Record id 0 stands for the
session's metadata message.
"""

import json
import os
import sqlite3
import time

from host.session import SessionReader

META_RECORD_ID = 0


class Outbox:
    """Unsent records of one session file and the marks of sent ones.

    Parameters
    ----------
    path : path-like
        A session file (possibly still being written by a `SessionWriter` in this
        or another process).
    """

    def __init__(self, path):
        # SessionReader checks the file is an rfhound session of a known schema
        # and reports damage in one line before we open it for writing.
        with SessionReader(path) as reader:
            self.meta = dict(reader.meta)
        self.path = os.fspath(path)
        # Autocommit, and every read fetched to the end: a statement left open keeps a
        # WAL read snapshot, and a write from a stale snapshot fails with "database is
        # locked" at once instead of waiting for the recorder's commit.
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

    def mark_sent(self, record_ids):
        """Record the broker's acknowledgement of `record_ids` (committed before return)."""
        if not record_ids:
            return
        now = time.time()
        self._con.execute("BEGIN IMMEDIATE")
        try:
            self._con.executemany("INSERT OR REPLACE INTO outbox_acks (record_id, acked_s) VALUES (?, ?)",
                                  [(rid, now) for rid in record_ids])
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def counts(self):
        """``(records, sent)`` where sent excludes the metadata message."""
        (total,), = self._con.execute("SELECT COUNT(*) FROM records").fetchall()
        (sent,), = self._con.execute("SELECT COUNT(*) FROM outbox_acks WHERE record_id > 0").fetchall()
        return total, sent

    def close(self):
        self._con.close()
