"""Record sources for the console: a live link or simulator, and a session replay.

Each source is a ``QObject`` moved to its own ``QThread``; a timer in that
thread reads the input and emits record batches by signal, so the GUI never
waits on a port or a file.  The live source records every record (when
recording is on) *before* emitting it: nothing is shown that was not stored.
"""

import collections
import queue
import threading
import time

from PyQt5.QtCore import QObject, Qt, QThread, QTimer, pyqtSignal, pyqtSlot

from host.session import SessionError

#: How often the replay source emits one batch.
TICK_MS = 10
#: Longest the live source waits for a record before it looks at its commands and counters.
WAIT_S = 0.01
#: How often the live source reads the link counters.
STATS_S = 0.5


class RecordSource(QObject):
    """Common signals of a record source.

    Signals
    -------
    records(list)  : a batch of record dicts, in arrival order
    stats(dict)    : link counters (frames, crc_errors, connected, ...)
    state(str)     : short link state for the status bar
    error(str)     : one clear line for the message bar
    notice(str)    : one line of good news for the message bar
    finished()     : the source has nothing more to give (replay end)
    """

    records = pyqtSignal(object)
    stats = pyqtSignal(object)
    state = pyqtSignal(str)
    error = pyqtSignal(str)
    notice = pyqtSignal(str)
    finished = pyqtSignal()

    def __init__(self):
        super().__init__()
        self._timer = None

    #: Timer interval of ``_tick``, ms.
    tick_ms = TICK_MS

    @pyqtSlot()
    def start(self):
        """Start ticking; runs in the source thread (connected to ``QThread.started``)."""
        self._timer = QTimer(self)
        self._timer.setInterval(self.tick_ms)
        self._timer.timeout.connect(self._tick)
        self._open()
        self._timer.start()

    @pyqtSlot()
    def stop(self):
        """Stop ticking and release the input; runs in the source thread."""
        if self._timer is not None:
            self._timer.stop()
        self._close()

    def _open(self):
        raise NotImplementedError

    def _close(self):
        raise NotImplementedError

    def _tick(self):
        raise NotImplementedError


class IterableLink:
    """Link-shaped adaptor for a simulator that yields record dicts.

    A thread iterates ``records_iter`` (which paces itself, as a device would)
    into the ``records`` queue, so a simulator stands in for hardware behind
    the same interface as ``host.link.Link``.
    """

    def __init__(self, records_iter):
        self._iter = records_iter
        self.records = queue.Queue()
        self._stop = threading.Event()
        self._thread = None
        self._frames = 0
        self.last_error = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="sim-records", daemon=True)
        self._thread.start()

    def _run(self):
        for rec in self._iter:
            if self._stop.is_set():
                break
            self.records.put(rec)
            self._frames += 1
        self.last_error = "the record stream ended"

    def stop(self):
        self._stop.set()

    def send(self, msg_type, fields=(), tail=b""):
        """Accept and drop commands: a record stream has no way back to its device."""

    def stats(self):
        return {"frames": self._frames, "crc_errors": 0, "connected": self.last_error is None}


class LiveSource(RecordSource):
    """Records from a ``host.link.Link`` (serial port) or any link-shaped object.

    Parameters
    ----------
    url : str or None
        pyserial URL (``/dev/ttyACM0``, ``loop://``, ...), opened with
        ``host.link.Link``.
    link : object or None
        A ready link-shaped object (``start``, ``stop``, ``send``, ``stats``,
        ``records`` queue) instead of ``url``, e.g. :class:`IterableLink`.

    ``host.link.Link`` retries a port that cannot be opened and reopens one that
    was unplugged; this source says so once in the message bar each time.
    """

    #: Recording stopped on a storage fault (one line); records are still shown, not stored.
    recording_failed = pyqtSignal(str)

    # Ticks back to back, each waiting up to WAIT_S on the link's queue: a record is
    # passed on the moment it arrives, and the thread's event loop still runs every WAIT_S.
    tick_ms = 0

    def __init__(self, url=None, link=None, baudrate=115200):
        super().__init__()
        self.url = url
        self._link = link
        self._baudrate = baudrate
        self._lock = threading.Lock()
        self._recorder = None
        self._outbox = queue.Queue()
        self._connected = None
        self._last_stats = 0.0

    def set_recorder(self, writer):
        """Record every record to ``writer`` (``SessionWriter`` or None) before it is shown."""
        with self._lock:
            self._recorder = writer

    def send(self, msg_type, fields=(), tail=b""):
        """Queue one host->device message; sent from the source thread."""
        self._outbox.put((msg_type, fields, tail))

    def _open(self):
        if self._link is None:
            from host.link import Link

            # Link opens the port in its own thread and reopens it after an unplug
            self._link = Link(self.url, baudrate=self._baudrate)
        self._link.start()

    def _close(self):
        if self._link is not None:
            self._link.stop()

    def _tick(self):
        while not self._outbox.empty():
            msg_type, fields, tail = self._outbox.get_nowait()
            try:
                self._link.send(msg_type, fields, tail)
            except (ConnectionError, OSError) as exc:
                self.error.emit(f"cannot send to {self.url or 'the device'}: {_reason(exc)}; "
                                "send again once the link is up")
        batch = []
        try:
            first = [self._link.records.get(timeout=WAIT_S)]
        except queue.Empty:
            first = []
        with self._lock:
            while True:
                try:
                    rec = first.pop() if first else self._link.records.get_nowait()
                except queue.Empty:
                    break
                if self._recorder is not None:
                    try:
                        self._recorder.record(rec)
                    except SessionError as exc:
                        # a full disk: recording stops here and says so; the hunt goes on
                        self._recorder = None
                        self.recording_failed.emit(str(exc))
                        self.error.emit(str(exc))
                batch.append(rec)
        if batch:
            self.records.emit(batch)
        now = time.monotonic()
        if now - self._last_stats >= STATS_S:
            self._last_stats = now
            stats = dict(self._link.stats())
            self.stats.emit(stats)
            self._check_connection(bool(stats.get("connected", True)))

    def _check_connection(self, connected):
        """Say once when the port cannot be opened or is lost, and when it is back."""
        where = self.url or "the device"
        last_error = getattr(self._link, "last_error", None)
        if connected == self._connected or (not connected and self._connected is None
                                            and last_error is None):
            return
        if connected:
            self.state.emit("connected")
            if self._connected is False:
                self.notice.emit(f"link to {where} is back")
        elif self.url is None:
            # a simulator or record stream that has run its course: news, not a fault
            self.state.emit("ended")
            self.notice.emit(last_error or "the source stopped sending")
        elif self._connected is None:
            self.state.emit("no port")
            self.error.emit(f"cannot open serial port {where}: {last_error}; check the cable or "
                            f"pick another port (retrying)")
        else:
            self.state.emit("reconnecting")
            self.error.emit(f"link lost on {where}: device unplugged or powered off "
                            f"({last_error or 'no data'}); reconnecting when it returns")
        self._connected = connected


def _reason(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class ReplaySource(RecordSource):
    """Records of a session file, paced by their arrival times.

    The session is read page by page (``PAGE`` records at a time, in record
    order) as the replay clock reaches them: memory stays bounded however long
    the session.  A backwards seek starts reading again from the first record.

    Control methods (``play``, ``pause``, ``seek``, ``set_speed``) may be called
    from the GUI thread; they set state that the source thread reads each tick.

    Signals
    -------
    opened(dict)    : ``{"meta", "tasking", "start_s", "end_s"}`` once the file is open
    reset()         : the model must be cleared (a backwards seek follows)
    position(float) : replay clock, seconds since the first record
    """

    opened = pyqtSignal(object)
    reset = pyqtSignal()
    position = pyqtSignal(float)

    #: records per tick when replaying as fast as possible
    FAST_BATCH = 5000
    #: records read from the file at a time
    PAGE = 5000

    def __init__(self, path, speed=1.0, playing=True):
        super().__init__()
        self.path = str(path)
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._playing = playing
        self._seek_s = None
        self._reader = None
        self._start_s = 0.0
        self._end_s = 0.0
        self._device_clock = False
        self._rewind()
        self._clock_s = 0.0
        self._last_tick = None
        self._failed = False
        #: Why the replay stopped short (one line), or None.
        self.failure = None
        self._ended = False

    def _rewind(self):
        self._buffer = collections.deque()  # (time since the first record, record dict)
        self._last_id = 0
        self._last_time_s = 0.0
        self._exhausted = False

    def play(self):
        with self._lock:
            self._playing = True

    def pause(self):
        with self._lock:
            self._playing = False

    def seek(self, offset_s):
        """Jump to ``offset_s`` seconds after the first record."""
        with self._lock:
            self._seek_s = max(0.0, float(offset_s))

    def set_speed(self, speed):
        """Replay ``speed`` times real time; 0 means as fast as possible."""
        with self._lock:
            self._speed = float(speed)

    def _open(self):
        from host.session import SessionError, SessionReader

        try:
            self._reader = SessionReader(self.path)
            meta, tasking = self._reader.meta, self._reader.tasking
            span = self._reader.time_span()
            missing = self._reader.missing
        except SessionError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # sqlite3/OS errors a damaged file can raise past the reader
            self._fail(f"cannot read session {self.path}: {_reason(exc)}; "
                       "is it an rfhound session file?")
            return
        self._start_s, end, clock = span if span is not None else (0.0, 0.0, "rx_time_s")
        self._device_clock = clock == "device_time_ms"
        self._end_s = end - self._start_s
        self.opened.emit({"meta": meta, "tasking": tasking, "start_s": self._start_s,
                          "end_s": self._end_s})
        self.state.emit("replay")
        if missing:
            self.error.emit(missing)

    def _fill(self):
        """Read the next page of records into the buffer; False when there are none left."""
        if self._exhausted or self._reader is None:
            return False
        import json

        n = 0
        rid = None
        try:
            for rid, rx_time_s, device_time_ms, body in self._reader.iter_records(
                    after_id=self._last_id, limit=self.PAGE):
                n += 1
                rec = json.loads(body)
                if not isinstance(rec, dict):
                    raise ValueError(f"record {rid} is not a JSON object")
                rec["id"] = rid
                t = device_time_ms / 1000.0 if self._device_clock and device_time_ms is not None \
                    else rx_time_s
                if t is not None:
                    self._last_time_s = float(t) - self._start_s
                else:
                    # a record without the session's clock (host events, or one that came
                    # so over MQTT) is replayed at the time of the one before it, and says so
                    rec["rx_time_s"] = self._last_time_s + self._start_s
                    rec["time_from_previous_record"] = True
                self._buffer.append((self._last_time_s, rec))
                self._last_id = rid
        except Exception as exc:  # a damaged page or record part way through the file
            where = f"record {rid}" if rid is not None and rid != self._last_id else \
                f"the records after {self._last_id}"
            self._fail(f"cannot read {where} of session {self.path}: {_reason(exc)}; "
                       "the replay stops there")
            return False
        if n < self.PAGE:
            self._exhausted = True
        return n > 0

    def _fail(self, message):
        self._failed = True
        self.failure = message
        self.error.emit(message)  # before the state: a listener of the state has the reason
        self.state.emit("replay failed")

    def _close(self):
        self._buffer = collections.deque()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _tick(self):
        now = time.monotonic()
        dt = 0.0 if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        with self._lock:
            speed, playing, seek = self._speed, self._playing, self._seek_s
            self._seek_s = None
        if self._failed or (self._ended and seek is None):
            return
        if seek is not None:
            if seek < self._clock_s:
                self.reset.emit()
                self._rewind()
            self._clock_s = seek
            self._emit_until(self._clock_s, limit=None)
        elif playing:
            if speed <= 0:
                self._emit_until(float("inf"), limit=self.FAST_BATCH)
                if self._peek() is not None:
                    self._clock_s = self._peek()
                else:
                    self._clock_s = self._last_time_s
            else:
                self._clock_s += dt * speed
                self._emit_until(self._clock_s, limit=None)
        if self._failed:
            return
        self.position.emit(self._clock_s)
        self._ended = self._peek() is None
        if self._ended:
            self.state.emit("replay ended")
            self.finished.emit()

    def _peek(self):
        """Time of the next record to emit, or None at the end of the session."""
        if not self._buffer and not self._fill():
            return None
        return self._buffer[0][0]

    def _emit_until(self, clock_s, limit):
        batch = []
        while limit is None or len(batch) < limit:
            t = self._peek()
            if t is None or t > clock_s:
                break
            batch.append(self._buffer.popleft()[1])
            if limit is None and len(batch) >= self.FAST_BATCH:
                self.records.emit(batch)  # a long seek goes out in bounded batches
                batch = []
        if batch:
            self.records.emit(batch)


class SourceRunner:
    """Own one source and its thread; stop both cleanly."""

    def __init__(self, source):
        self.source = source
        self.thread = QThread()
        self.thread.setObjectName(type(source).__name__)
        source.moveToThread(self.thread)
        self.thread.started.connect(source.start)
        # `finished` is emitted in the ending thread: the source stops its timer and port there
        self.thread.finished.connect(source.stop, Qt.DirectConnection)

    def start(self):
        self.thread.start()

    def stop(self, timeout_ms=3000):
        """Stop the source in its own thread, then end the thread."""
        self.thread.quit()
        self.thread.wait(timeout_ms)
