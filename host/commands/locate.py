"""rfhound locate: where each target (and each rack of targets) is, from a measurement CSV."""

import json
import sys

from host.errors import UserError

NAME = "locate"
HELP = "estimate each target's position, floor and 95-percent ellipse from a measurement CSV"


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE.csv", help="measurement CSV (docs/formats.md)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--position-sigma-m", type=float, default=None, metavar="M",
                        help="standard deviation (m, per axis) of the readings' positions, as the "
                             "GNSS receiver states it; added to every ellipse (default: none, "
                             "positions taken as exact)")
    parser.add_argument("--footprints", metavar="FILE.geojson", default=None,
                        help="building footprints (GeoJSON Polygon/MultiPolygon, outer rings): "
                             "the rack is in one of them, and each answer names its building. "
                             "Coordinates are [lon, lat] (RFC 7946) when the CSV has "
                             "lat_deg/lon_deg, else [x_m, y_m] in the CSV's local metres "
                             "(non-standard GeoJSON)")
    parser.add_argument("--noise-floor-dbm", type=float, default=None,
                        help="the receiver's noise floor: empty-rssi rows were below it, and "
                             "readings within 3 dB of it count only as 'weak' (default: "
                             "estimated per target from the pile of readings at its bottom)")
    parser.add_argument("--freq-hz", type=float, default=None,
                        help="frequency for multi-frequency antenna patterns of rotation scans "
                             "(default: the middle of the pattern's table)")


#: Buildings listed under "buildings" hold at least this much posterior mass.
BUILDING_MIN_PROB = 0.01


def _report(ans, to_output):
    out = to_output(ans.x_m, ans.y_m)
    out.update({
        "floor": ans.floor,
        "floor_known": ans.floor_known,
        "floor_prob": {str(k): round(v, 3) for k, v in ans.floor_prob.items()},
        "ellipse": {k: round(v, 2) for k, v in ans.ellipse.items()},
        "cep50_m": round(ans.cep50_m, 2),
        "n_used": int(ans.n_used),
        "n_censored": int(ans.n_censored),
    })
    if ans.building is not None:
        out["building"] = {"id": ans.building, "prob": round(ans.building_prob, 3)}
        out["buildings"] = [{"id": name, "prob": round(p, 3)} for name, p in ans.buildings
                            if p >= BUILDING_MIN_PROB]
    return out


def _pattern_for(data, rows, freq_hz):
    """The antenna pattern of a target's directional rows (None when it has none)."""
    import numpy as np

    from dsp.antenna import load_pattern
    directional = rows[np.isfinite(data["heading_deg"][rows])] if "heading_deg" in data else rows[:0]
    if not len(directional):
        return None, None
    antenna = data["antenna"][directional[0]] if "antenna" in data else ""
    try:
        pattern = load_pattern(antenna) if antenna else load_pattern()
    except (ValueError, OSError) as exc:
        raise UserError(f"line {data['line'][directional[0]]}: antenna pattern '{antenna}': {exc}") from None
    if freq_hz is None and len(pattern.freq_hz) > 1:
        freq_hz = float(pattern.freq_hz[len(pattern.freq_hz) // 2])
    return pattern, freq_hz


def _local_footprints(fp_path, csv_path, x, y, to_local, wgs84):
    """The footprints of ``fp_path`` as (N, 2) rings in the readings' local metres, and their
    building names; a UserError when none of them lies in the readings' area."""
    import numpy as np

    from dsp import locate
    from host.footprints_file import read_footprints
    names, rings = read_footprints(fp_path, wgs84=wgs84)
    if wgs84:
        rings = [np.column_stack(to_local(r[:, 1], r[:, 0])) for r in rings]
    # The area estimate_position searches by default; a footprint outside it can hold no mass.
    if not np.any(locate.footprint_owner(rings, locate.Grid.around(x, y))[1] >= 0):
        frame = ("[lon, lat] in degrees (RFC 7946), like the CSV's lat_deg/lon_deg" if wgs84 else
                 "[x_m, y_m] in the same local metres as the CSV's x_m/y_m")
        raise UserError(f"{fp_path}: none of the {len(rings)} footprints lies in the area of the "
                        f"readings in {csv_path}; the coordinates must be {frame}")
    return rings, names


def locate_file(path, *, noise_floor_dbm=None, freq_hz=None, footprints_path=None,
                position_sigma_m=None, warn=None):
    """The JSON-ready result of ``rfhound locate`` for one CSV file.

    Every target's answer, and every rack's (targets whose answers coincide),
    comes from `dsp.answer`: the same answer the console and the simulator
    show.  With ``footprints_path`` (GeoJSON, `host.footprints_file`) every
    answer is confined to the buildings and names the most probable one.
    """
    import numpy as np

    from dsp import answer, geo
    from host.meascsv import read_measurements
    warn = warn or (lambda text: None)
    if position_sigma_m is not None and not (np.isfinite(position_sigma_m) and position_sigma_m > 0):
        raise UserError(f"--position-sigma-m must be a positive number of metres, got {position_sigma_m}")
    data = read_measurements(path)
    n = len(data["line"])
    if n == 0:
        raise UserError(f"{path}: no measurements after the header")
    wgs84 = "lat_deg" in data
    if wgs84:
        lat0, lon0 = geo.origin_of(data["lat_deg"], data["lon_deg"])

        def to_local(lat, lon):
            e, nn, _ = geo.enu_from_lla(lat, lon, 0.0, lat0, lon0, 0.0)
            return e, nn

        x, y = to_local(data["lat_deg"], data["lon_deg"])

        def to_output(e, nn):
            lat, lon, _ = geo.lla_from_enu(e, nn, 0.0, lat0, lon0, 0.0)
            return {"lat_deg": round(float(lat), 7), "lon_deg": round(float(lon), 7)}
    else:
        x, y = data["x_m"], data["y_m"]
        to_local = None

        def to_output(e, nn):
            return {"x_m": round(float(e), 2), "y_m": round(float(nn), 2)}

    polys = building_names = None
    if footprints_path is not None:
        polys, building_names = _local_footprints(footprints_path, path, x, y, to_local, wgs84)
    usable = _usable_rows(data, warn)
    common = dict(noise_floor_dbm=noise_floor_dbm, footprints=polys, building_names=building_names,
                  position_sigma_m=position_sigma_m)
    labels = list(dict.fromkeys(data["target"][usable]))
    parts, results, located = {}, [], []
    for label in labels:
        mine = _calibrated_only(data, usable[data["target"][usable] == label], label, warn)
        pattern, f_hz = _pattern_for(data, mine, freq_hz)
        part = {"x_m": x[mine], "y_m": y[mine], "rssi_dbm": data["rssi_dbm"][mine],
                "time_s": data["time_s"][mine], "floor": data["floor"][mine] if "floor" in data else None,
                "heading_deg": data["heading_deg"][mine] if "heading_deg" in data else None,
                "saturated": _has_flag(data, mine, "FLAG_SATURATED")}
        try:
            ans = answer.locate_target(part["x_m"], part["y_m"], part["rssi_dbm"],
                                       time_s=part["time_s"], floor=part["floor"],
                                       heading_deg=part["heading_deg"], pattern=pattern,
                                       freq_hz=f_hz, saturated=part["saturated"], **common)
        except (ValueError, np.linalg.LinAlgError) as exc:
            warn(f"target {label} not located: {exc}")
            continue
        parts[label] = part
        results.append({"target": label, **_report(ans, to_output)})
        located.append((label, ans))

    if not located:
        raise UserError(f"{path}: no target has enough readings to locate (5 or more detections "
                        f"or 2 rotation scans per target; the reasons per target are above)")
    out_groups = []
    for member in answer.coincident([a for _, a in located]):
        names = [located[i][0] for i in member]
        try:
            ans = answer.locate_rack([parts[name] for name in names], **common)
        except (ValueError, np.linalg.LinAlgError) as exc:
            warn(f"group {', '.join(names)} not estimated jointly: {exc}")
            continue
        out_groups.append({"targets": names, **_report(ans, to_output)})
    return {"targets": results, "groups": out_groups}


def _has_flag(data, rows, name):
    """Whether each of ``rows`` carries the flag ``host.meascsv.<name>`` (all False without flags)."""
    import numpy as np

    from host import meascsv
    flags = data.get("flags")
    if flags is None:
        return np.zeros(len(rows), dtype=bool)
    return (np.asarray(flags, dtype=np.int64)[rows] & getattr(meascsv, name)) != 0


def _calibrated_only(data, rows, label, warn):
    """A target's rows, less its uncalibrated ones when it has calibrated ones too: the two
    are on different scales, and a calibrated answer must not mix them."""
    uncal = _has_flag(data, rows, "FLAG_UNCALIBRATED")
    if uncal.any() and not uncal.all():
        warn(f"target {label}: {int(uncal.sum())} uncalibrated readings left out "
             f"(the target has calibrated ones)")
        return rows[~uncal]
    return rows


def _usable_rows(data, warn):
    """Rows the locator may use: all, less those flagged as radio faults or stale positions."""
    import numpy as np

    rows = np.arange(len(data["line"]))
    flags = data.get("flags")
    if flags is None:
        return rows
    from host.meascsv import FLAGS_LEAVE_OUT
    bad = (np.asarray(flags, dtype=np.int64) & FLAGS_LEAVE_OUT) != 0
    if bad.any():
        warn(f"{int(bad.sum())} readings flagged as radio faults or stale positions left out")
    return rows[~bad]


def _table(result):
    first = (result["targets"] or [{}])[0]
    pos = ("lat_deg", "lon_deg") if "lat_deg" in first else ("x_m", "y_m")
    head = ["target", *pos, "floor", "semi_major_m", "semi_minor_m", "orient_deg", "cep50_m",
            "n_used"]
    with_buildings = "building" in first
    if with_buildings:
        head.insert(len(pos) + 1, "building")
    lines = []
    for kind, rows in (("target", result["targets"]), ("group", result["groups"])):
        for r in rows:
            name = r["target"] if kind == "target" else "+".join(r["targets"])
            e = r["ellipse"]
            line = [name, *(str(r[p]) for p in pos), _floor_text(r),
                    f"{e['semi_major_m']:.1f}", f"{e['semi_minor_m']:.1f}",
                    f"{e['orientation_deg']:.0f}", f"{r['cep50_m']:.1f}", str(r["n_used"])]
            if with_buildings:
                line.insert(len(pos) + 1, f"{r['building']['id']} {r['building']['prob']:.2f}")
            lines.append(line)
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*l) for l in lines])


def _floor_text(r):
    if r["floor"] is None:
        return "unknown"
    return f"{r['floor']} ({r['floor_prob'][str(r['floor'])]:.0%})"


def run(args):
    def warn(text):
        print(f"rfhound locate: {text}", file=sys.stderr)
    result = locate_file(args.file, noise_floor_dbm=args.noise_floor_dbm, freq_hz=args.freq_hz,
                         footprints_path=args.footprints, position_sigma_m=args.position_sigma_m,
                         warn=warn)
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0
