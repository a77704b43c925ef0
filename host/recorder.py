"""Link + session: every record is written to the session before anyone else sees it.

On a storage fault (full disk, unwritable file) recording stops at the first failed
insert or commit: ``Recorder.error`` says why in one line, ``failed`` is set, and
no record after it is passed on or counted as stored.
"""

import threading
import time

from host.link import Link
from host.session import SessionError, SessionWriter


class Recorder:
    """Record a handheld's frames from `url` into a new session file at `path`.

    ``on_record`` (optional) receives each record after it is in the session, with its
    record ``id`` added; link state changes become EVENT records too.
    ``on_error`` (optional) is called once, with the one-line reason, when recording
    stops on a storage fault.
    """

    def __init__(self, url, path, *, tasking=None, meta=None, on_record=None, baudrate=115200,
                 on_error=None):
        self.writer = SessionWriter(path, tasking=tasking, meta=meta)
        self.error = None
        self.failed = threading.Event()
        self._on_error = on_error
        self.writer.on_error = self._storage_failed
        self._on_record = on_record
        self.link = Link(url, on_record=self._record, baudrate=baudrate, on_state=self._state)

    @property
    def n_stored(self):
        """Records committed to the session file."""
        return self.writer.n_stored

    def _storage_failed(self, text):
        if self.error is None:
            self.error = text
            self.failed.set()
            if self._on_error is not None:
                self._on_error(text)

    def _record(self, rec):
        if self.error is not None:
            return  # recording has stopped: what cannot be stored is not shown either
        try:
            rec["id"] = self.writer.record(rec)
        except SessionError as exc:
            self._storage_failed(str(exc))
            return
        if self._on_record is not None:
            self._on_record(rec)

    def _state(self, state, error):
        text = "link %s" % state if error is None else "link %s: %s" % (state, error)
        self._record({"kind": "EVENT", "text": text, "rx_time_s": time.time()})

    def start(self):
        self.link.start()
        return self

    def stop(self):
        """Stop the link and close the session (checkpointed); never raises for a storage
        fault, which stays in ``error``."""
        self.link.stop()
        s = self.link.stats()
        if self.error is None:
            try:
                self.writer.event("recording stopped",
                                  **{k: v for k, v in s.items() if k != "connected"})
            except SessionError as exc:
                self._storage_failed(str(exc))
        self.writer.close()
        if self.writer.error is not None:
            self._storage_failed(self.writer.error)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
