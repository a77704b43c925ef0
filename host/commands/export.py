"""rfhound export: a recorded session to the measurement CSV, KML, GeoJSON and a report.

The CSV is streamed from the session's indexed measurements table: memory stays
bounded however long the session (docs/session.md).
"""

import os
import sys

from host.errors import UserError

NAME = "export"
HELP = "write a recorded session as measurement CSV, KML, GeoJSON or a PDF/PNG report"


def add_arguments(parser):
    parser.add_argument("session", help="session file (.sqlite) recorded by rfhound")
    parser.add_argument("--csv", metavar="OUT.csv", help="measurement CSV to write")
    parser.add_argument("--kml", metavar="OUT.kml",
                        help="KML for Google Earth: timed track coloured by power, estimate, "
                             "95 %% ellipse, building and floor")
    parser.add_argument("--geojson", metavar="OUT.geojson",
                        help="GeoJSON (RFC 7946) of the tracks, estimates and ellipses")
    parser.add_argument("--report", metavar="OUT.pdf|OUT.png",
                        help="one-page A4 report: map, table, floor probabilities")
    parser.add_argument("--footprints", metavar="FILE.geojson", default=None,
                        help="building footprints (GeoJSON, [lon, lat]): the estimate names "
                             "its building")


def run(args):
    from host.app import export
    from host.session import SessionError, SessionReader

    outputs = [(kind, getattr(args, kind)) for kind in ("csv", "kml", "geojson", "report")
               if getattr(args, kind)]
    if not outputs:
        raise UserError("give at least one of --csv, --kml, --geojson, --report")
    for kind, path in outputs:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UserError(f"--{kind} {path}: folder {folder} does not exist")
    if args.report and os.path.splitext(args.report)[1].lower() not in (".pdf", ".png"):
        raise UserError(f"--report {args.report}: name a .pdf or .png file")
    try:
        with SessionReader(args.session) as reader:
            if reader.missing:
                print(f"rfhound export: warning: {reader.missing}", file=sys.stderr)
            if args.csv:
                try:
                    counts = export.write_session_csv(reader, args.csv)
                except OSError as exc:
                    raise UserError(f"{args.csv}: cannot write ({exc.strerror})") from None
                print(f"wrote {counts.written} measurements to {args.csv}")
                for line in counts.notes():
                    print(f"  {line}")
            if args.kml or args.geojson or args.report:
                _hunt_exports(reader, args)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    return 0


def _hunt_exports(reader, args):
    from host.app import export

    footprints = None
    if args.footprints:
        from host.footprints_file import read_footprints

        found = read_footprints(args.footprints, wgs84=True)
        footprints = (found.names, found.rings)
    data = export.from_session(reader, footprints=footprints)
    try:
        if args.kml:
            export.write_kml(data, args.kml)
            print(f"wrote {args.kml}")
        if args.geojson:
            export.write_geojson(data, args.geojson)
            print(f"wrote {args.geojson}")
        if args.report:
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            os.environ.setdefault("QT_LOGGING_RULES", "*.debug=false;*.info=false;*.warning=false")
            from host.app.report import write_report

            write_report(data, args.report)
            print(f"wrote {args.report}")
    except export.ExportError as exc:
        raise UserError(f"{reader.path}: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot write the export ({exc.strerror or exc})") from None
    for line in data.notes():
        print(f"  {line}")
