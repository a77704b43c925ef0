# The rfhound handheld board: the only file that names pins and buses.
#
# ESP32-S3-WROOM-1 (native USB on GPIO19/20, which stay free for it). Strapping pins
# 0, 3, 45, 46 are avoided. hardware/pinmap.md is this table in prose; the virtual
# handheld (host/virtual/handheld.py) reads PINS and BUSES from this file to wire its fakes.
import sys
import select
import time
import machine

PINS = {
    "radio_sck": 12,
    "radio_mosi": 11,
    "radio_miso": 13,
    "radio_cs": 10,
    "radio_resetb": 9,
    "radio_txnrx": 15,
    "radio_enable": 14,
    "i2c_sda": 41,
    "i2c_scl": 42,
    "gnss_tx": 17,
    "gnss_rx": 18,
    "gnss_pps": 16,
    "button_mark": 4,
    "button_next": 5,
    "button_floor_up": 6,
    "button_floor_down": 7,
    "buzzer": 38,
    "battery_adc": 1,
}

BUSES = {"radio_spi": 1, "sensor_i2c": 0, "gnss_uart": 1}

# I2C addresses as strapped on the board (SDO/SA0 pins low except the barometer's).
I2C_ADDR = {"magnetometer": 0x1C, "imu": 0x6A, "barometer": 0x77, "display": 0x3C}

RADIO_SPI_HZ = 5000000
GNSS_BAUD = 9600
# Battery sense: 100k/100k divider into a 3.3 V full-scale ADC.
BATTERY_DIVIDER = 2
ADC_FULL_SCALE_MV = 3300
WATCHDOG_MS = 4000
# Seconds from 1970 to the port's epoch (2000 on the bare-metal ports).
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


class Usb:
    """The USB CDC port as non-blocking byte streams (stdin/stdout of the REPL port).

    ``writable()`` says whether a frame can go out now; nothing here ever blocks the loop.
    """

    def __init__(self):
        self.out = sys.stdout.buffer
        self.inp = sys.stdin.buffer
        self._wpoll = select.poll()
        self._wpoll.register(sys.stdout, select.POLLOUT)
        self._rpoll = select.poll()
        self._rpoll.register(sys.stdin, select.POLLIN)
        # The first ipoll makes the poller's reusable result tuple: do it here, not in the loop.
        self.writable()
        self.readable()

    def writable(self):
        for _obj, ev in self._wpoll.ipoll(0):
            return ev & select.POLLOUT
        return 0

    def readable(self):
        for _obj, ev in self._rpoll.ipoll(0):
            return ev & select.POLLIN
        return 0

    def write(self, buf, n):
        return self.out.write(buf, 0, n)

    def readinto(self, buf):
        return self.inp.readinto(buf, 1)


class Board:
    """Every peripheral of the handheld, made once at boot."""

    def __init__(self):
        Pin = machine.Pin
        self.radio_spi = machine.SPI(BUSES["radio_spi"], baudrate=RADIO_SPI_HZ, polarity=0,
                                     phase=0, sck=Pin(PINS["radio_sck"]),
                                     mosi=Pin(PINS["radio_mosi"]), miso=Pin(PINS["radio_miso"]))
        self.radio_cs = Pin(PINS["radio_cs"], Pin.OUT, value=1)
        self.radio_resetb = Pin(PINS["radio_resetb"], Pin.OUT, value=1)
        # Receive-only by construction: TXNRX is tied to 'receive' and never driven high.
        self.radio_txnrx = Pin(PINS["radio_txnrx"], Pin.OUT, value=0)
        self.radio_enable = Pin(PINS["radio_enable"], Pin.OUT, value=1)
        self.i2c = machine.I2C(BUSES["sensor_i2c"], scl=Pin(PINS["i2c_scl"]),
                               sda=Pin(PINS["i2c_sda"]), freq=400000)
        self.gnss_uart = machine.UART(BUSES["gnss_uart"], baudrate=GNSS_BAUD,
                                      tx=Pin(PINS["gnss_tx"]), rx=Pin(PINS["gnss_rx"]),
                                      rxbuf=1024, timeout=0)
        # GNSS time pulse: frame timing for TDD uplink reads (frame_timing.FrameClock)
        self.gnss_pps = Pin(PINS["gnss_pps"], Pin.IN)
        self.buttons = {}
        for name in ("mark", "next", "floor_up", "floor_down"):
            self.buttons[name] = Pin(PINS["button_" + name], Pin.IN, Pin.PULL_UP)
        self.buzzer = machine.PWM(Pin(PINS["buzzer"]), freq=1000, duty_u16=0)
        self.battery = machine.ADC(Pin(PINS["battery_adc"]))
        self.usb = Usb()
        self.rtc = machine.RTC()

    def battery_mv(self):
        return self.battery.read_u16() * ADC_FULL_SCALE_MV * BATTERY_DIVIDER // 65535

    def set_clock(self, year, month, day, hour, minute, second):
        """Set the RTC (UTC) from GNSS time: tasking validity needs the date."""
        self.rtc.datetime((year, month, day, 0, hour, minute, second, 0))

    def utc_s(self):
        """The RTC as Unix seconds (UTC; the ports' own epochs differ, this one is 1970)."""
        t = self.rtc.datetime()
        return time.mktime((t[0], t[1], t[2], t[4], t[5], t[6], 0, 0)) + _EPOCH_OFFSET_S

    def watchdog(self):
        return machine.WDT(timeout=WATCHDOG_MS)

    def reset_cause_watchdog(self):
        return machine.reset_cause() == machine.WDT_RESET

    def device_id_hw(self):
        uid = machine.unique_id()
        return (uid[-4] << 24) | (uid[-3] << 16) | (uid[-2] << 8) | uid[-1]
