# A stand-in for MicroPython's `machine` module, for running the handheld firmware off the
# board. Every bus transaction goes over one loopback TCP socket to the register-level chip
# fakes in the host process (host/virtual/bus.py), so the firmware's drivers talk to
# registers exactly as they do on the board.
#
# It runs in the MicroPython unix port and in CPython, and allocates nothing per
# transaction in MicroPython (buffers made once, readinto/write with offsets), so the
# firmware's allocation-free loop can be proven under micropython.heap_lock().
#
# Wire format (little-endian), request: <BBBBHHH op, bus, addr, flag, arg, n, want> + n
# bytes; reply (only for ops that answer): <BBH status, 0, n> + n bytes (n <= want).
import os
import socket
import struct
import sys
import time

from busops import (
    OP_SPI_WRITE, OP_SPI_XFER, OP_PIN_WRITE, OP_PIN_READ, OP_I2C_WRITE_MEM,
    OP_I2C_READ_MEM, OP_I2C_WRITE, OP_UART_READ, OP_UART_WRITE, OP_PWM, OP_WDT, OP_ADC,
    OP_PIN_MODE
)

_MPY = sys.implementation.name == "micropython"

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


class _Conn:
    """The one socket to the host's chip fakes; request/reply, strictly in order."""

    def __init__(self, addr):
        host, port = addr.split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
        # IPPROTO_TCP=6, TCP_NODELAY=1: every request is one small write.
        self.sock.setsockopt(6, 1, 1)
        self.hdr = bytearray(10)
        self.rep = bytearray(4)
        self.one = bytearray(1)
        self.two = bytearray(2)
        self.n = 0
        if _MPY:
            self._write = self.sock.write
            self._readinto = self.sock.readinto
        else:
            self._mv = None

    def send(self, op, bus, addr, arg, data, n, want=0, flag=0):
        struct.pack_into("<BBBBHHH", self.hdr, 0, op, bus, addr, flag, arg, n, want)
        if _MPY:
            self._write(self.hdr)
            if n:
                self._write(data, 0, n)
        else:
            self.sock.sendall(bytes(self.hdr) + bytes(memoryview(data)[:n]) if n else bytes(self.hdr))

    def reply_into(self, buf):
        """Read one reply into buf; return its status (the byte count is left in self.n:
        returning a tuple would allocate)."""
        self._read_exact(self.rep, 4)
        n = self.rep[2] | (self.rep[3] << 8)
        self.n = n
        if n:
            self._read_exact(buf, n)
        return self.rep[0]

    def _read_exact(self, buf, n):
        if _MPY:
            got = self._readinto(buf, n)
            if got != n:
                raise OSError(5)
            return
        mv = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(mv[got:n], n - got)
            if not k:
                raise OSError(5, "virtual bus closed")
            got += k


_conn = _Conn(os.getenv("RFHOUND_BUS") or "127.0.0.1:1")


def _check(status):
    # A NACK from an absent chip surfaces as OSError(ENODEV) as on the esp32 port.
    if status:
        raise OSError(status)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 1
    IRQ_RISING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._out = mode == Pin.OUT or mode == Pin.OPEN_DRAIN
        _conn.send(OP_PIN_MODE, 0, mode & 0xFF, id, None, 0)
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            _conn.send(OP_PIN_READ, 0, 0, self.id, None, 0, 1)
            _conn.reply_into(_conn.one)
            return _conn.one[0]
        _conn.send(OP_PIN_WRITE, 0, 1 if v else 0, self.id, None, 0)
        return None

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self.value(value)

    def irq(self, handler=None, trigger=0, hard=False):
        # The GNSS receiver's PPS output (the pin named by RFHOUND_PPS_PIN): a rising edge
        # on every whole second of the host's UTC clock, the clock the virtual GNSS reports.
        if handler is not None and self.id == _PPS_PIN:
            _start_pps(handler, self)
        return None


_PPS_PIN = int(os.getenv("RFHOUND_PPS_PIN") or "-1")
_pps_started = []
_pps_stats = [0, 0]      # edges delivered, edges dropped as late (for tests)


def _pps_loop(handler, pin):
    # Sleeps to within 2 ms of the edge, then spins to it, so the handler's ticks_us()
    # lands within microseconds of the second, as a hard interrupt would. The loop
    # allocates nothing (time_ns is a small int on 64-bit ports), so it keeps running
    # while the firmware's main thread holds heap_lock().
    sleep_us = getattr(time, "sleep_us", None)
    while True:
        now = time.time_ns()
        edge = (now // 1000000000 + 1) * 1000000000
        wait_us = (edge - now) // 1000 - 2000
        if wait_us > 0:
            if sleep_us is not None:
                sleep_us(wait_us)
            else:
                time.sleep(wait_us / 1e6)
        while time.time_ns() < edge:
            pass
        # A hard interrupt timestamps its edge within microseconds; a thread woken late on
        # a busy host would not: an edge more than 100 us late is dropped (the firmware
        # keeps the previous one) rather than delivered with a wrong time.
        if time.time_ns() - edge < 100000:
            handler(pin)
            _pps_stats[0] += 1
        else:
            _pps_stats[1] += 1


def _start_pps(handler, pin):
    import _thread
    if _pps_started:
        return
    _pps_started.append(pin)
    _thread.start_new_thread(_pps_loop, (handler, pin))


class SPI:
    def __init__(self, id, baudrate=1000000, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self.id = id

    def init(self, *args, **kwargs):
        pass

    def write(self, buf):
        _conn.send(OP_SPI_WRITE, self.id, 0, 0, buf, len(buf))

    def readinto(self, buf, write=0):
        # The fill byte is clocked out as MOSI; the fakes ignore MOSI while reading data.
        _conn.send(OP_SPI_XFER, self.id, write & 0xFF, 0, None, 0, len(buf), 1)
        _conn.reply_into(buf)

    def write_readinto(self, wbuf, rbuf):
        _conn.send(OP_SPI_XFER, self.id, 0, 0, wbuf, len(wbuf), len(rbuf))
        _conn.reply_into(rbuf)

    def read(self, n, write=0):
        buf = bytearray(n)
        self.readinto(buf, write)
        return bytes(buf)


class I2C:
    def __init__(self, id=0, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        _conn.send(OP_I2C_WRITE_MEM, self.id, addr, memaddr, buf, len(buf), 1)
        _check(_conn.reply_into(_conn.one))

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        _conn.send(OP_I2C_READ_MEM, self.id, addr, memaddr, None, 0, len(buf))
        _check(_conn.reply_into(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        buf = bytearray(nbytes)
        _conn.send(OP_I2C_READ_MEM, self.id, addr, memaddr, None, 0, nbytes)
        _conn.reply_into(buf)
        return bytes(buf)

    def writeto(self, addr, buf, stop=True):
        _conn.send(OP_I2C_WRITE, self.id, addr, 0, buf, len(buf), 1)
        _check(_conn.reply_into(_conn.one))
        return len(buf)

    def scan(self):
        found = []
        probe = bytearray(1)
        for addr in range(0x08, 0x78):
            _conn.send(OP_I2C_WRITE, self.id, addr, 0, probe, 0, 1)
            if _conn.reply_into(_conn.one) == 0:
                found.append(addr)
        return found


class UART:
    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None,
                 rxbuf=256, timeout=0):
        self.id = id
        self.baudrate = baudrate

    def init(self, *args, **kwargs):
        pass

    def readinto(self, buf, nbytes=-1):
        want = len(buf) if nbytes < 0 else nbytes
        _conn.send(OP_UART_READ, self.id, 0, 0, None, 0, want)
        _conn.reply_into(buf)
        return _conn.n if _conn.n else None

    def any(self):
        _conn.send(OP_UART_READ, self.id, 0, 0, None, 0, 2, 1)
        _conn.reply_into(_conn.two)
        return _conn.two[0] | (_conn.two[1] << 8)

    def write(self, buf):
        _conn.send(OP_UART_WRITE, self.id, 0, 0, buf, len(buf))
        return len(buf)


class PWM:
    def __init__(self, pin, freq=1000, duty_u16=0):
        self._pin = pin.id
        self._freq = freq
        self._duty = duty_u16
        self._buf = bytearray(6)
        self._send()

    def _send(self):
        struct.pack_into("<IH", self._buf, 0, self._freq, self._duty)
        _conn.send(OP_PWM, 0, 0, self._pin, self._buf, 6)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        self._send()

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d
        self._send()

    def deinit(self):
        self._duty = 0
        self._send()


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self._pin = pin.id

    def read_u16(self):
        _conn.send(OP_ADC, 0, 0, self._pin, None, 0, 2)
        _conn.reply_into(_conn.two)
        return _conn.two[0] | (_conn.two[1] << 8)


class WDT:
    def __init__(self, id=0, timeout=5000):
        self._timeout = timeout
        self.feed()

    def feed(self):
        _conn.send(OP_WDT, 0, 0, self._timeout & 0xFFFF, None, 0)


_RTC_FILE = "rtc_offset_s"  # in the firmware's working directory: the RTC outlives a reset


def _rtc_offset_s():
    try:
        with open(_RTC_FILE) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def _timegm(y, mo, d, hh, mm, ss):
    # MicroPython's mktime is UTC; CPython's is local time.
    import time
    if _MPY:
        return time.mktime((y, mo, d, hh, mm, ss, 0, 0))
    import calendar
    return calendar.timegm((y, mo, d, hh, mm, ss))


class RTC:
    """A battery-backed RTC: starts at the host's UTC clock, keeps any time it is set to
    (as an offset from the host clock, kept in a file so a reset does not lose it)."""

    def datetime(self, dt=None):
        import time
        if dt is None:
            t = time.gmtime(int(time.time()) + _rtc_offset_s())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        self.last_set = dt
        offset = _timegm(dt[0], dt[1], dt[2], dt[4], dt[5], dt[6]) - int(time.time())
        with open(_RTC_FILE, "w") as f:
            f.write(str(offset))
        return None


def reset_cause():
    return int(os.getenv("RFHOUND_RESET_CAUSE") or PWRON_RESET)


def unique_id():
    return struct.pack(">I", int(os.getenv("RFHOUND_DEVICE_ID") or "0"))


def reset():
    # The host restarts the subprocess when it exits with this status.
    sys.exit(75)


def freq():
    return 240000000


def idle():
    pass
