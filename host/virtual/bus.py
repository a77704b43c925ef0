"""The host end of the fake `machine` module: serves bus transactions to the chip fakes.

One TCP connection per firmware run (host/virtual/mpy/machine.py is the other end). Request
``<BBBBHHH op, bus, addr, flag, arg, n, want>`` + n bytes; ops that answer reply
``<BBH status, 0, n>`` + n bytes. The wiring (which pin is whose chip select, which I2C
address is which chip) is the board's: see VirtualBoard in handheld.py.
"""

import errno
import socket
import struct
import threading

from host.virtual.mpy.busops import (
    OP_SPI_WRITE, OP_SPI_XFER, OP_PIN_WRITE, OP_PIN_READ, OP_I2C_WRITE_MEM,
    OP_I2C_READ_MEM, OP_I2C_WRITE, OP_UART_READ, OP_UART_WRITE, OP_PWM, OP_WDT, OP_ADC,
    OP_PIN_MODE
)

_HDR = struct.Struct("<BBBBHHH")
_REP = struct.Struct("<BBH")


class Wiring:
    """What hangs on which bus and pin. Handlers are plain callables."""

    def __init__(self):
        self.spi = {}          # bus -> {cs_pin: chip with cs(level) and xfer(bytes)}
        self.i2c = {}          # bus -> {addr: chip with read(reg, n), write(reg, data)}
        self.i2c_raw = {}      # bus -> {addr: chip with i2c_write(data)} (no register pointer)
        self.uart = {}         # bus -> chip with available(), read(n)
        self.pin_out = {}      # pin -> callable(level)
        self.pin_in = {}       # pin -> callable() -> level
        self.pwm = {}          # pin -> callable(freq_hz, duty_u16)
        self.adc = {}          # pin -> callable() -> u16
        self.on_wdt_feed = None


class BusServer:
    """Accepts the firmware's connection and answers its transactions until it closes."""

    def __init__(self, wiring):
        self.wiring = wiring
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2)
        self.port = self.sock.getsockname()[1]
        self.transactions = 0
        self.errors = []
        self._stop = threading.Event()
        self._conn = None
        self._thread = threading.Thread(target=self._serve, name="rfhound-vbus", daemon=True)
        self._thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        if self._conn is not None:
            try:
                # shutdown, not only close: the session's makefile keeps the socket open.
                self._conn.shutdown(socket.SHUT_RDWR)
                self._conn.close()
            except OSError:
                pass

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
            try:
                self._session(conn)
            except (OSError, ConnectionError):
                pass
            finally:
                conn.close()

    def _session(self, conn):
        f = conn.makefile("rb", buffering=65536)
        while True:
            hdr = f.read(_HDR.size)
            if len(hdr) < _HDR.size:
                return
            op, bus, addr, flag, arg, n, want = _HDR.unpack(hdr)
            data = f.read(n) if n else b""
            self.transactions += 1
            try:
                reply = self._dispatch(op, bus, addr, flag, arg, data, want)
            except Exception as exc:  # a fake's bug must show up in the test, not hang it
                self.errors.append(repr(exc))
                reply = (errno.EIO, b"")
            if reply is not None:
                status, payload = reply
                conn.sendall(_REP.pack(status, 0, len(payload)) + payload)

    def _dispatch(self, op, bus, addr, flag, arg, data, want):
        w = self.wiring
        if op == OP_PIN_WRITE:
            handler = w.pin_out.get(arg)
            if handler is not None:
                handler(addr)
            return None
        if op == OP_PIN_MODE:
            return None
        if op == OP_PIN_READ:
            handler = w.pin_in.get(arg)
            return 0, bytes([handler() if handler else 1])
        if op in (OP_SPI_WRITE, OP_SPI_XFER):
            chip = self._selected_spi(bus)
            mosi = bytes([addr]) * want if flag == 1 else data
            miso = chip.xfer(mosi) if chip is not None else bytes(len(mosi))
            if op == OP_SPI_WRITE:
                return None
            return 0, (miso + bytes(want))[:want]
        if op == OP_I2C_READ_MEM:
            chip = w.i2c.get(bus, {}).get(addr)
            if chip is None or not chip.present:
                return errno.ENODEV, b""
            return 0, chip.read(arg, want)
        if op == OP_I2C_WRITE_MEM:
            chip = w.i2c.get(bus, {}).get(addr)
            if chip is None or not chip.present:
                return errno.ENODEV, b""
            chip.write(arg, data)
            return 0, b""
        if op == OP_I2C_WRITE:
            chip = w.i2c_raw.get(bus, {}).get(addr) or w.i2c.get(bus, {}).get(addr)
            if chip is None or not chip.present:
                return errno.ENODEV, b""
            if hasattr(chip, "i2c_write"):
                chip.i2c_write(data)
            elif data:
                chip.write(data[0], data[1:])
            return 0, b""
        if op == OP_UART_READ:
            chip = w.uart.get(bus)
            if flag == 1:
                return 0, struct.pack("<H", min(chip.available(), 65535) if chip else 0)
            return 0, chip.read(want) if chip else b""
        if op == OP_UART_WRITE:
            return None
        if op == OP_PWM:
            handler = w.pwm.get(arg)
            if handler is not None:
                freq, duty = struct.unpack("<IH", data)
                handler(freq, duty)
            return None
        if op == OP_ADC:
            handler = w.adc.get(arg)
            return 0, struct.pack("<H", handler() if handler else 0)
        if op == OP_WDT:
            if w.on_wdt_feed is not None:
                w.on_wdt_feed(arg)
            return None
        raise ValueError("unknown virtual bus op %d" % op)

    def _selected_spi(self, bus):
        for chip in self.wiring.spi.get(bus, {}).values():
            if chip.selected:
                return chip
        return None
