"""Cost of long sessions: `rfhound export` of 10^4-10^6 records, time and peak memory.

For each size a session of N MEAS records (one walk, two SIMs, records shaped as the
link makes them) is written with the real ``SessionWriter``; then, each in its own
child process so that its peak resident memory (``ru_maxrss`` from ``os.wait4``) is its
own, in the same run:

- ``export``: ``python -m host.cli export SESSION --csv OUT`` (streams the measurements
  table; flags column included);
- ``sqlite3 ref``: the standard library alone reading the same session's measurements
  table and writing the same number of CSV rows with the ``csv`` module: the floor
  any exporter in Python pays;
- ``dicts (old)``: what export did before, every record's JSON parsed into a dict and
  kept (``SessionReader.measurements()``); up to ``--old-max`` records only, it grows
  without bound;
- ``python``: the bare interpreter with rfhound's imports, for scale.

Optionally, for the sessions up to N records: ``--replay N`` times ``rfhound replay
SESSION --screenshot``, ``--hunt-exports N`` times ``rfhound export SESSION --kml --geojson
--report`` (both estimate the hunt, which costs what the locator costs).

Target (issue 19): export of a million records in under 200 MB.

Usage: ``python bench/scale_sessions.py [--sizes 10000,100000,1000000] [--old-max 100000]
[--replay 10000] [--hunt-exports 10000]``
"""

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REFERENCE = r"""
import csv, sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
n = 0
with open(sys.argv[2], "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["record_id", "target", "rx_time_s", "rssi_dbm", "lat_deg", "lon_deg", "alt_m",
                "floor", "heading_deg", "flags"])
    for row in con.execute("SELECT record_id, target, rx_time_s, rssi_dbm, lat_deg, lon_deg, "
                           "alt_m, floor, heading_deg, flags FROM measurements ORDER BY record_id"):
        w.writerow(row)
        n += 1
print(n)
"""

OLD_DICTS = r"""
import sys
from host.session import SessionReader
with SessionReader(sys.argv[1]) as r:
    rows = r.measurements()
print(len(rows))
"""

BARE = "import host.cli, host.app.export, host.session, numpy; print(0)"


def meas_record(i, rng, t0):
    """One MEAS record shaped like host.records output: a walk along a street, two SIMs."""
    along_m = 0.05 * i
    lat = 52.52 + (along_m % 400.0) * 9e-6
    lon = 13.405 + (along_m // 400.0) * 1.5e-5
    d_m = math.hypot((along_m % 400.0) - 200.0, 30.0)
    rssi = -40.0 - 30.0 * math.log10(d_m) + rng.gauss(0, 6)
    flags = 0x10 if rng.random() < 0.001 else 0
    return {"kind": "MEAS", "seq": i & 0xFFFF, "device_time_ms": 5 * i, "rx_time_s": t0 + 0.005 * i,
            "target": i % 2, "flags": flags, "rssi_dbm": round(rssi, 2), "raw_rssi": 1200,
            "gain_db": 30, "heading_deg": None, "floor": 0, "dwell_ms": 5, "not_detected": False,
            "position_stale": False, "saturated": bool(flags), "radio_fault": False,
            "uncalibrated": False, "bench": False, "lat_deg": round(lat, 7), "lon_deg": round(lon, 7),
            "alt_m": 34.5}


def make_session(path, n):
    from host.session import SessionWriter

    rng = random.Random(n)
    tasking = {"targets": [{"label": "sim-A", "imsi": "460001234567812", "group": "box 1"},
                           {"label": "sim-B", "imsi": "460001234567899", "group": "box 1"}]}
    t0 = time.monotonic()
    w = SessionWriter(str(path), tasking=tasking, commit_interval_s=0.25)
    start_s = 1.7e9
    for i in range(n):
        w.record(meas_record(i, rng, start_s))
    w.close()
    return time.monotonic() - t0


def child(argv, timeout_s=3600):
    """Run a child process; return (seconds, peak RSS in MB, exit status, stdout tail)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.monotonic() - t0
    out = proc.stdout.read().decode(errors="replace")
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1][:100]
    return took, usage.ru_maxrss / 1024.0, proc.returncode, tail


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--old-max", type=int, default=100000,
                        help="largest session read the old way (dicts of every record)")
    parser.add_argument("--replay", type=int, default=0, metavar="N",
                        help="also time 'replay --screenshot' for the sessions up to N records")
    parser.add_argument("--hunt-exports", type=int, default=0, metavar="N",
                        help="also time 'export --kml --geojson --report' up to N records")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    py = sys.executable
    print(f"# rfhound session scale bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    bare = child([py, "-c", BARE])
    print(f"python + rfhound imports: {bare[1]:.0f} MB peak RSS")
    print(f"{'records':>9} {'what':<14} {'seconds':>8} {'peak MB':>8} {'x time':>7} "
          f"{'x MB':>6}  note")
    with tempfile.TemporaryDirectory(prefix="rfhound-scale-") as tmp:
        for n in sizes:
            session = Path(tmp) / f"s{n}.sqlite"
            made_s = make_session(session, n)
            size_mb = session.stat().st_size / 1e6
            ref = child([py, "-c", REFERENCE, str(session), str(Path(tmp) / "ref.csv")])
            rows = [("sqlite3 ref", ref)]
            exp = child([py, "-m", "host.cli", "export", str(session), "--csv",
                         str(Path(tmp) / "out.csv")])
            rows.append(("export --csv", exp))
            if n <= args.old_max:
                rows.append(("dicts (old)", child([py, "-c", OLD_DICTS, str(session)])))
            if n <= args.hunt_exports:
                rows.append(("kml+gj+report", child(
                    [py, "-m", "host.cli", "export", str(session), "--kml", str(Path(tmp) / "h.kml"),
                     "--geojson", str(Path(tmp) / "h.geojson"), "--report",
                     str(Path(tmp) / "r.png")])))
            if n <= args.replay:
                rows.append(("replay --shot", child(
                    [py, "-m", "host.cli", "replay", str(session), "--screenshot",
                     str(Path(tmp) / "shot.png"), "--size", "1000x700"])))
            for what, (secs, mb, code, tail) in rows:
                note = "" if code == 0 else f"exit {code}: {tail}"
                if what == "export --csv":
                    note = note or f"target < 200 MB: {'met' if mb < 200 else 'MISSED'}"
                print(f"{n:>9} {what:<14} {secs:>8.2f} {mb:>8.0f} {secs / ref[0]:>7.2f} "
                      f"{mb / ref[1]:>6.2f}  {note}")
            print(f"{n:>9} (session file {size_mb:.0f} MB, written in {made_s:.1f} s)")
            os.unlink(session)


if __name__ == "__main__":
    main()
