"""`rfhound ops`: the operations centre: archive every team's session, list live hunts."""

import logging
import os
import signal
import threading
import time

NAME = "ops"
HELP = "operations centre: subscribe to all field teams over MQTT, archive their sessions, list live hunts"


def add_arguments(parser):
    from host.ops.options import add_broker_arguments

    add_broker_arguments(parser, required=False)
    parser.add_argument("--archive", required=True, metavar="DIR",
                        help="directory of archived sessions (<DIR>/<team>/<session_id>.sqlite)")
    parser.add_argument("--client-id",
                        help="MQTT client id; the broker queues records for it while it is away "
                             "(default: a secret made at first start, kept in DIR/_centre/client-id)")
    parser.add_argument("--gaps", action="store_true",
                        help="print each archived session's missing record ids and exit (no broker); "
                             "exit status 1 if any session has a gap")
    parser.add_argument("--headless", action="store_true",
                        help="no window: print the hunt list to stdout every --every seconds")
    parser.add_argument("--connect-timeout", type=float, default=15.0, metavar="S",
                        help="give up if the broker does not accept us within S seconds (default 15)")
    parser.add_argument("--every", type=float, default=10.0, metavar="S",
                        help="headless status interval in seconds (default 10)")
    from host.commands.console import add_city_arguments

    add_city_arguments(parser, images=False)


def _print_board(board):
    from host.ops.hunts import answer_text

    now = time.time()
    for row in board.rows(now):
        fix = "-" if row["last_fix"] is None else "%.6f,%.6f" % row["last_fix"][:2]
        print("%-12s %-36s %-14s %-6s records=%-6d missing=%-4d fix=%s link_age=%.0fs%s  "
              "targets: %s  answer: %s" % (
                  row["team"], row["session_id"], row["area"] or "-", row["state"],
                  row["records"], row["missing"], fix, row["link_age_s"],
                  "  DUPLICATE" if row["duplicate"] else "", row["targets"] or "-",
                  answer_text(row["answer"])),
              flush=True)


def _print_gaps(archive_dir):
    from host.errors import UserError
    from host.ops.archive import gap_report
    from host.session import SessionError

    try:
        report = gap_report(archive_dir)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    for row in report:
        ranges = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in row["gaps"][:20])
        more = f" (+{len(row['gaps']) - 20} more ranges)" if len(row["gaps"]) > 20 else ""
        missing = sum(hi - lo + 1 for lo, hi in row["gaps"])
        print(f"{row['team']:<12} {row['session_id']:<36} records={row['records']:<7} "
              f"max_id={row['max_id']:<7} missing={missing}" + (f": {ranges}{more}" if missing else ""))
    return 1 if any(row["gaps"] for row in report) else 0


def _run_headless(centre, every_s):
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    reported = set()
    while not stop.wait(every_s):
        if centre.fatal:
            break
        _print_board(centre.board)
        for (kind, value), hunts in centre.board.duplicates().items():
            if (kind, value) not in reported:
                reported.add((kind, value))
                logging.getLogger("rfhound.ops").warning(
                    "target %s %s appears in %d hunts: %s", kind, value, len(hunts),
                    ", ".join(f"{team}/{sid}" for team, sid in hunts))


def _run_window(centre, city):
    from PyQt5 import QtCore, QtWidgets

    from host.ops.widget import OpsWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    window = OpsWindow(centre.board, centre.archive.path_for, buildings=city["buildings_file"],
                       background=city["background"])
    window.show()
    signal.signal(signal.SIGTERM, lambda *_: app.quit())

    def check_failed():
        if centre.fatal:
            QtWidgets.QMessageBox.critical(window, "rfhound ops", centre.fatal)
            app.quit()

    # The timer also hands control back to Python every second, which is when the
    # SIGTERM handler above gets to run while Qt's event loop is in charge.
    watchdog = QtCore.QTimer(window)
    watchdog.timeout.connect(check_failed)
    watchdog.start(1000)
    app.exec_()


def run(args):
    from host.errors import UserError
    from host.ops.centre import OpsCentre
    from host.ops.options import config_from_args

    logging.basicConfig(level=logging.INFO, format="rfhound ops: %(levelname)s: %(message)s")
    if args.gaps:
        if not os.path.isdir(args.archive):
            raise UserError(f"--archive {args.archive}: no such directory; give the centre's archive")
        return _print_gaps(args.archive)
    if not args.broker:
        raise UserError("--broker URL is required (except with --gaps)")
    config = config_from_args(args)
    if not args.headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                  or os.environ.get("QT_QPA_PLATFORM")):
        raise UserError("no display for the ops window: run it on a desktop session, or add --headless")
    for name in ("every", "connect_timeout"):
        if not getattr(args, name) > 0:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name):g}: give a number of seconds above 0")
    from host.app.tiles import is_tile_source
    from host.commands.console import read_city_arguments

    if args.map and not is_tile_source(args.map):
        raise UserError(f"--map {args.map}: the operations map takes tiles (an .mbtiles file or "
                        f"an XYZ tile folder)")
    city = read_city_arguments(args)
    try:
        centre = OpsCentre(config, args.archive, client_id=args.client_id)
    except OSError as exc:
        raise UserError(f"--archive {args.archive}: cannot use it as the archive directory "
                        f"({exc.strerror or exc}); give a writable directory") from None
    centre.start(timeout_s=args.connect_timeout)
    try:
        if args.headless:
            _run_headless(centre, args.every)
        else:
            _run_window(centre, city)
    finally:
        centre.stop()
    if centre.fatal:
        raise UserError(centre.fatal)
    s = centre.stats
    logging.getLogger("rfhound.ops").info(
        "stopped: %d received, %d stored, %d duplicates, %d malformed (kept in %s), %d receipts sent",
        s["received"], s["stored"], s["duplicates"], s["malformed"], centre.dead_letters.path, s["receipts"])
    return 0
