"""Link + session: every record is written to the session before anyone else sees it."""

from host.link import Link
from host.session import SessionWriter


class Recorder:
    """Record a handheld's frames from `url` into a new session file at `path`.

    ``on_record`` (optional) receives each record after it is in the session, with its
    record ``id`` added; link state changes become EVENT records too.
    """

    def __init__(self, url, path, *, tasking=None, meta=None, on_record=None, baudrate=115200):
        self.writer = SessionWriter(path, tasking=tasking, meta=meta)
        self._on_record = on_record
        self.link = Link(url, on_record=self._record, baudrate=baudrate, on_state=self._state)

    def _record(self, rec):
        rec["id"] = self.writer.record(rec)
        if self._on_record is not None:
            self._on_record(rec)

    def _state(self, state, error):
        text = "link %s" % state if error is None else "link %s: %s" % (state, error)
        self._record({"kind": "EVENT", "text": text, "rx_time_s": None})

    def start(self):
        self.link.start()
        return self

    def stop(self):
        self.link.stop()
        s = self.link.stats()
        self.writer.event("recording stopped", **{k: v for k, v in s.items() if k != "connected"})
        self.writer.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
