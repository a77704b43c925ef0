"""Run the handheld firmware under CPython with the same fake `machine` as MicroPython.

Usage: python cpython_boot.py firmware/main.py

Supplies what the MicroPython runtime has and CPython lacks, before the firmware imports
anything: time.ticks_*/sleep_ms/sleep_us, select.poll().ipoll(), stream readinto/write with
offsets on stdin/stdout, and the `micropython` and `framebuf` modules (host/virtual/cpy).
"""

import os
import runpy
import select
import sys
import calendar
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _install_time():
    t0 = time.monotonic_ns()
    time.ticks_ms = lambda: ((time.monotonic_ns() - t0) // 1000000) & 0x3FFFFFFF
    time.ticks_us = lambda: ((time.monotonic_ns() - t0) // 1000) & 0x3FFFFFFF
    time.ticks_add = lambda a, b: (a + b) & 0x3FFFFFFF

    def ticks_diff(a, b):
        d = (a - b) & 0x3FFFFFFF
        return d - 0x40000000 if d >= 0x20000000 else d

    time.ticks_diff = ticks_diff
    time.sleep_ms = lambda ms: time.sleep(ms / 1000.0)
    time.sleep_us = lambda us: time.sleep(us / 1e6)
    # MicroPython's mktime takes an 8-tuple and knows no time zones: UTC, as on the board.
    time.mktime = lambda t: calendar.timegm(tuple(t)[:6])


_native_poll = select.poll


class _Poll:
    def __init__(self):
        self._p = _native_poll()
        self._objs = {}

    def register(self, obj, mask=select.POLLIN | select.POLLOUT):
        fd = obj.fileno()
        self._objs[fd] = obj
        self._p.register(fd, mask)

    def ipoll(self, timeout=-1):
        return [(self._objs[fd], ev) for fd, ev in self._p.poll(timeout)]

    poll = ipoll


class _RawOut:
    def __init__(self, fd):
        self._fd = fd

    def write(self, buf, off=0, n=None):
        mv = memoryview(buf)[off:len(buf) if n is None else off + n]
        done = 0
        while done < len(mv):
            done += os.write(self._fd, mv[done:])
        return done

    def flush(self):
        pass


class _RawIn:
    def __init__(self, fd):
        self._fd = fd

    def readinto(self, buf, n=None):
        data = os.read(self._fd, len(buf) if n is None else n)
        buf[:len(data)] = data
        return len(data)


class _Stdio:
    def __init__(self, fd, buffer):
        self._fd = fd
        self.buffer = buffer

    def fileno(self):
        return self._fd

    def flush(self):
        pass

    def write(self, text):
        return self.buffer.write(text.encode())


def main():
    main_py = Path(sys.argv[1]).resolve()
    _install_time()
    select.poll = _Poll
    sys.stdout = _Stdio(1, _RawOut(1))
    sys.stdin = _Stdio(0, _RawIn(0))
    sys.path[:0] = [str(HERE / "cpy"), str(HERE / "mpy"), str(main_py.parent)]
    sys.argv = [str(main_py)]
    runpy.run_path(str(main_py), run_name="__main__")


if __name__ == "__main__":
    main()
