"""rfhound export: a recorded session to the measurement CSV."""

from host.errors import UserError

NAME = "export"
HELP = "write a recorded session's measurements as the measurement CSV (docs/formats.md)"


def add_arguments(parser):
    parser.add_argument("session", help="session file (.sqlite) recorded by rfhound")
    parser.add_argument("--csv", required=True, metavar="OUT", help="CSV file to write")


def has_position(m):
    """False for a reading taken before the handheld's first GNSS fix.

    The handheld sends 0,0 flagged stale until it has a fix; a hunt is never at 0 N 0 E.
    """
    if m.get("lat_deg") is None or m.get("lon_deg") is None:
        return False
    return not (m.get("position_stale") and m["lat_deg"] == 0 and m["lon_deg"] == 0)


def session_rows(reader):
    """Measurement CSV rows (dicts) of a session, in recording order."""
    rows = []
    for m in reader.measurements():
        if m.get("bench") or not has_position(m):
            continue
        rows.append({
            "time_s": round(m["rx_time_s"], 3) if m.get("rx_time_s") is not None
            else m["device_time_ms"] / 1000.0,
            "target": m["target_label"],
            "rssi_dbm": m["rssi_dbm"],
            "lat_deg": m["lat_deg"], "lon_deg": m["lon_deg"], "alt_m": m["alt_m"],
            "floor": m["floor"], "heading_deg": m["heading_deg"],
        })
    return rows


def run(args):
    from host.session import SessionError, SessionReader
    try:
        with SessionReader(args.session) as reader:
            rows = session_rows(reader)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    from host.meascsv import write_measurements
    try:
        write_measurements(args.csv, rows)
    except OSError as exc:
        raise UserError("%s: cannot write (%s)" % (args.csv, exc.strerror)) from None
    print("wrote %d measurements to %s" % (len(rows), args.csv))
    return 0
