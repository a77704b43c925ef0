"""rfhound record: record a handheld's serial stream to a session file."""

import os
import signal
import threading
import time

from host.errors import UserError

NAME = "record"
HELP = "record everything a handheld sends on a serial port to a session file"


def add_arguments(parser):
    parser.add_argument("port", help="serial port or pyserial URL (e.g. /dev/ttyACM0)")
    parser.add_argument("--out", required=True, help="new session file (.sqlite)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: until Ctrl-C)")


def run(args):
    from host.recorder import Recorder
    from host.session import SessionError
    if os.path.exists(args.out):
        raise UserError("%s: already exists; choose a new file name" % args.out)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        rec = Recorder(args.port, args.out).start()
    except SessionError as exc:
        raise UserError(str(exc)) from None
    t0 = time.monotonic()
    try:
        while not stop.wait(1.0):
            s = rec.link.stats()
            print("\r%s  frames %d  crc errors %d  lost %d   " % (
                "connected" if s["connected"] else "waiting for %s" % args.port,
                s["frames"], s["crc_errors"], s["lost_frames"]), end="", flush=True)
            if args.seconds is not None and time.monotonic() - t0 >= args.seconds:
                break
    except KeyboardInterrupt:
        pass
    finally:
        rec.stop()
    print("\nrecorded to %s" % args.out)
    return 0
